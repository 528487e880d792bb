"""One Dagster asset per source: fetch (or bundled) -> land -> parse -> validate -> raw tables.

Each asset reports three checks on itself: `batch_validation` (the great-expectations suite and row rules
on every new payload; a rejected batch fails it), `live_fetch` (whether this run got fresh data live;
a failed, skipped or offline fetch leaves the source stale) and `upstream_freshness` (a warning when the
upstream content has not changed for longer than the source's threshold, however well the fetch went). None
blocks the build: the warehouse is built from the newest good data of every source, and the staleness shows
here and in source_status.
"""

import os

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    DagsterRun,
    MaterializeResult,
    MetadataValue,
    asset,
)

from pipelines.assets.constants import CLI_PID_TAG, OWNERS, SOURCES_GROUP, source_asset_key
from pipelines.freshness import UpstreamFreshness, upstream_freshness
from pipelines.http import HttpClient
from pipelines.ingest import SourceOutcome, ingest_source
from pipelines.recovery import prepare_refresh
from pipelines.resources import MarginsSettings
from pipelines.settings import Settings
from pipelines.sources import SOURCES
from pipelines.sources.base import Source
from pipelines.warehouse import connect_working, writer_lock


def build_source_asset(source: Source) -> AssetsDefinition:
    key = source_asset_key(source.id)

    @asset(
        key=key,
        group_name=SOURCES_GROUP,
        description=source.description,
        kinds={"python", "duckdb", source.compute_kind},
        owners=OWNERS,
        code_version="1",
        pool="duckdb",
        check_specs=[
            AssetCheckSpec("batch_validation", asset=key,
                           description="great-expectations suite and row rules on each new payload"),
            AssetCheckSpec("live_fetch", asset=key,
                           description="fresh data was fetched live in this run (else the source is stale)"),
            AssetCheckSpec("upstream_freshness", asset=key,
                           description="the upstream content changed within the source's upstream_stale_after_days"),
        ],
    )
    def _source_asset(context: AssetExecutionContext, settings: MarginsSettings) -> MaterializeResult:
        config = settings.settings()
        for line in prepare_for_run(config, context.run):
            context.log.warning(line)
        http = HttpClient()
        try:
            outcome = ingest_source(source, config, http, context.run.run_id)
        finally:
            http.close()
        if outcome.message:
            context.log.warning(f"{source.id}: {outcome.status}: {outcome.message}")
        return MaterializeResult(
            metadata=outcome_metadata(outcome),
            check_results=[validation_check(outcome), live_fetch_check(outcome),
                           upstream_freshness_check(source, config, outcome.freshness)],
        )

    return _source_asset


# (data directory, run id) of the run this process prepared last: a run's steps in one process run one after another
_prepared_run: tuple[str, str] | None = None


def prepare_for_run(settings: Settings, run: DagsterRun) -> list[str]:
    """``prepare_refresh`` (sweep debris, recover the working database) once per run: a run launched from the UI or
    the schedule sets things right at its first source step. `margins refresh` did it before launching the run, in
    this process, and holds the writers' lock until the run ends; each step checking again cost ~80 ms (it reads every
    block of the raw tables)."""
    global _prepared_run
    if run.tags.get(CLI_PID_TAG) == str(os.getpid()):
        return []
    key = (str(settings.data_dir), run.run_id)
    if key == _prepared_run:
        return []
    with writer_lock(settings):
        lines = prepare_refresh(settings)
    _prepared_run = key
    return lines


def outcome_metadata(outcome: SourceOutcome) -> dict:
    return {
        "status": outcome.status,
        "message": outcome.message or "",
        "payloads": len(outcome.payloads),
        "new_rows": outcome.new_rows,
        "quarantined_rows": outcome.quarantined,
        "payload_table": MetadataValue.md(_payload_table(outcome)),
        "payload_lines": outcome.payload_lines(),
    }


def validation_check(outcome: SourceOutcome) -> AssetCheckResult:
    rejected = outcome.rejected
    return AssetCheckResult(
        check_name="batch_validation",
        passed=not rejected,
        severity=AssetCheckSeverity.ERROR,
        description="; ".join(p.error or "" for p in rejected) or "every new batch passed",
        metadata={
            "validated_payloads": sum(1 for p in outcome.payloads if p.suite is not None),
            "quarantined_rows": outcome.quarantined,
            "failures": MetadataValue.md(_failure_table(outcome)),
            "quarantined_sample": MetadataValue.md(_quarantine_table(outcome)),
        },
    )


def live_fetch_check(outcome: SourceOutcome) -> AssetCheckResult:
    return AssetCheckResult(
        check_name="live_fetch",
        passed=outcome.status == "ok",
        severity=AssetCheckSeverity.WARN,
        description=outcome.message or "fetched live",
        metadata={"status": outcome.status},
    )


def upstream_freshness_check(source: Source, settings: Settings,
                             freshness: UpstreamFreshness | None = None) -> AssetCheckResult:
    """``freshness`` as the source's step read it (pipelines.ingest); read here when the step did not get that far."""
    if freshness is None:
        with writer_lock(settings), connect_working(settings) as connection:
            freshness = upstream_freshness(connection, source.id, source.kind)
    metadata: dict = {"stale_after_days": freshness.stale_after_days}
    if freshness.changed_at is not None:
        metadata["upstream_changed_at"] = freshness.changed_at.isoformat()
        metadata["age_days"] = round(freshness.age_days, 1)
    return AssetCheckResult(
        check_name="upstream_freshness",
        passed=not freshness.is_stale,
        severity=AssetCheckSeverity.WARN,
        description=freshness.describe(),
        metadata=metadata,
    )


def _payload_table(outcome: SourceOutcome) -> str:
    lines = ["| payload | mode | status | new | rows | quarantined | sha256 |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {p.name} | {p.mode} | {p.status} | {p.is_new} | {p.rows} | {p.quarantined} | {p.sha256[:12]} |"
              for p in outcome.payloads]
    return "\n".join(lines)


def _failure_table(outcome: SourceOutcome) -> str:
    lines = ["| payload | expectation | column | observed |", "|---|---|---|---|"]
    for payload in outcome.payloads:
        if payload.suite is None:
            continue
        lines += [f"| {payload.name} | {f['expectation']} | {f.get('column') or ''} | {f['observed']} |"
                  for f in payload.suite.failures]
    return "\n".join(lines) if len(lines) > 2 else "no failures"


def _quarantine_table(outcome: SourceOutcome) -> str:
    lines = ["| payload | rule | reason | row |", "|---|---|---|---|"]
    for payload in outcome.payloads:
        lines += [f"| {payload.name} | {r.rule} | {_cell(r.reason)} | {_cell(str(r.row))} |"
                  for r in payload.reject_samples]
    return "\n".join(lines) if len(lines) > 2 else "no quarantined rows"


def _cell(text: str, limit: int = 160) -> str:
    return text.replace("|", "\\|").replace("\n", " ")[:limit]


source_assets = [build_source_asset(source) for source in SOURCES.values()]
