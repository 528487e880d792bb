"""The daily refresh job and its schedule (06:00 UTC). `margins refresh` runs the same job."""

from dagster import AssetSelection, ScheduleDefinition, define_asset_job

from pipelines.assets.backfill import backfill_assets

REFRESH_JOB_NAME = "daily_refresh"

daily_refresh_job = define_asset_job(
    REFRESH_JOB_NAME,
    # backfill assets are launched on their own: a partitioned asset would make the whole job partitioned
    selection=AssetSelection.groups("sources", "reference", "staging", "intermediate", "marts", "publish", "reports")
    - AssetSelection.assets(*backfill_assets),
    description="Fetch every source, land, parse, validate, dbt build, publish, report.",
)

daily_refresh_schedule = ScheduleDefinition(
    name="daily_refresh_0600_utc",
    job=daily_refresh_job,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
)
