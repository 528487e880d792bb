"""Crashes and concurrency: kill -9 mid-refresh, a reader holding the published file, two refreshes at once.

Each test works on its own copy of the shared offline warehouse (conftest ``warehouse_copy``). The copy is up to
date, so the tests that need a dbt build and a publish first forget the last publish (an offline refresh with
nothing new would otherwise skip both).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import duckdb
import pytest

from pipelines import dbt_state
from pipelines.cli import main
from pipelines.settings import Settings
from tests.conftest import session_processes
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


@pytest.fixture
def needs_build(built) -> Settings:
    """The copy with its publish record removed: the next offline refresh runs dbt and publishes."""
    dbt_state.forget_published(built)
    return built


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


def test_kill_during_dbt_build_then_refresh_completes(needs_build):
    built = needs_build
    before = fingerprint(built)
    refresh = start_refresh("--offline")
    wait_for(lambda: dbt_build_running(refresh), what="dbt build to start")
    time.sleep(2)
    kill_group(refresh)
    with duckdb.connect(str(built.published_db), read_only=True) as connection:
        assert connection.execute("select count(*) from marts.fct_gpu_market_daily").fetchone()[0] > 0
    assert fingerprint(built) == before
    assert main(["refresh", "--offline"]) == 0
    assert fingerprint(built) == before, "the same bundled data rebuilds the same marts"
    assert no_duplicate_rows(built)


def test_reader_holding_the_published_file_and_a_refresh_both_succeed(needs_build):
    built = needs_build
    published_before = built.published_db.stat().st_mtime_ns
    with duckdb.connect(str(built.published_db), read_only=True) as reader:
        refresh = start_refresh("--offline")
        while refresh.poll() is None:
            assert reader.execute("select count(*) from marts.fct_gpu_market_daily").fetchone()[0] > 0
            time.sleep(1)
        assert refresh.returncode == 0, refresh.stderr.read()[-2000:]
    # the refresh built with dbt and published: none of the processes it started outlives it
    assert session_processes(refresh.pid) == [], "a process outlived margins refresh"
    assert built.published_db.stat().st_mtime_ns != published_before, "the refresh must have published"
    assert fingerprint(built)[0] > 0


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
