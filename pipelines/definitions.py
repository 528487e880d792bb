"""The Dagster code location: wiring only (the dbt manifest is prepared beforehand: see pipelines.dbt_resource)."""

from dagster import Definitions, colored_console_logger

from pipelines.dbt_resource import dbt_resource, require_manifest
from pipelines.resources import MarginsSettings

require_manifest()  # a clear error, not a traceback from inside dagster-dbt, when `make manifest` was not run

from pipelines.assets.backfill import backfill_assets  # noqa: E402
from pipelines.assets.lake import published_ducklake  # noqa: E402
from pipelines.assets.report import html_report  # noqa: E402
from pipelines.assets.sources import source_assets  # noqa: E402
from pipelines.assets.warehouse import published_warehouse, warehouse_models  # noqa: E402
from pipelines.jobs import daily_refresh_job, daily_refresh_schedule, sources_refresh_job  # noqa: E402
from pipelines.progress import progress_logger  # noqa: E402

defs = Definitions(
    assets=[*source_assets, *backfill_assets, warehouse_models, published_warehouse, published_ducklake,
            html_report],
    jobs=[daily_refresh_job, sources_refresh_job],
    schedules=[daily_refresh_schedule],
    resources={"settings": MarginsSettings.from_env(), "dbt": dbt_resource()},
    loggers={"console": colored_console_logger, "progress": progress_logger},
)
