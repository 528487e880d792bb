"""Dagster runs of the command line: the instance, a refresh as one or two runs, and what the sources did.

`margins refresh` and `margins backfill` run the daily job in their own process (`execute_in_process`) on the
instance they share with `make ui` (DAGSTER_HOME). A run is tagged with the CLI's pid, so a later refresh can release
the runs of a CLI process that was killed. Each source's outcome in a run is read back from `raw.fetch_log`, the
table the ingest writes (pipelines.ingest), not from the run's metadata.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import duckdb

from pipelines.recovery import prepare_refresh, process_alive
from pipelines.settings import Settings
from pipelines.warehouse import writer_lock

if TYPE_CHECKING:
    from dagster import AssetKey, Definitions

DAGSTER_YAML = """\
# Written by `margins`: runs of the CLI and of `make ui` share this instance.
concurrency:
  pools:
    default_limit: 1      # one writer of the DuckDB file at a time (assets use pool="duckdb")
  runs:
    max_concurrent_runs: 1
telemetry:
  enabled: false
# One SQLite file for every run's events ($DAGSTER_HOME/event_log.db, WAL) instead of a file per run plus an index
# each asset and check event is copied into, with one engine and a pooled connection per process: storing a
# refresh's ~750 events took 5.4-5.8 s, now about 1.9 s (pipelines/dagster_storage.py).
event_log_storage:
  module: pipelines.dagster_storage
  class: RunHistoryEventLogStorage
  config:
    base_dir:
      env: DAGSTER_HOME
nux:
  enabled: false          # no "Join the Dagster community" dialog over the UI
"""


def ensure_dagster_home(settings: Settings) -> None:
    """Point DAGSTER_HOME at the shared instance ($MARGINS_DATA_DIR/dagster_home unless set) and write its
    dagster.yaml when there is none."""
    home = Path(os.environ.get("DAGSTER_HOME") or settings.data_dir / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)


@contextlib.contextmanager
def long_lived_objects_frozen() -> Iterator[None]:
    """Leave the objects that live as long as the process out of Python's garbage collections for the block.

    The imported code, Dagster's and dbt's definitions are about 500,000 tracked objects, which every full
    collection scans again although none of them becomes garbage: about 0.7 s of a one-day refresh. Call
    ``gc.freeze()`` again inside the block after loading more of them; the block's end unfreezes everything, so
    callers in this process (the tests) collect as before.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def exit_without_final_collection() -> None:
    """At the end of the `margins` command: Python's final garbage collections scan every object still alive
    (2.5 s after a refresh that ran dbt; objects that are no garbage), so they are left out. Each object is still
    released, and atexit handlers still run."""
    gc.freeze()


def stop_helper_processes() -> None:
    """Leave no process behind: dbt's manifest creates a multiprocessing lock, which starts Python's resource
    tracker, a child that would otherwise outlive `margins` until it notices the exit. Release the lock as the
    interpreter would at exit, then stop the tracker and wait for it."""
    from multiprocessing import resource_tracker, util

    with contextlib.suppress(Exception):
        util._run_finalizers(0)
        resource_tracker._resource_tracker._stop()


def log_file(settings: Settings, command: str) -> Path:
    """A new log file for one command's dbt and Dagster output: $MARGINS_DATA_DIR/logs/<command>-<time>.log."""
    path = settings.data_dir / "logs" / f"{command}-{datetime.now():%Y%m%dT%H%M%S}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


# --- one refresh -------------------------------------------------------------------------------------------------

class RefreshRuns:
    """A CLI refresh as one or two Dagster runs: the sources, then dbt, publish (and the report) only when something
    is new, so a refresh with nothing new neither plans nor skips the ~250 model and check steps (which would also
    show every check as "skipped" in the UI). The scheduled job stays one run; its dbt step skips itself."""

    def __init__(self, runs: list, sources_run_id: str | None = None) -> None:
        self.runs = runs
        self.sources_run_id = sources_run_id  # the run that ingested the sources (raw.fetch_log.run_id)

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


def refresh(settings: Settings, selected: list[str], log_path: Path, report: bool = False,
            progress: Callable[[str], None] = print) -> tuple[RefreshRuns, list[SourceRun]]:
    """One refresh under the writers' lock: set things right after a crash (each step told to ``progress``), run the
    job with dbt's and Dagster's output in ``log_path``, and read what each selected source did."""
    with writer_lock(settings):
        for line in prepare_refresh(settings):
            progress(line)
        result = execute_logged(settings, selected, log_path, report=report)
        return result, source_runs(settings, result, selected)


def execute_logged(settings: Settings, selected: list[str], log_path: Path, report: bool = False) -> RefreshRuns:
    """``execute_refresh`` with its standard output (dbt, Dagster's console) written to ``log_path``. Appended: the
    command's helper processes write to the same new file (opened for appending too), and a handle opened with "w"
    would write over their lines from its own offset."""
    with open(log_path, "a") as log, contextlib.redirect_stdout(log):
        return execute_refresh(settings, selected, report=report)


def execute_refresh(settings: Settings, selected: list[str], report: bool = False) -> RefreshRuns:
    """Run the selected sources in this process, then dbt and the publish (and the report, when asked) only when
    something is new. The sources run from the part of the code location that loads without dbt
    (pipelines.sources_definitions), so a refresh with nothing new never imports dbt or reads its manifest."""
    from dagster import DagsterInstance

    from pipelines import dbt_state
    from pipelines.assets.constants import CLI_PID_TAG, REPORT_KEY, source_asset_key
    from pipelines.dagster_storage import relax_run_history_sync
    from pipelines.jobs import SOURCES_JOB_NAME
    from pipelines.sources_definitions import sources_defs

    relax_run_history_sync()
    ensure_dagster_home(settings)
    run_config = {
        "resources": {"settings": {"config": {"data_dir": str(settings.data_dir), "offline": settings.offline,
                                               "as_of": settings.as_of.isoformat()}}},
        "loggers": {"console": {"config": {"log_level": os.environ.get("MARGINS_LOG_LEVEL", "ERROR")}},
                    "progress": {}},
    }
    with long_lived_objects_frozen(), DagsterInstance.get() as instance:
        release_dead_cli_runs(instance)

        def run(job, keys: list[AssetKey]):
            return job.execute_in_process(run_config=run_config, instance=instance, asset_selection=keys,
                                          tags={CLI_PID_TAG: str(os.getpid())}, raise_on_error=False)

        sources = [source_asset_key(source) for source in selected]
        # a live fetch is always something new (its raw.fetch_log row), so the build will need the code location
        loading = CodeLocationLoader() if sources and not settings.offline else None
        runs = [run(sources_defs.resolve_job_def(SOURCES_JOB_NAME), sources)] if sources else []
        sources_run_id = runs[0].run_id if runs else None
        if loading:
            loading.wait()
        nothing_new = dbt_state.is_published(settings, dbt_state.build_inputs(settings))
        if nothing_new and not report:
            return RefreshRuns(runs, sources_run_id)
        from pipelines.definitions import defs
        from pipelines.jobs import REFRESH_JOB_NAME

        gc.freeze()  # the code location with dbt's manifest, just loaded
        rest = [key for key in refresh_selection(defs, selected, report) if key not in sources]
        if nothing_new:
            rest = [key for key in rest if key == REPORT_KEY]  # nothing new: at most the asked-for report
        if rest:
            runs.append(run(defs.resolve_job_def(REFRESH_JOB_NAME), rest))
        return RefreshRuns(runs, sources_run_id)


class CodeLocationLoader:
    """Import the code location with dbt's manifest (pipelines.definitions: about 2 s, most of it dagster-dbt
    importing dbt-core) in a thread while the sources run. Their run mostly waits (HTTP, DuckDB, the validation
    helper) with the interpreter free, so the import costs the refresh little of its 2 s. ``wait`` re-raises its
    error (e.g. a stale manifest), as the import in the refresh's own thread would."""

    def __init__(self, module: str = "pipelines.definitions") -> None:
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._load, args=(module,), name="load-code-location", daemon=True)
        self._thread.start()

    def _load(self, module: str) -> None:
        try:
            importlib.import_module(module)
        except BaseException as error:  # noqa: BLE001 - raised again by wait(), in the refresh's thread
            self._error = error

    def wait(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error


def refresh_selection(defs: Definitions, selected: list[str], report: bool) -> list[AssetKey]:
    """The daily job's asset keys minus the sources not selected and, unless asked, the HTML report.

    The report (3 s of charts) is not part of the warehouse: `margins report`, `--report` or the scheduled job
    build it from the published file.
    """
    from pipelines.assets.constants import LAKE_KEY, REPORT_KEY, source_asset_key
    from pipelines.jobs import daily_refresh_job
    from pipelines.sources import SOURCES

    skipped = {source_asset_key(source) for source in SOURCES if source not in selected}
    if not report:
        skipped.add(REPORT_KEY)
    # the job's selection is fixed when the code location is imported; the lake is published only where it is
    # configured now
    if not os.environ.get("MARGINS_LAKE_CATALOG", "").strip():
        skipped.add(LAKE_KEY)
    return [key for key in daily_refresh_job.selection.resolve(defs.resolve_asset_graph()) if key not in skipped]


def release_dead_cli_runs(instance) -> None:
    """Mark CLI runs whose process died (kill -9, power loss) as failed and free their pool slots.

    A run holds its `duckdb` pool slot until it ends; a killed CLI process never ends its run, and every later
    run would wait for that slot forever. The caller holds the writers' lock, so no other CLI run is alive.
    """
    from dagster import DagsterRunStatus, RunsFilter

    from pipelines.assets.constants import CLI_PID_TAG

    runs = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTED, DagsterRunStatus.STARTING]))
    for run in runs:
        pid = run.tags.get(CLI_PID_TAG)
        if pid is None or process_alive(int(pid)):
            continue
        instance.report_run_failed(run, f"margins refresh process {pid} is gone (killed); run marked failed")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)


# --- what a run did ----------------------------------------------------------------------------------------------

def published(result) -> bool:
    """Whether this run published a new copy (a refresh with nothing new skips the build and the publish)."""
    return any(event.step_materialization_data.materialization.asset_key.path[0] == "published"
               for event in result.get_asset_materialization_events())


def failure_lines(result) -> list[str]:
    """One line per failed step of a run (e.g. a publish refused for lack of disk space)."""
    return [f"{event.step_key}: {_first_line(event.step_failure_data.error)}"[:300]
            for event in result.all_events if event.is_step_failure]


def _first_line(error) -> str:
    text = (error.message if error else "failed").strip().splitlines()
    return text[0] if text else "failed"


def lake_outcome(result) -> str:
    """One line on the DuckLake publish step of a refresh ("" when the job had none)."""
    from pipelines.assets.constants import LAKE_KEY

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


@dataclass
class SourceRun:
    """What one source did in a refresh, as its rows in raw.fetch_log say (the statuses of pipelines.ingest)."""

    source: str
    status: str = "ok"        # ok | bundled | failed | rejected | suspect | skipped
    message: str = ""
    new_rows: int = 0         # rows of payloads applied for the first time
    quarantined: int = 0
    payload_lines: list[str] = field(default_factory=list)  # a payload not applied, or worth a word

    @property
    def attempted_and_failed(self) -> bool:
        """For --strict: the source was tried and failed, was rejected or held as suspect."""
        return self.status in ("failed", "rejected", "suspect")


# This run's fetch-log rows. A row with a payload (sha256) is one landed payload: ok (applied; `error` may hold a
# note such as a damaged landed file replaced), rejected or suspect (`error` says why). A row without one is an
# attempt: error (the fetch failed) or skipped (offline, no API key, no live endpoint). A payload is new when no
# earlier fetch applied the same bytes.
RUN_FETCHES_SQL = """
    select log.source, log.payload_name, log.mode, log.status, log.sha256 is not null as is_payload,
           coalesce(log.rows_parsed, 0), coalesce(log.rows_quarantined, 0), coalesce(log.error, ''),
           log.status = 'ok' and not exists (
               select 1 from raw.fetch_log as earlier
               where earlier.source = log.source and earlier.sha256 = log.sha256 and earlier.status = 'ok'
                 and (earlier.fetched_at, earlier.fetch_id) < (log.fetched_at, log.fetch_id)) as is_new
    from raw.fetch_log as log
    where log.run_id = ?
    order by log.fetched_at, log.fetch_id
"""


class _Fetch(NamedTuple):
    """One row of RUN_FETCHES_SQL."""

    source: str
    payload_name: str | None
    mode: str
    status: str
    is_payload: bool
    rows: int
    quarantined: int
    text: str       # the error, skip reason or note ("" when none)
    is_new: bool


def source_runs(settings: Settings, result: RefreshRuns, selected: list[str]) -> list[SourceRun]:
    """What each selected source did in the refresh's sources run, from the working database's raw.fetch_log
    (the caller holds the writers' lock)."""
    fetches: list[_Fetch] = []
    if result.sources_run_id and settings.working_db.exists():
        with duckdb.connect(str(settings.working_db), read_only=True) as connection:
            fetches = [_Fetch(*row) for row in connection.execute(RUN_FETCHES_SQL, [result.sources_run_id]).fetchall()]
    failed_steps = {event.step_key: _first_line(event.step_failure_data.error)
                    for event in result.get_step_failure_events()}
    return [_source_run(source, [fetch for fetch in fetches if fetch.source == source], settings.offline,
                        failed_steps.get(f"sources__{source}"))
            for source in selected]


def _source_run(source: str, fetches: list[_Fetch], offline: bool, step_failure: str | None) -> SourceRun:
    """The source's status and message as pipelines.ingest decides them, from its fetch-log rows in the run."""
    payloads = [fetch for fetch in fetches if fetch.is_payload]
    attempts = [fetch for fetch in fetches if not fetch.is_payload]
    outcome = SourceRun(source, new_rows=sum(p.rows for p in payloads if p.is_new),
                        quarantined=sum(p.quarantined for p in payloads),
                        payload_lines=[p.text if p.status != "ok" else f"{source}: {p.payload_name}: {p.text}"
                                       for p in payloads if p.status != "ok" or p.text])
    errors = [a.text for a in attempts if a.status == "error"]
    skips = [a.text for a in attempts if a.status == "skipped"]
    held = {status: [p.text for p in payloads if p.status == status] for status in ("rejected", "suspect")}
    if step_failure is not None and not fetches:
        outcome.status, outcome.message = "failed", f"{source}: {step_failure}"
    elif errors:
        outcome.status, outcome.message = "failed", errors[-1]
    elif offline:
        outcome.status = "bundled" if payloads else "skipped"
        outcome.message = "offline: bundled snapshots only" if payloads else "offline: no bundled snapshots"
    elif held["rejected"] or held["suspect"]:
        outcome.status = "rejected" if held["rejected"] else "suspect"
        outcome.message = "; ".join(held[outcome.status])
    elif skips:
        outcome.status, outcome.message = ("bundled" if payloads else "skipped"), skips[-1]
    else:
        outcome.status = "ok" if not payloads or any(p.mode == "live" for p in payloads) else "bundled"
        outcome.message = "; ".join(p.text for p in payloads if p.status == "ok" and p.text)
    return outcome
