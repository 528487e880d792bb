"""The daily refresh job and its schedule (06:00 UTC). `margins refresh` runs the same job."""

import os

from dagster import AssetSelection, ScheduleDefinition, define_asset_job

from pipelines.assets.backfill import backfill_assets
from pipelines.assets.constants import ALL_GROUPS
from pipelines.assets.lake import published_ducklake

REFRESH_JOB_NAME = "daily_refresh"


def refresh_job_selection(lake_configured: bool) -> AssetSelection:
    """Everything but the backfill assets (a partitioned asset would make the whole job partitioned), and the
    DuckLake publish only where a lake is configured."""
    selection = AssetSelection.groups(*ALL_GROUPS) - AssetSelection.assets(*backfill_assets)
    return selection if lake_configured else selection - AssetSelection.assets(published_ducklake)


daily_refresh_job = define_asset_job(
    REFRESH_JOB_NAME,
    selection=refresh_job_selection(bool(os.environ.get("MARGINS_LAKE_CATALOG", "").strip())),
    description="Fetch every source, land, parse, validate, dbt build, publish (and the DuckLake, when "
                "MARGINS_LAKE_CATALOG is set), report.",
)

daily_refresh_schedule = ScheduleDefinition(
    name="daily_refresh_0600_utc",
    job=daily_refresh_job,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
)
