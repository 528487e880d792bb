"""Daily-partitioned backfill assets, one per git-backed source, beside the live source assets.

A partition is a UTC day: it lands the file version in force at the end of that day (the day's last
commit, else the newest one before it), dated by its commit time, into the same raw observation tables as
the live asset. Launching a range from the Dagster UI runs it as one run (single-run backfill policy), so
the commit listing is paginated once per file rather than once per day. The dbt models pick the new
snapshots up on the next refresh.
"""

import warnings
from datetime import timedelta

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    BackfillPolicy,
    BetaWarning,
    DailyPartitionsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from pipelines.assets.constants import OWNERS, SOURCES_GROUP, backfill_asset_key
from pipelines.backfill import GIT_SOURCES, BackfillReport, backfill_days
from pipelines.resources import MarginsSettings

# Partitions before a file existed land nothing; these start dates only bound the UI's partition list.
START_DATES = {"litellm": "2023-06-01", "skypilot": "2024-01-01"}


def build_backfill_asset(source_id: str) -> AssetsDefinition:
    git = GIT_SOURCES[source_id]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BetaWarning)    # backfill_policy is beta in Dagster 1.13
        return _define_backfill_asset(source_id, git.repo)


def _define_backfill_asset(source_id: str, repo: str) -> AssetsDefinition:
    @asset(
        key=backfill_asset_key(source_id),
        group_name=SOURCES_GROUP,
        partitions_def=DailyPartitionsDefinition(start_date=START_DATES[source_id]),
        backfill_policy=BackfillPolicy.single_run(),
        description=(f"History of {source_id} from the git history of {repo}: each daily partition lands "
                     f"the file version in force that day (dated by its commit) into the same raw tables as "
                     f"sources/{source_id}. GITHUB_TOKEN (optional) raises GitHub's rate limit."),
        kinds={"python", "duckdb", "github"},
        owners=OWNERS,
        code_version="1",
        pool="duckdb",
    )
    def _backfill_asset(context: AssetExecutionContext, settings: MarginsSettings) -> MaterializeResult:
        config = settings.settings()
        if config.offline:
            raise Failure(f"{source_id} backfill: offline (MARGINS_OFFLINE=1); a backfill needs the network")
        window = context.partition_time_window
        first_day, last_day = window.start.date(), (window.end - timedelta(days=1)).date()
        report = backfill_days(source_id, config, first_day, last_day, run_id=context.run.run_id)
        if report.error:
            raise Failure(description=report.error, metadata=report_metadata(report))
        return MaterializeResult(metadata=report_metadata(report))

    return _backfill_asset


def report_metadata(report: BackfillReport) -> dict:
    return {
        "commits": len(report.commits),
        "landed": report.landed,
        "new_payloads": sum(1 for commit in report.commits if commit.status == "new"),
        "bundled_loaded": report.bundled_loaded,
        "commit_table": MetadataValue.md(_commit_table(report)),
    }


def _commit_table(report: BackfillReport) -> str:
    lines = ["| file | committed at (UTC) | commit | status | rows |", "|---|---|---|---|---|"]
    lines += [f"| {c.payload_name} | {c.committed_at:%Y-%m-%d %H:%M} | {c.sha[:12]} | {c.status} | {c.rows} |"
              for c in report.commits]
    return "\n".join(lines) if report.commits else "no commit in force in this window"


backfill_assets = [build_backfill_asset(source_id) for source_id in GIT_SOURCES]
