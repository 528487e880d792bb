"""Shared fixtures: one offline warehouse built per test run, and private copies of it for tests that write.

Warehouse fixtures (pick by what the test does to the warehouse):

``offline_warehouse``  READ-ONLY. The bundled history after one real `margins refresh --offline` (Dagster run, dbt
                       build, publish), as of ``AS_OF``. Built once per run and shared by every test and every
                       pytest-xdist worker (the first worker that needs it builds it under a file lock; the others
                       wait and reuse it). For the test's duration MARGINS_DATA_DIR, DAGSTER_HOME and MARGINS_AS_OF
                       point at it, so `main(["sql", ...])` and friends read it. A test that changes its databases
                       fails at teardown: use ``warehouse_copy`` instead.
``published``          A read-only DuckDB connection to ``offline_warehouse``'s published file.
``warehouse_copy``     A private copy of that warehouse for a test that refreshes, kills, or opens it read-write: the
                       data directory copied (about 0.3 s, the full build takes about a minute) and a fresh, empty
                       Dagster home; MARGINS_DATA_DIR, DAGSTER_HOME and MARGINS_AS_OF point at the copy. The copy
                       is up to date, so an offline refresh of it has nothing new to build (see
                       ``pipelines.dbt_state``); call ``dbt_state.forget_published(settings)`` when the test needs
                       the refresh to build and publish anyway. Live tests unset MARGINS_AS_OF (their fetches are
                       observed today, after ``AS_OF``).
``copy_warehouse()``   The same copy as a function, for module-scoped fixtures.
``data_dir``           An empty data directory (MARGINS_DATA_DIR/DAGSTER_HOME set), for tests that build a small
                       warehouse of their own or need none.

A run builds the bundled warehouse from empty once (twice at most, if the first build fails); other tests that need a
warehouse build small ones from a few payloads (test_incremental, test_backfill, test_refresh_gpu_apis).

Markers: ``slow`` marks tests that run refreshes or dbt builds of their own; ``make test-fast`` leaves them out,
``make test`` (and CI) runs everything on two workers (``-n 2 --dist loadscope``): each module runs on one worker, so a
module-scoped fixture is set up once, and the costliest modules are handed out first. (``--dist loadgroup`` would
split modules finer, but pytest-xdist 3.8 cannot set its group suffix on pytest 9.2's node ids: the marks are ignored.)
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from bench.machine import cpu_probe_seconds, describe_speed
from pipelines.cli import main
from pipelines.dbt_process import DUCKDB_THREADS_ENV
from pipelines.settings import Settings
from tests.http_server import FixtureServer

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# One DuckDB thread per dbt model (dbt runs two at once): the two workers keep both cores busy already, and one thread
# per model took 7-15 % less CPU (A/B runs of tests/test_incremental.py; dbt_project/profiles.yml)
os.environ.setdefault(DUCKDB_THREADS_ENV, "1")

AS_OF = "2026-11-30"   # the day the shared warehouse is built as of (MARGINS_AS_OF), so results do not depend on
SESSION_AS_OF = AS_OF  # the day the suite runs
_BUILT_MARKER = "built-by-conftest"
_PROBE_AT_START = pytest.StashKey[float]()

# Modules handed out first, costliest first (longest-processing-time-first keeps the two workers evenly busy). The
# first needs the shared warehouse and the second does not, so one worker builds it while the other works.
_COSTLIEST_FIRST = ("test_faults", "test_incremental", "test_crash_safety", "test_refresh_live", "test_anomalies",
                    "test_lake", "test_as_of_and_clean_inputs", "test_discrepancies_gpu", "test_backfill",
                    "test_discrepancies_tokens", "test_refresh_gpu_apis")


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):    # the controller, before its workers start
        session.config.stash[_PROBE_AT_START] = cpu_probe_seconds()


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    """The machine's speed beside the suite's time: this machine runs at about half speed in some hours."""
    if _PROBE_AT_START in config.stash:
        start = config.stash[_PROBE_AT_START]
        terminalreporter.write_line(f"{describe_speed(cpu_probe_seconds())} at the end ({start:.2f} s at the start)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {module: position for position, module in enumerate(_COSTLIEST_FIRST)}

    def cost_order(item: pytest.Item) -> int:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        return rank.get(module, len(rank))

    items.sort(key=cost_order)  # stable: collection order within each rank


@pytest.fixture
def server():
    with FixtureServer() as fixture_server:
        yield fixture_server


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    directory = tmp_path / "warehouse"
    monkeypatch.setenv("MARGINS_DATA_DIR", str(directory))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.delenv("MARGINS_OFFLINE", raising=False)
    monkeypatch.delenv("MARGINS_AS_OF", raising=False)  # a live fetch is observed today
    return directory


def _shared_root(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """This run's temp root, common to its xdist workers (each worker has its own basetemp below it)."""
    base = tmp_path_factory.getbasetemp()
    return base if worker_id == "master" else base.parent


def _build_offline_warehouse(root: Path) -> None:
    patch = pytest.MonkeyPatch()
    try:
        patch.setenv("MARGINS_DATA_DIR", str(root / "warehouse"))
        patch.setenv("DAGSTER_HOME", str(root / "dagster_home"))
        patch.setenv("MARGINS_AS_OF", AS_OF)
        patch.delenv("MARGINS_OFFLINE", raising=False)
        assert main(["refresh", "--offline"]) == 0, "the shared offline refresh failed"
    finally:
        patch.undo()


@pytest.fixture(scope="session")
def session_warehouse(tmp_path_factory, worker_id) -> Settings:
    """The one offline build of the bundled history per run (see the module docstring); use ``offline_warehouse``."""
    root = _shared_root(tmp_path_factory, worker_id) / "offline_warehouse"
    root.mkdir(exist_ok=True)
    with open(root.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)   # the other workers wait here while the first one builds
        if not (root / _BUILT_MARKER).exists():
            shutil.rmtree(root / "warehouse", ignore_errors=True)
            shutil.rmtree(root / "dagster_home", ignore_errors=True)
            _build_offline_warehouse(root)
            (root / _BUILT_MARKER).write_text(f"as of {AS_OF}\n")
    return Settings.from_env(data_dir=root / "warehouse", offline=True)


def _signature(settings: Settings) -> tuple:
    return tuple((path.name, path.stat().st_size, path.stat().st_mtime_ns)
                 for path in (settings.published_db, settings.working_db) if path.exists())


@pytest.fixture
def offline_warehouse(session_warehouse, monkeypatch, request) -> Iterator[Settings]:
    """The shared offline warehouse, read-only; the environment points at it for this test."""
    monkeypatch.setenv("MARGINS_DATA_DIR", str(session_warehouse.data_dir))
    monkeypatch.setenv("DAGSTER_HOME", str(session_warehouse.data_dir.parent / "dagster_home"))
    monkeypatch.setenv("MARGINS_AS_OF", AS_OF)
    monkeypatch.delenv("MARGINS_OFFLINE", raising=False)
    before = _signature(session_warehouse)
    yield session_warehouse
    if _signature(session_warehouse) != before:
        pytest.fail(f"{request.node.nodeid} changed the shared offline warehouse; use the warehouse_copy fixture")


@pytest.fixture
def published(offline_warehouse) -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect(str(offline_warehouse.published_db), read_only=True) as connection:
        yield connection


def copy_warehouse(source: Settings, root: Path) -> Settings:
    """A private copy of ``source``'s data directory at ``root/warehouse``, with an empty Dagster home beside it."""
    target = root / "warehouse"
    shutil.copytree(source.data_dir, target, ignore=shutil.ignore_patterns("refresh.lock"))
    (root / "dagster_home").mkdir(parents=True, exist_ok=True)
    return Settings.from_env(data_dir=target, offline=False)


def use_copy(source: Settings, root: Path, patch: pytest.MonkeyPatch, as_of: str | None = AS_OF) -> Settings:
    """``copy_warehouse``, with the environment (through ``patch``) pointing at the copy and its Dagster home; as of
    ``as_of`` (None: today, as a live fetch is observed)."""
    settings = copy_warehouse(source, root)
    patch.setenv("MARGINS_DATA_DIR", str(settings.data_dir))
    patch.setenv("DAGSTER_HOME", str(root / "dagster_home"))
    if as_of is None:
        patch.delenv("MARGINS_AS_OF", raising=False)
    else:
        patch.setenv("MARGINS_AS_OF", as_of)
    patch.delenv("MARGINS_OFFLINE", raising=False)
    return settings


@pytest.fixture
def warehouse_copy(session_warehouse, tmp_path, monkeypatch) -> Iterator[Settings]:
    """A private, writable copy of the shared offline warehouse and a fresh Dagster home (see the module docstring)."""
    settings = use_copy(session_warehouse, tmp_path, monkeypatch)
    yield settings
    shutil.rmtree(settings.data_dir, ignore_errors=True)   # over 200 MB per copy


@pytest.fixture(scope="session")
def dbt_manifest() -> dict:
    """The dbt manifest as parsed by `make manifest` (parsed again when older than the project); read only."""
    from pipelines.dbt_resource import ensure_manifest

    return json.loads(ensure_manifest().read_text())


def render_generic_test(name: str, **arguments) -> str:
    """The SQL of the generic test dbt_project/tests/generic/<name>.sql for ``arguments``, rendered with dbt's own
    Jinja environment (no dbt build)."""
    from dbt_common.clients.jinja import get_environment

    from pipelines.dbt_resource import DBT_PROJECT_DIR

    text = (DBT_PROJECT_DIR / "tests" / "generic" / f"{name}.sql").read_text()
    return str(getattr(get_environment().from_string(text).make_module(), f"dbt_macro__test_{name}")(**arguments))


def json_lines(text: str) -> list[dict]:
    """The JSON events of a dbt process's output (`--log-format json`), its other lines left out."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def hand_over_dbt_parse(database: Path, target: Path) -> None:
    """A test's own dbt run into its own ``target`` gets `make manifest`'s parse for ``database``, as a refresh's
    build does (pipelines.dbt_resource.reuse_partial_parse): else dbt re-parses the whole project (~4 s)."""
    from pipelines.dbt_resource import DBT_PROJECT_DIR, reuse_partial_parse

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MARGINS_WORK_DB", str(database))
        assert reuse_partial_parse(DBT_PROJECT_DIR / "target", target)


def session_processes(session_id: int) -> list[str]:
    """"pid: command line" of each live process in a session (a refresh started with start_new_session leads its
    own: every process it starts, dbt and Dagster's run workers included, inherits it). A zombie has ended: it waits
    only for its parent to collect its exit status (init, once its parent is gone: dbt's multiprocessing resource
    tracker ends just after dbt, and this machine's init collects it within a second or so)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(bytes(1), b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            session = os.getsid(int(entry.name))
        except (OSError, ProcessLookupError, IndexError):
            continue
        if session == session_id and state != "Z":
            found.append(f"{entry.name}: {command[:120]}")
    return found
