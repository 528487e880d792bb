"""The Dagster code location: wiring only."""

from dagster import Definitions

from pipelines.resources import MarginsSettings, dbt_resource, ensure_manifest

ensure_manifest()

from pipelines.assets.sources import source_assets  # noqa: E402
from pipelines.assets.warehouse import published_warehouse, warehouse_models  # noqa: E402
from pipelines.jobs import daily_refresh_job, daily_refresh_schedule  # noqa: E402

defs = Definitions(
    assets=[*source_assets, warehouse_models, published_warehouse],
    jobs=[daily_refresh_job],
    schedules=[daily_refresh_schedule],
    resources={"settings": MarginsSettings.from_env(), "dbt": dbt_resource()},
)
