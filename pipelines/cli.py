"""`margins`: the command line of the warehouse (refresh, sql, status, report, export, backfill, publish).

The argument tree and thin handlers. Dagster runs are in pipelines.runs, what is printed in pipelines.render, the
readers' queries in pipelines.warehouse (and pipelines.lake for the DuckLake).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from pipelines import render, runs
from pipelines.dbt_process import dbt_executable
from pipelines.dbt_standby import dbt_standby
from pipelines.dbt_state import ManifestError
from pipelines.lake import LakeError
from pipelines.recovery import dagster_instance_problem
from pipelines.render import MAX_LINE, format_rows, render_table
from pipelines.settings import AsOfError, Settings
from pipelines.validation_process import great_expectations_in_helper
from pipelines.warehouse import (
    QueryError,
    WarehouseLockedError,
    connect_published,
    describe_query_error,
    mart_row_counts,
    read_query,
    source_freshness,
    source_status,
    upstream_stale_sources,
    writer_lock,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _parse_and_run(argv)
    finally:
        if argv is None:  # the `margins` command itself (callers in this process keep their helpers)
            runs.stop_helper_processes()
            runs.exit_without_final_collection()


def _parse_and_run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.own_process = argv is None  # the `margins` command itself, not a caller in its own process (the tests)
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
    except (WarehouseLockedError, FileNotFoundError, LakeError, ManifestError) as error:
        print(f"margins: {error}", file=sys.stderr)
        return EXIT_FAILED


def _command(commands, name: str, handler: Callable[[argparse.Namespace], int], help: str,
             description: str) -> argparse.ArgumentParser:
    command = commands.add_parser(name, help=help, description=description)
    command.set_defaults(handler=handler)
    return command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="margins",
        description="Inference Margins: a cost warehouse of GPU rental prices, API token prices and the "
                    "margins they imply. Data lives in $MARGINS_DATA_DIR (default ./warehouse).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    refresh = _command(
        commands, "refresh", run_refresh, help="fetch every source, land, parse, validate, dbt build, publish",
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

    sql = _command(commands, "sql", run_sql, help="run a read-only SQL query against the published warehouse",
                   description="Query $MARGINS_DATA_DIR/margins.duckdb read-only.")
    sql.add_argument("query", help='e.g. "select * from marts.fct_gpu_market_daily limit 5"')
    sql.add_argument("--format", choices=("table", "csv", "json"), default="table")
    sql.add_argument("--lake", action="store_true",
                     help="query the DuckLake (MARGINS_LAKE_CATALOG) read-only instead of the local file")

    publish = _command(
        commands, "publish", run_publish, help="publish the warehouse's marts as a DuckLake snapshot",
        description="Write every mart of the published warehouse into the DuckLake named by MARGINS_LAKE_CATALOG "
                    "(Parquet under MARGINS_LAKE_DATA_PATH) as one snapshot: readers see the old or the new "
                    "warehouse, never half of it.")
    publish.add_argument("--to", required=True, choices=("ducklake",), help="the publish target")

    report = _command(
        commands, "report", run_report, help="write the HTML report with charts",
        description="Write one self-contained HTML file (charts embedded, opens offline) plus the charts as "
                    "PNGs, from the published warehouse.")
    report.add_argument("--out", help="output directory (default $MARGINS_DATA_DIR/report)")

    export = _command(
        commands, "export", run_export, help="write the marts as Parquet partitioned by month",
        description="Export every mart as Parquet (partitioned by month where it has a price_date) for Spark, "
                    "Trino, Athena or any other engine.")
    export.add_argument("--parquet", required=True, metavar="DIR", help="output directory")

    status = _command(commands, "status", run_status, help="sources, last success, staleness, row counts",
                      description="Per source: last live success, staleness, last error, rows.")
    status.add_argument("--format", choices=("table", "json"), default="table",
                        help=f"table: lines of at most {MAX_LINE} characters, long cells cut with …; json: full text")

    backfill = _command(
        commands, "backfill", run_backfill, help="land a git-backed source's price history from its public git history",
        description="List the commits that touched the source's file(s) through the GitHub REST API (GITHUB_TOKEN "
                    "optional), take the last commit of each day, week or month, land the file at each commit as an "
                    "observation dated by the commit, then build and publish. Re-running lands nothing twice.")
    backfill.add_argument("--source", required=True, help="litellm, or skypilot (catalog v8 vms.csv of each cloud)")
    backfill.add_argument("--since", required=True, help="first UTC day, YYYY-MM-DD")
    backfill.add_argument("--until", help="last UTC day, YYYY-MM-DD (default: today)")
    backfill.add_argument("--every", choices=("day", "week", "month"), default="day",
                          help="keep the last commit of each day (default), week or month")
    backfill.add_argument("--no-build", action="store_true", help="land only; the next refresh builds")
    return parser


def _say(line: str) -> None:
    print(line, file=sys.stderr)


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
    _say(f"margins refresh: {len(selected)} source(s) into {settings.data_dir} as of {settings.as_of}"
         f"{' (offline)' if settings.offline else ''}")
    log_path = runs.log_file(settings, "refresh")
    # live fetches usually bring batches to validate and a build; an offline refresh mostly finds its bundled
    # snapshots stored, and nothing to build
    helpers = args.own_process and not settings.offline
    with contextlib.ExitStack() as helper_processes:
        if helpers:
            helper_processes.enter_context(great_expectations_in_helper(log_path))
            helper_processes.enter_context(dbt_standby(dbt_executable(), log_path))
        result, outcomes = runs.refresh(settings, selected, log_path, report=args.report, progress=_say)
    _say(f"dbt and Dagster output: {log_path}")
    seconds = time.monotonic() - started
    freshness, mart_counts = {}, []
    if settings.published_db.exists():
        with connect_published(settings) as connection:
            freshness, mart_counts = source_freshness(connection), mart_row_counts(connection)
    print(render.refresh_summary(outcomes, freshness, mart_counts, settings.published_db, result.success,
                                 runs.published(result), seconds))
    lake_note = runs.lake_outcome(result)
    if lake_note:
        print(lake_note, file=sys.stderr if lake_note.startswith("margins:") else sys.stdout)
    if not result.success:
        for line in runs.failure_lines(result):
            print(f"margins: {line}", file=sys.stderr)
        if not lake_note.startswith("margins:"):
            print("margins: the build failed; the previously published warehouse was kept", file=sys.stderr)
    return refresh_exit_code(result.success, outcomes, args.strict)


def refresh_exit_code(built: bool, outcomes: list[runs.SourceRun], strict: bool) -> int:
    """1 when the build failed, or under --strict when a source was tried and failed (was rejected or held as
    suspect); else 0: a source's failure never fails a refresh whose build published."""
    if not built or (strict and any(outcome.attempted_and_failed for outcome in outcomes)):
        return EXIT_FAILED
    return EXIT_OK


def _selected_sources(text: str | None, known: dict) -> list[str] | None:
    if not text:
        return list(known)
    selected = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [item for item in selected if item not in known]
    if unknown:
        print(f"margins: unknown source(s): {', '.join(unknown)}; known: {', '.join(known)}", file=sys.stderr)
        return None
    return selected


def run_sql(args: argparse.Namespace) -> int:
    if args.lake:
        from functools import partial

        from pipelines import lake

        config = lake.require_config()
        connection, describe = lake.connect_reader(config), partial(lake.lake_query_error, config)
    else:
        connection, describe = connect_published(Settings.from_env()), describe_query_error
    try:
        with connection:
            columns, rows = read_query(connection, args.query, describe)
    except QueryError as error:
        print(f"margins sql: {error}", file=sys.stderr)
        return EXIT_FAILED
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
        columns, rows = source_status(connection)
        upstream_stale = upstream_stale_sources(connection)
        counts = mart_row_counts(connection)
    if args.format == "json":
        print(render.status_json(columns, rows, counts))
    else:
        print(render.status_table(columns, rows, upstream_stale, counts))
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
        log_path = runs.log_file(settings, "backfill")
        result = runs.execute_logged(settings, [], log_path)
    _say(f"dbt and Dagster output: {log_path}")
    if not result.success:
        print("margins: the build failed; the previously published warehouse was kept", file=sys.stderr)
        return EXIT_FAILED
    print(f"published: {settings.published_db} ({time.monotonic() - started:.1f} s)")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
