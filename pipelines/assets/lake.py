"""The DuckLake publish as a Dagster asset: after the DuckDB publish, in the daily job when a lake is configured."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from pipelines import lake
from pipelines.assets.constants import LAKE_KEY, OWNERS, PUBLISH_GROUP, PUBLISHED_KEY
from pipelines.resources import MarginsSettings


@asset(
    key=LAKE_KEY,
    deps=[PUBLISHED_KEY],
    group_name=PUBLISH_GROUP,
    kinds={"duckdb", "parquet", "s3"},
    owners=OWNERS,
    description="Every mart of the published warehouse as one DuckLake snapshot (catalog MARGINS_LAKE_CATALOG, "
                "Parquet under MARGINS_LAKE_DATA_PATH), read-only for analysts anywhere (`margins sql --lake`).",
    pool="ducklake",
)
def published_ducklake(context: AssetExecutionContext, settings: MarginsSettings) -> MaterializeResult:
    config = lake.require_config()
    result = lake.publish(settings.settings().published_db, config, progress=context.log.info)
    tables = "\n".join(f"| {table} | {rows:,} |" for table, rows in result.tables)
    return MaterializeResult(metadata={
        "catalog": config.label,
        "data_path": config.data_path or "(stored in the catalog)",
        "snapshot_id": result.snapshot_id,
        "bytes_written": result.bytes_written,
        "files_written": result.files_written,
        "seconds": round(result.seconds, 2),
        "table_row_counts": MetadataValue.md("| table | rows |\n|---|---|\n" + tables),
    })
