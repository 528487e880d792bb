"""`margins`: the command line of the warehouse (refresh, sql, status, backfill, publish)."""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.lake import LakeError
from pipelines.recovery import dagster_instance_problem, prepare_refresh, process_alive
from pipelines.settings import AsOfError, Settings
from pipelines.warehouse import WarehouseLockedError, connect_published, describe_query_error, writer_lock

if TYPE_CHECKING:
    from dagster import AssetKey, Definitions

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
MAX_LINE = 220   # `margins status` and the refresh summary: longer cells are cut (full text: --format json)
CLI_PID_TAG = "margins/cli_pid"
MART_SCHEMA = "marts"
DAGSTER_YAML = """\
# Written by `margins`: runs of the CLI and of `make ui` share this instance.
concurrency:
  pools:
    default_limit: 1      # one writer of the DuckDB file at a time (assets use pool="duckdb")
  runs:
    max_concurrent_runs: 1
telemetry:
  enabled: false
nux:
  enabled: false          # no "Join the Dagster community" dialog over the UI
"""


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _parse_and_run(argv)
    finally:
        if argv is None:  # the `margins` command itself (callers in this process keep their helpers)
            _stop_helper_processes()


def _stop_helper_processes() -> None:
    """Leave no process behind: dbt's manifest creates a multiprocessing lock, which starts Python's resource
    tracker, a child that would otherwise outlive `margins` until it notices the exit. Release the lock as the
    interpreter would at exit, then stop the tracker and wait for it."""
    from multiprocessing import resource_tracker, util

    with contextlib.suppress(Exception):
        util._run_finalizers(0)
        resource_tracker._resource_tracker._stop()


def _parse_and_run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return _run_handler(args)
    except Exception as error:
        problem = dagster_instance_problem(error, os.environ.get("DAGSTER_HOME"))
        if problem is None:
            raise
        print(f"margins: {problem}", file=sys.stderr)
        return EXIT_FAILED


def _run_handler(args: argparse.Namespace) -> int:
    try:
        return args.handler(args)
    except WarehouseLockedError as error:
        print(f"margins: {error}", file=sys.stderr)
        return EXIT_FAILED
    except FileNotFoundError as error:
        print(f"margins: {error}", file=sys.stderr)
        return EXIT_FAILED
    except LakeError as error:
        print(f"margins: {error}", file=sys.stderr)
        return EXIT_FAILED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="margins",
        description="Inference Margins: a cost warehouse of GPU rental prices, API token prices and the "
                    "margins they imply. Data lives in $MARGINS_DATA_DIR (default ./warehouse).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    refresh = commands.add_parser(
        "refresh", help="fetch every source, land, parse, validate, dbt build, publish",
        description="One refresh: fetch each source (or use its bundled snapshots when offline or never "
                    "landed), land the payloads unchanged, parse and validate them, build the warehouse "
                    "with dbt and publish margins.duckdb. Failed sources are reported and marked stale.")
    refresh.add_argument("--offline", action="store_true",
                         help="no network: bundled snapshots only (same as MARGINS_OFFLINE=1)")
    refresh.add_argument("--sources", help="comma-separated source ids to fetch (default: all)")
    refresh.add_argument("--strict", action="store_true",
                         help="exit 1 if any attempted source failed, was rejected or held as suspect")
    refresh.add_argument("--as-of", metavar="YYYY-MM-DD",
                         help="build the warehouse as of this UTC day, ignoring later observations "
                              "(same as MARGINS_AS_OF; default: today in UTC)")
    refresh.add_argument("--report", action="store_true",
                         help="also write the HTML report (as `margins report` does) after publishing")
    refresh.set_defaults(handler=run_refresh)

    sql = commands.add_parser("sql", help="run a read-only SQL query against the published warehouse",
                              description="Query $MARGINS_DATA_DIR/margins.duckdb read-only.")
    sql.add_argument("query", help='e.g. "select * from marts.fct_gpu_market_daily limit 5"')
    sql.add_argument("--format", choices=("table", "csv", "json"), default="table")
    sql.add_argument("--lake", action="store_true",
                     help="query the DuckLake (MARGINS_LAKE_CATALOG) read-only instead of the local file")
    sql.set_defaults(handler=run_sql)

    publish = commands.add_parser(
        "publish", help="publish the warehouse's marts as a DuckLake snapshot",
        description="Write every mart of the published warehouse into the DuckLake named by MARGINS_LAKE_CATALOG "
                    "(Parquet under MARGINS_LAKE_DATA_PATH) as one snapshot: readers see the old or the new "
                    "warehouse, never half of it.")
    publish.add_argument("--to", required=True, choices=("ducklake",), help="the publish target")
    publish.set_defaults(handler=run_publish)

    report = commands.add_parser(
        "report", help="write the HTML report with charts",
        description="Write one self-contained HTML file (charts embedded, opens offline) plus the charts as "
                    "PNGs, from the published warehouse.")
    report.add_argument("--out", help="output directory (default $MARGINS_DATA_DIR/report)")
    report.set_defaults(handler=run_report)

    export = commands.add_parser(
        "export", help="write the marts as Parquet partitioned by month",
        description="Export every mart as Parquet (partitioned by month where it has a price_date) for Spark, "
                    "Trino, Athena or any other engine.")
    export.add_argument("--parquet", required=True, metavar="DIR", help="output directory")
    export.set_defaults(handler=run_export)

    status = commands.add_parser("status", help="sources, last success, staleness, row counts",
                                 description="Per source: last live success, staleness, last error, rows.")
    status.add_argument("--format", choices=("table", "json"), default="table",
                        help=f"table: lines of at most {MAX_LINE} characters, long cells cut with …; json: full text")
    status.set_defaults(handler=run_status)

    backfill = commands.add_parser(
        "backfill", help="land a git-backed source's price history from its public git history",
        description="List the commits that touched the source's file(s) through the GitHub REST API (GITHUB_TOKEN "
                    "optional), take the last commit of each day, week or month, land the file at each commit as an "
                    "observation dated by the commit, then build and publish. Re-running lands nothing twice.")
    backfill.add_argument("--source", required=True, help="litellm, or skypilot (catalog v8 vms.csv of each cloud)")
    backfill.add_argument("--since", required=True, help="first UTC day, YYYY-MM-DD")
    backfill.add_argument("--until", help="last UTC day, YYYY-MM-DD (default: today)")
    backfill.add_argument("--every", choices=("day", "week", "month"), default="day",
                          help="keep the last commit of each day (default), week or month")
    backfill.add_argument("--no-build", action="store_true", help="land only; the next refresh builds")
    backfill.set_defaults(handler=run_backfill)
    return parser


def run_refresh(args: argparse.Namespace) -> int:
    from pipelines.sources import SOURCES

    selected = _selected_sources(args.sources, SOURCES)
    if selected is None:
        return EXIT_USAGE
    try:
        settings = Settings.from_env(offline=True if args.offline else None, as_of=args.as_of)
    except AsOfError as error:
        print(f"margins: {error}", file=sys.stderr)
        return EXIT_USAGE
    started = time.monotonic()
    print(f"margins refresh: {len(selected)} source(s) into {settings.data_dir} as of {settings.as_of}"
          f"{' (offline)' if settings.offline else ''}", file=sys.stderr)
    log_path = settings.data_dir / "logs" / f"refresh-{datetime.now():%Y%m%dT%H%M%S}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with writer_lock(settings):
        for line in prepare_refresh(settings):
            print(line, file=sys.stderr)
        with open(log_path, "w") as log, contextlib.redirect_stdout(log):
            result = _execute_refresh(settings, selected, report=args.report)
    print(f"dbt and Dagster output: {log_path}", file=sys.stderr)
    outcomes = _source_outcomes(result)
    built = result.success
    _print_refresh_summary(settings, outcomes, built, time.monotonic() - started, _published(result))
    lake_note = _lake_outcome(result)
    if lake_note:
        print(lake_note, file=sys.stderr if lake_note.startswith("margins:") else sys.stdout)
    if not built:
        for line in failure_lines(result):
            print(f"margins: {line}", file=sys.stderr)
        if not lake_note.startswith("margins:"):
            print("margins: the build failed; the previously published warehouse was kept", file=sys.stderr)
        return EXIT_FAILED
    if args.strict and any(o["status"] in ("failed", "rejected", "suspect") for o in outcomes.values()):
        return EXIT_FAILED
    return EXIT_OK


def _lake_outcome(result) -> str:
    """One line on the DuckLake publish step of a refresh ("" when the job had none)."""
    from pipelines.assets.lake import LAKE_KEY

    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key == LAKE_KEY:
            meta = {key: value.value for key, value in materialization.metadata.items()}
            return f"DuckLake {meta['catalog']}: snapshot {meta['snapshot_id']}, {meta['bytes_written']:,} bytes"
    for event in result.get_step_failure_events():
        if event.step_key == "__".join(LAKE_KEY.path):
            error = event.step_failure_data.error
            while error is not None and error.cause is not None:  # the LakeError under Dagster's wrapper
                error = error.cause
            message = error.message.strip().split(": ", 1)[-1] if error else "failed"
            return (f"margins: published the DuckDB warehouse, but the DuckLake publish failed "
                    f"(the lake keeps its last snapshot): {message}")
    return ""


def _selected_sources(text: str | None, known: dict) -> list[str] | None:
    if not text:
        return list(known)
    selected = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [item for item in selected if item not in known]
    if unknown:
        print(f"margins: unknown source(s): {', '.join(unknown)}; known: {', '.join(known)}", file=sys.stderr)
        return None
    return selected


class RefreshRuns:
    """A CLI refresh as one or two Dagster runs: the sources, then dbt, publish (and the report) only when something
    is new, so a refresh with nothing new neither plans nor skips the ~250 model and check steps (which would also
    show every check as "skipped" in the UI). The scheduled job stays one run; its dbt step skips itself."""

    def __init__(self, runs: list) -> None:
        self.runs = runs

    @property
    def success(self) -> bool:
        return all(run.success for run in self.runs)

    def get_asset_materialization_events(self) -> list:
        return [event for run in self.runs for event in run.get_asset_materialization_events()]

    def get_step_failure_events(self) -> list:
        return [event for run in self.runs for event in run.get_step_failure_events()]

    @property
    def all_events(self) -> list:
        return [event for run in self.runs for event in run.all_events]


def _execute_refresh(settings: Settings, selected: list[str], report: bool = False) -> RefreshRuns:
    """Run the daily job in this process for the selected sources; the HTML report only when asked."""
    from dagster import DagsterInstance

    from pipelines import dbt_state
    from pipelines.dagster_storage import relax_run_history_sync

    relax_run_history_sync()
    _ensure_dagster_home(settings)
    from pipelines.assets.report import html_report
    from pipelines.definitions import defs
    from pipelines.jobs import REFRESH_JOB_NAME

    job = defs.resolve_job_def(REFRESH_JOB_NAME)
    selection = refresh_selection(defs, selected, report)
    sources = [key for key in selection if key.path[0] == "sources"]
    run_config = {
        "resources": {"settings": {"config": {"data_dir": str(settings.data_dir), "offline": settings.offline,
                                               "as_of": settings.as_of.isoformat()}}},
        "loggers": {"console": {"config": {"log_level": os.environ.get("MARGINS_LOG_LEVEL", "ERROR")}},
                    "progress": {}},
    }
    with DagsterInstance.get() as instance:
        release_dead_cli_runs(instance)

        def run(keys: list[AssetKey]):
            return job.execute_in_process(run_config=run_config, instance=instance, asset_selection=keys,
                                          tags={CLI_PID_TAG: str(os.getpid())}, raise_on_error=False)

        runs = [run(sources)] if sources else []
        rest = [key for key in selection if key not in sources]
        if dbt_state.is_published(settings, dbt_state.build_inputs(settings)):
            rest = [key for key in rest if key in html_report.keys]  # nothing new: at most the asked-for report
        if rest:
            runs.append(run(rest))
        return RefreshRuns(runs)


def refresh_selection(defs: Definitions, selected: list[str], report: bool) -> list[AssetKey]:
    """The daily job's asset keys minus the sources not selected and, unless asked, the HTML report.

    The report (3 s of charts) is not part of the warehouse: `margins report`, `--report` or the scheduled job
    build it from the published file.
    """
    from pipelines.assets.lake import published_ducklake
    from pipelines.assets.report import html_report
    from pipelines.assets.sources import source_asset_key
    from pipelines.jobs import daily_refresh_job
    from pipelines.sources import SOURCES

    skipped = {source_asset_key(source) for source in SOURCES if source not in selected}
    if not report:
        skipped |= set(html_report.keys)
    # the job's selection is fixed when the code location is imported; the lake is published only where it is
    # configured now
    if not os.environ.get("MARGINS_LAKE_CATALOG", "").strip():
        skipped |= set(published_ducklake.keys)
    return [key for key in daily_refresh_job.selection.resolve(defs.resolve_asset_graph()) if key not in skipped]


def release_dead_cli_runs(instance) -> None:
    """Mark CLI runs whose process died (kill -9, power loss) as failed and free their pool slots.

    A run holds its `duckdb` pool slot until it ends; a killed CLI process never ends its run, and every later
    run would wait for that slot forever. The caller holds the writers' lock, so no other CLI run is alive.
    """
    from dagster import DagsterRunStatus, RunsFilter

    runs = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTED, DagsterRunStatus.STARTING]))
    for run in runs:
        pid = run.tags.get(CLI_PID_TAG)
        if pid is None or process_alive(int(pid)):
            continue
        instance.report_run_failed(run, f"margins refresh process {pid} is gone (killed); run marked failed")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)


def _ensure_dagster_home(settings: Settings) -> None:
    home = Path(os.environ.get("DAGSTER_HOME") or settings.data_dir / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)


def _source_outcomes(result) -> dict[str, dict[str, Any]]:
    outcomes = {}
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key.path[0] != "sources":
            continue
        metadata = {key: value.value for key, value in materialization.metadata.items()}
        outcomes[materialization.asset_key.path[-1]] = metadata
    return outcomes


def _published(result) -> bool:
    """Whether this run published a new copy (a refresh with nothing new skips the build and the publish)."""
    return any(event.step_materialization_data.materialization.asset_key.path[0] == "published"
               for event in result.get_asset_materialization_events())


def _print_refresh_summary(settings, outcomes, built: bool, seconds: float, published: bool = True) -> None:
    status_rows = {}
    mart_counts: list[tuple[str, int]] = []
    if settings.published_db.exists():
        with connect_published(settings) as connection:
            status_rows = {row[0]: row for row in connection.execute(
                "select source, newest_observed_at, is_stale, n_snapshots from marts.source_status").fetchall()}
            mart_counts = mart_row_counts(connection)
    table = []
    for source, outcome in outcomes.items():
        status = status_rows.get(source, (source, None, True, None))
        table.append([source, outcome.get("status"), outcome.get("new_rows"), outcome.get("quarantined_rows"),
                      _fmt(status[1]), "stale" if status[2] else "fresh", _short(outcome.get("message") or "")])
    print(render_table(["source", "status", "new rows", "quarantined", "newest observation", "staleness",
                        "message"], table, max_line=MAX_LINE))
    payload_lines = [line for outcome in outcomes.values() for line in outcome.get("payload_lines") or []]
    if payload_lines:
        print()
        print(render_table(["payload not applied, or worth a word"], [[line] for line in payload_lines],
                           max_line=MAX_LINE))
    if mart_counts:
        print()
        print(render_table(["mart", "rows"], [list(row) for row in mart_counts], max_line=MAX_LINE))
    if built and not published:
        print(f"\nnothing new (no new payload, same dbt project and as-of day): {settings.published_db} is "
              f"unchanged ({seconds:.1f} s)")
        return
    print(f"\n{'published' if built else 'NOT published'}: {settings.published_db} ({seconds:.1f} s)")


def failure_lines(result) -> list[str]:
    """One line per failed step of a run (e.g. a publish refused for lack of disk space)."""
    lines = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            text = (error.message if error else "failed").strip().splitlines()
            lines.append(f"{event.step_key}: {text[0] if text else 'failed'}"[:300])
    return lines


def _short(message: str, limit: int = 110) -> str:
    """One table cell: the message's start (full messages are in source_status and the refresh log)."""
    return message if len(message) <= limit else message[: limit - 1] + "…"


def mart_row_counts(connection) -> list[tuple[str, int]]:
    tables = [row[0] for row in connection.execute(
        "select table_name from information_schema.tables where table_schema = ? order by table_name",
        [MART_SCHEMA]).fetchall()]
    return [(f"{MART_SCHEMA}.{table}",
             connection.execute(f'select count(*) from {MART_SCHEMA}."{table}"').fetchone()[0])
            for table in tables]


def run_sql(args: argparse.Namespace) -> int:
    import duckdb

    if args.lake:
        return run_lake_sql(args)
    settings = Settings.from_env()
    with connect_published(settings) as connection:
        try:
            cursor = connection.execute(args.query)
        except duckdb.Error as error:
            print(f"margins sql: {describe_query_error(error)}", file=sys.stderr)
            return EXIT_FAILED
        columns = [item[0] for item in cursor.description or []]
        rows = cursor.fetchall()
    print(format_rows(columns, rows, args.format))
    return EXIT_OK


def run_lake_sql(args: argparse.Namespace) -> int:
    import duckdb

    from pipelines import lake

    config = lake.require_config()
    with lake.connect_reader(config) as connection:
        try:
            cursor = connection.execute(args.query)
            rows = cursor.fetchall()
        except duckdb.Error as error:
            print(f"margins sql: {lake.lake_query_error(config, error)}", file=sys.stderr)
            return EXIT_FAILED
        columns = [item[0] for item in cursor.description or []]
    print(format_rows(columns, rows, args.format))
    return EXIT_OK


def run_publish(args: argparse.Namespace) -> int:
    from pipelines import lake

    settings = Settings.from_env()
    config = lake.require_config()
    print(f"margins publish: {settings.published_db} -> DuckLake {config.label}", file=sys.stderr)
    result = lake.publish(settings.published_db, config, progress=lambda line: print(f"  {line}", file=sys.stderr))
    print(render_table(["table", "rows"], [list(row) for row in result.tables]))
    print(f"\nsnapshot {result.snapshot_id}: {len(result.tables)} tables, {result.files_written} files, "
          f"{result.bytes_written:,} bytes written in {result.seconds:.1f} s")
    return EXIT_OK


def run_report(args: argparse.Namespace) -> int:
    from pipelines.report import build_report

    settings = Settings.from_env()
    if not settings.published_db.exists():
        connect_published(settings)  # raises the clear "no published warehouse" error
    out_dir = Path(args.out) if args.out else settings.data_dir / "report"
    charts = build_report(settings.published_db, out_dir)
    print(f"report: {out_dir / 'index.html'} ({len(charts)} charts: {', '.join(c.name for c in charts)})")
    return EXIT_OK


def run_export(args: argparse.Namespace) -> int:
    import duckdb

    from pipelines.export import export_parquet

    settings = Settings.from_env()
    if not settings.published_db.exists():
        connect_published(settings)
    try:
        written = export_parquet(settings.published_db, Path(args.parquet))
    except (OSError, duckdb.Error) as error:
        detail = (str(error).strip().splitlines() or [type(error).__name__])[0]
        print(f"margins export: cannot write Parquet to {args.parquet}: {detail}", file=sys.stderr)
        return EXIT_FAILED
    print(render_table(["mart", "rows"], [list(row) for row in written]))
    print(f"\nParquet written to {Path(args.parquet).resolve()}")
    return EXIT_OK


def run_status(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    with connect_published(settings) as connection:
        cursor = connection.execute(
            "select source, kind, last_success_at, is_stale, last_error, rows_last_success, newest_observed_at, "
            "n_snapshots, upstream_changed_at, is_upstream_stale from marts.source_status order by source")
        columns = [item[0] for item in cursor.description]
        rows = cursor.fetchall()
        upstream_stale = connection.execute(
            "select source, upstream_changed_at, upstream_stale_after_days from marts.source_status "
            "where is_upstream_stale order by source").fetchall()
        counts = mart_row_counts(connection)
    if args.format == "json":
        print(json.dumps({"sources": [dict(zip(columns, row, strict=True)) for row in rows],
                          "marts": dict(counts)}, default=_json_default, indent=1))
        return EXIT_OK
    print(render_table(columns, [list(row) for row in rows], max_line=MAX_LINE))
    for source, changed_at, days in upstream_stale:
        print(f"warning: {source}: upstream content unchanged since {_fmt(changed_at)} "
              f"(more than {days} days): the feed may have stopped updating")
    print()
    print(render_table(["mart", "rows"], [list(row) for row in counts], max_line=MAX_LINE))
    return EXIT_OK


def run_backfill(args: argparse.Namespace) -> int:
    from pipelines.backfill import BackfillRequest
    from pipelines.backfill import run_backfill as land_history

    try:
        request = BackfillRequest.parse(args.source, args.since, args.until, args.every)
    except ValueError as error:
        print(f"margins backfill: {error}", file=sys.stderr)
        return EXIT_USAGE
    settings = Settings.from_env()
    if settings.offline:
        print("margins backfill: offline (MARGINS_OFFLINE=1); a backfill needs the network", file=sys.stderr)
        return EXIT_FAILED
    started = time.monotonic()
    with writer_lock(settings):
        report = land_history(request, settings)
        print(render_table(*report.table()))
        print(f"\n{request.source_id}: {len(report.commits)} commit(s) sampled, {report.landed} landed, "
              f"{report.bundled_loaded} bundled snapshot(s) loaded first")
        if report.error:
            print(f"margins backfill: {report.error}", file=sys.stderr)
            return EXIT_FAILED
        if args.no_build or not (report.landed or report.bundled_loaded):
            return EXIT_OK
        log_path = settings.data_dir / "logs" / f"backfill-{datetime.now():%Y%m%dT%H%M%S}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "w") as log, contextlib.redirect_stdout(log):
            result = _execute_refresh(settings, [])
    print(f"dbt and Dagster output: {log_path}", file=sys.stderr)
    if not result.success:
        print("margins: the build failed; the previously published warehouse was kept", file=sys.stderr)
        return EXIT_FAILED
    print(f"published: {settings.published_db} ({time.monotonic() - started:.1f} s)")
    return EXIT_OK


def format_rows(columns: list[str], rows: list[tuple], output_format: str) -> str:
    if output_format == "json":
        return json.dumps([dict(zip(columns, row, strict=True)) for row in rows], default=_json_default, indent=1)
    if output_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        writer.writerows([[_fmt(value) for value in row] for row in rows])
        return buffer.getvalue().rstrip("\n")
    return render_table(columns, [list(row) for row in rows]) + f"\n({len(rows)} row{'s' if len(rows) != 1 else ''})"


def render_table(columns: list[str], rows: list[list[Any]], max_line: int | None = None) -> str:
    """A plain-text table, control characters escaped; with ``max_line``, the widest columns are narrowed until every
    line fits and their cells are cut with "…"."""
    cells = [[printable(_fmt(value)) for value in row] for row in rows]
    columns = [printable(str(column)) for column in columns]
    widths = [max([len(str(column))] + [len(row[i]) for row in cells]) for i, column in enumerate(columns)]
    if max_line is not None:
        widths = _fit(widths, [len(str(column)) for column in columns], max_line)
        cells = [[_cut(" ".join(value.split()) if "\n" in value else value, width)
                  for value, width in zip(row, widths, strict=True)] for row in cells]
    line = "  ".join(str(column).ljust(width) for column, width in zip(columns, widths, strict=True))
    rule = "  ".join("-" * width for width in widths)
    body = ["  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)) for row in cells]
    return "\n".join([line, rule, *body])


# Control characters (and bidirectional overrides) in data would move the cursor or recolour the terminal.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """Text safe for a terminal table: control characters shown as escapes (\\x1b, \\n, \\u202e)."""
    return _UNPRINTABLE.sub(lambda match: ascii(match.group())[1:-1], text)


def _fit(widths: list[int], minimums: list[int], max_line: int) -> list[int]:
    """Narrow the widest column, one character at a time, until the line (with its separators) fits."""
    widths = list(widths)
    floor = [max(8, minimum) for minimum in minimums]
    while sum(widths) + 2 * (len(widths) - 1) > max_line:
        widest = max(range(len(widths)), key=lambda i: widths[i] - floor[i])
        if widths[widest] <= floor[widest]:
            break
        widths[widest] -= 1
    return widths


def _cut(value: str, width: int) -> str:
    return value if len(value) <= width else value[: width - 1] + "…"


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f").rstrip("0")
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
