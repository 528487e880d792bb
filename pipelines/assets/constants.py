"""Asset owners, groups and keys: one home for the names every asset module, the job and the CLI share."""

from dagster import AssetKey

OWNERS = ["team:data-platform"]

# groups: the sources, the dbt seeds (reference), the dbt layers (a dbt model's group is its schema), publish, reports
SOURCES_GROUP = "sources"
REFERENCE_GROUP = "reference"
DBT_LAYER_GROUPS = ("staging", "intermediate", "marts")
PUBLISH_GROUP = "publish"
REPORTS_GROUP = "reports"
ALL_GROUPS = (SOURCES_GROUP, REFERENCE_GROUP, *DBT_LAYER_GROUPS, PUBLISH_GROUP, REPORTS_GROUP)

# keys: a source's key is also the asset key of its dbt source (meta.dagster.asset_key in _sources.yml)
SOURCE_KEY_PREFIX = "sources"
PUBLISHED_KEY = AssetKey(["published", "margins_duckdb"])
LAKE_KEY = AssetKey(["published", "ducklake"])
REPORT_KEY = AssetKey(["reports", "html_report"])

# the tag of a run that `margins refresh` launched in its own process: the pid of that process
CLI_PID_TAG = "margins/cli_pid"


def source_asset_key(source_id: str) -> AssetKey:
    return AssetKey([SOURCE_KEY_PREFIX, source_id])


def backfill_asset_key(source_id: str) -> AssetKey:
    return AssetKey([SOURCE_KEY_PREFIX, f"{source_id}_backfill"])
