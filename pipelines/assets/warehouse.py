"""dbt seeds and models as Dagster assets (tests as asset checks), and publishing the readers' copy."""


import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import duckdb
from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetObservation,
    AssetsDefinition,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    asset,
)
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from pipelines import dbt_state
from pipelines.assets.constants import OWNERS, PUBLISH_GROUP, PUBLISHED_KEY, REFERENCE_GROUP
from pipelines.dbt_resource import dbt_project
from pipelines.resources import MarginsSettings
from pipelines.warehouse import publish, writer_lock


class MarginsDbtTranslator(DagsterDbtTranslator):
    """Keys are <schema>/<name> (raw/gpu_aliases, marts/fct_gpu_market_daily); groups follow the layer."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)
        return AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        schema = dbt_resource_props.get("schema")
        return REFERENCE_GROUP if dbt_resource_props["resource_type"] == "seed" else schema

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return OWNERS

    def get_asset_check_spec(self, asset_spec: AssetSpec, manifest: Mapping[str, Any], unique_id: str,
                             project: DbtProject | None) -> AssetCheckSpec | None:
        """Tests an incremental build leaves out (pipelines.dbt_state) must not block the publish when they do not
        run; a failing test still fails `dbt build`, and with it the step, so nothing is published."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is not None and dbt_state.left_out_of_incremental_builds(manifest["nodes"].get(unique_id, {})):
            return spec._replace(blocking=False)
        return spec


translator = MarginsDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=translator,
    pool="duckdb",
)
def warehouse_models(context: AssetExecutionContext, dbt: DbtCliResource, settings: MarginsSettings) -> Iterator:
    """`dbt build` of seeds, staging, intermediate and marts in the working database (unit tests run in
    `make test`, not in every refresh). Incremental marts rebuild only the days new snapshots touch, unless the
    dbt project or its seeds changed since the last full build (pipelines.dbt_state)."""
    config = settings.settings()
    os.environ["MARGINS_WORK_DB"] = str(config.working_db)
    # dbt's log file ($MARGINS_DATA_DIR/work/dbt_target/dbt.log, rotated by dbt at 10 MB, five kept) at info, not
    # debug: the debug file is ~5 MB of SQL text per build, and leaving it out saves about 6 % of dbt's CPU (py-spy).
    # The compiled SQL of the last build stays beside it (compiled/, run/).
    args = ["build", "--exclude-resource-type", "unit_test", "--log-level-file", "info"]
    with writer_lock(config):
        dbt_state.record_build_as_of(config)
        fingerprint = dbt_state.project_fingerprint()
        inputs = dbt_state.build_inputs(config, fingerprint)
        if not context.is_subset and dbt_state.is_published(config, inputs):
            # nothing yielded: the publish step (and the report) downstream are skipped too
            context.log.info(f"nothing new since the published build (as of {inputs['as_of']}): no dbt build")
            return
        if dbt_state.needs_full_refresh(config, fingerprint):
            context.log.info("dbt project, seeds, warehouse or an earlier as-of day than the last build's: "
                             "--full-refresh")
            args.append("--full-refresh")
        else:
            args += dbt_state.INCREMENTAL_BUILD_EXCLUDES
        context.log.info(f"building the warehouse as of {config.as_of.isoformat()}")
        yield from dbt.cli(args, context=context, target_path=config.dbt_target_dir).stream()
        if not context.is_subset:
            dbt_state.record_built(config, inputs)


def build_publish_asset(upstream: AssetsDefinition) -> AssetsDefinition:
    @asset(
        key=PUBLISHED_KEY,
        deps=built_every_time(upstream),
        group_name=PUBLISH_GROUP,
        kinds={"duckdb"},
        owners=OWNERS,
        description="Atomic copy of the working database to $MARGINS_DATA_DIR/margins.duckdb, the file readers "
                    "(margins sql, the report, the UI) open read-only.",
        pool="duckdb",
    )
    def published_warehouse(context: AssetExecutionContext, settings: MarginsSettings) -> MaterializeResult:
        config = settings.settings()
        with writer_lock(config):
            path = publish(config)
            dbt_state.record_published(config)
        counts = table_row_counts(path)
        for (schema, table), rows in counts.items():
            if AssetKey([schema, table]) in upstream.keys:
                context.log_event(AssetObservation(asset_key=AssetKey([schema, table]),
                                                   metadata={"dagster/row_count": rows}))
        marts = "\n".join(f"| {table} | {rows:,} |" for (schema, table), rows in counts.items() if schema == "marts")
        return MaterializeResult(metadata={
            "path": str(path),
            "bytes": path.stat().st_size,
            "mart_row_counts": MetadataValue.md("| mart | rows |\n|---|---|\n" + marts),
        })

    return published_warehouse


def built_every_time(upstream: AssetsDefinition) -> list[AssetKey]:
    """The dbt assets a publish waits for: all but the seeds, which an incremental build leaves out (unchanged since
    the last full build, pipelines.dbt_state); a step waiting on them would be skipped."""
    return [key for key in upstream.keys if upstream.group_names_by_key.get(key) != REFERENCE_GROUP]


def table_row_counts(database: Path) -> dict[tuple[str, str], int]:
    """Rows of every table the dbt project builds (seeds in raw, staging, intermediate, marts) in the published copy."""
    with duckdb.connect(str(database), read_only=True) as connection:
        tables = connection.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE' "
            "order by 1, 2").fetchall()
        return {(schema, table): connection.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
                for schema, table in tables}


published_warehouse = build_publish_asset(warehouse_models)
