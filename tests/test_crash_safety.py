"""Crashes and concurrency: kill -9 mid-refresh, a reader holding the published file, two refreshes at once.

Each test works on its own copy of the shared offline warehouse (conftest ``warehouse_copy``), except the killed
dbt build and the reader, which share one scenario on one copy (a killed build, then a rebuild under a reader). The
copy is up to date, so that scenario first forgets the last publish (an offline refresh with nothing new would
otherwise skip the build and the publish).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

from pipelines import dbt_state
from pipelines.cli import main
from pipelines.settings import Settings
from tests.conftest import session_processes, use_copy
from tests.http_server import Reply, fixture_bytes

pytestmark = pytest.mark.slow  # refreshes or dbt builds of its own (make test-fast leaves it out)

MARTS_FINGERPRINT = """
    select (select count(*) from marts.fct_gpu_prices_daily), (select count(*) from marts.fct_token_prices_daily),
           (select count(*) from marts.fct_implied_margins_daily), (select count(*) from raw.token_observations)
"""


def start_refresh(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pipelines.cli", "refresh", *args],
                            env={**os.environ, **(env or {})}, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill_group(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def wait_for(condition, timeout_s: float = 180, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def dbt_build_running(parent: subprocess.Popen) -> bool:
    return any("dbt" in command and " build" in command for command in session_processes(parent.pid))


def fingerprint(settings: Settings) -> tuple:
    with duckdb.connect(str(settings.published_db), read_only=True) as connection:
        return connection.execute(MARTS_FINGERPRINT).fetchone()


def no_duplicate_rows(settings: Settings) -> bool:
    with duckdb.connect(str(settings.published_db), read_only=True) as connection:
        # change-only storage: at most one change row per offer and snapshot
        mismatched = connection.execute("""
            select count(*) - count(distinct (source, scope, observed_at, provider, source_model_key))
            from raw.token_observations
        """).fetchone()[0]
        duplicated = connection.execute(
            "select count(*) - count(distinct (source, sha256)) from raw.payloads").fetchone()[0]
    return mismatched == 0 and duplicated == 0


@pytest.fixture
def built(warehouse_copy) -> Settings:
    return warehouse_copy


def test_kill_during_landing_then_refresh_completes(built, server, monkeypatch):
    before = fingerprint(built)
    monkeypatch.delenv("MARGINS_AS_OF")  # a live fetch is observed today
    monkeypatch.setenv("MARGINS_LITELLM_URL", f"{server.url}/prices.json")
    server.route("/prices.json", Reply(200, fixture_bytes("tokens/litellm_model_prices_2026-11-20.json.gz"),
                                       drip_s=0.2))
    refresh = start_refresh("--sources", "litellm")
    wait_for(lambda: server.hits("/prices.json") >= 1, what="the download to start")
    time.sleep(1)
    kill_group(refresh)
    assert fingerprint(built) == before, "the published warehouse must be untouched by a killed refresh"
    server.route("/prices.json", Reply(200, fixture_bytes("tokens/litellm_model_prices_2026-11-20.json.gz")))
    assert main(["refresh", "--sources", "litellm"]) == 0
    assert no_duplicate_rows(built)


@dataclass
class KilledBuild:
    """What the module's scenario saw: an offline refresh killed during its dbt build, then the next refresh (its own
    process) run to the end while a reader held the published file open and queried it every second."""
    before: tuple
    readable_after_kill: bool = False
    after_kill: tuple = ()
    published_mtime_before: int = 0
    reader_counts: list[int] = field(default_factory=list)
    returncode: int | None = None
    stderr: str = ""
    left_behind: list[str] = field(default_factory=list)
    published_mtime_after: int = 0
    after: tuple = ()
    no_duplicates: bool = False


@pytest.fixture(scope="module")
def killed_build(session_warehouse, tmp_path_factory) -> KilledBuild:
    """One dbt build killed and one rebuild, shared by the two tests below (each asserts its half)."""
    with pytest.MonkeyPatch.context() as patch:
        built = use_copy(session_warehouse, tmp_path_factory.mktemp("killed_build"), patch)
        dbt_state.forget_published(built)  # the next offline refresh runs dbt and publishes
        seen = KilledBuild(before=fingerprint(built), published_mtime_before=built.published_db.stat().st_mtime_ns)
        refresh = start_refresh("--offline")
        wait_for(lambda: dbt_build_running(refresh), what="dbt build to start")
        time.sleep(2)
        kill_group(refresh)
        with duckdb.connect(str(built.published_db), read_only=True) as connection:
            seen.readable_after_kill = connection.execute(
                "select count(*) from marts.fct_gpu_market_daily").fetchone()[0] > 0
        seen.after_kill = fingerprint(built)
        with duckdb.connect(str(built.published_db), read_only=True) as reader:
            refresh = start_refresh("--offline")
            while refresh.poll() is None:
                count = reader.execute("select count(*) from marts.fct_gpu_market_daily").fetchone()[0]
                seen.reader_counts.append(count)
                time.sleep(1)
            seen.returncode, seen.stderr = refresh.returncode, refresh.stderr.read()[-2000:]
        seen.left_behind = session_processes(refresh.pid)
        seen.published_mtime_after = built.published_db.stat().st_mtime_ns
        seen.after, seen.no_duplicates = fingerprint(built), no_duplicate_rows(built)
        return seen


def test_kill_during_dbt_build_then_refresh_completes(killed_build):
    assert killed_build.readable_after_kill
    assert killed_build.after_kill == killed_build.before
    assert killed_build.returncode == 0, killed_build.stderr
    assert killed_build.after == killed_build.before, "the same bundled data rebuilds the same marts"
    assert killed_build.no_duplicates


def test_reader_holding_the_published_file_and_a_refresh_both_succeed(killed_build):
    assert killed_build.reader_counts and all(count > 0 for count in killed_build.reader_counts)
    assert killed_build.returncode == 0, killed_build.stderr
    # the refresh built with dbt and published: none of the processes it started outlives it
    assert killed_build.left_behind == [], "a process outlived margins refresh"
    assert killed_build.published_mtime_after != killed_build.published_mtime_before, "the refresh must have published"
    assert killed_build.after[0] > 0


def test_second_concurrent_refresh_waits_or_exits_with_a_clear_message(built):
    # the first refresh has nothing new to build, but holds the lock for its whole run (several seconds), while the
    # second gives up after one
    first = start_refresh("--offline")
    wait_for(lambda: built.lock_file.exists() and built.lock_file.read_text().strip() == str(first.pid),
             what="the first refresh to take the lock")
    second = start_refresh("--offline", env={"MARGINS_LOCK_TIMEOUT": "1"})
    _, second_err = second.communicate(timeout=120)
    assert second.returncode == 1
    assert "another refresh holds" in second_err
    _, first_err = first.communicate(timeout=600)
    assert first.returncode == 0, first_err[-2000:]
    assert no_duplicate_rows(built)


def test_a_run_sets_things_right_once_and_a_cli_run_leaves_it_to_the_cli(tmp_path):
    # pipelines.assets.sources.prepare_for_run: every source step of a run calls it; `margins refresh` prepared
    # before launching its run (the run carries its pid) and holds the writers' lock until the run ends
    from dagster import DagsterRun

    from pipelines.assets.constants import CLI_PID_TAG
    from pipelines.assets.sources import prepare_for_run

    settings = Settings.from_env(data_dir=tmp_path / "warehouse", offline=True)
    settings.data_dir.mkdir()

    def debris() -> Path:
        path = settings.data_dir / ".margins.duckdb.4194999.tmp"  # a publish temp file of a dead process
        path.write_bytes(b"\0" * 1000)
        return path

    first, second = DagsterRun(job_name="refresh", run_id="run-1"), DagsterRun(job_name="refresh", run_id="run-2")
    swept = debris()
    assert prepare_for_run(settings, first) and not swept.exists()
    left = debris()
    assert prepare_for_run(settings, first) == [] and left.exists(), "once per run"
    from_cli = DagsterRun(job_name="refresh", run_id="run-3", tags={CLI_PID_TAG: str(os.getpid())})
    assert prepare_for_run(settings, from_cli) == [] and left.exists(), "the CLI prepared it"
    assert prepare_for_run(settings, second) and not left.exists()
