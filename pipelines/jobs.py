"""The daily refresh job and its schedule (06:00 UTC), and the sources' part of it that `margins refresh` runs first.

`margins refresh` runs the sources job, then the daily job's other assets only when something is new
(pipelines.runs); the schedule runs the daily job whole, and its dbt step skips itself when nothing is new.
"""

import os

from dagster import AssetSelection, ScheduleDefinition, define_asset_job

from pipelines.assets.backfill import backfill_assets
from pipelines.assets.constants import ALL_GROUPS
from pipelines.assets.lake import published_ducklake
from pipelines.assets.sources import source_assets

REFRESH_JOB_NAME = "daily_refresh"
SOURCES_JOB_NAME = "refresh_sources"


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

sources_refresh_job = define_asset_job(
    SOURCES_JOB_NAME,
    selection=AssetSelection.assets(*source_assets),
    description="Fetch (or take the bundled snapshots of) every source: land, parse, validate, load raw. The first "
                "of `margins refresh`'s runs; dbt and the publish follow only when something is new.",
)

daily_refresh_schedule = ScheduleDefinition(
    name="daily_refresh_0600_utc",
    job=daily_refresh_job,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
)
