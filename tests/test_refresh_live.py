"""A live refresh against a local HTTP server serving real captured payloads (no patched fetch code)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from pipelines.cli import main, refresh_exit_code
from pipelines.runs import SourceRun
from pipelines.settings import Settings
from tests.conftest import session_processes, use_copy
from tests.http_server import FixtureServer, Reply, fixture_bytes

pytestmark = pytest.mark.slow  # refreshes or dbt builds of its own (make test-fast leaves it out)

SKYPILOT_CLOUDS = ("aws", "gcp", "lambda", "nebius")


def serve_every_source(server: FixtureServer, patch: pytest.MonkeyPatch) -> None:
    """Every token source and SkyPilot served live from ``server``; the environment (through ``patch``) points at it."""
    patch.setenv("MARGINS_LITELLM_URL", f"{server.url}/litellm/model_prices_and_context_window.json")
    patch.setenv("MARGINS_OPENROUTER_URL", f"{server.url}/openrouter/api/v1/models")
    patch.setenv("MARGINS_SKYPILOT_URL", f"{server.url}/skypilot/catalogs/v8")
    patch.setenv("MARGINS_SKYPILOT_CLOUDS", ",".join(SKYPILOT_CLOUDS))
    server.route("/litellm/model_prices_and_context_window.json",
                 Reply(200, fixture_bytes("tokens/litellm_model_prices_2026-11-20.json.gz")))
    server.route("/openrouter/api/v1/models", Reply(200, fixture_bytes("tokens/openrouter_models_2026-08-19.json.gz")))
    for cloud in SKYPILOT_CLOUDS:
        server.route(f"/skypilot/catalogs/v8/{cloud}/vms.csv",
                     Reply(200, fixture_bytes(f"gpu/skypilot_v8_{cloud}_vms_gpu.csv")))


@dataclass(frozen=True)
class LiveRefresh:
    settings: Settings
    exit_code: int
    litellm_hits: int
    stderr: str
    left_behind: list[str]


@pytest.fixture(scope="module")
def live_refreshed(session_warehouse, tmp_path_factory) -> LiveRefresh:
    """A copy of the offline warehouse after one live refresh of every token source and SkyPilot, as of today (a live
    fetch is observed today). The first test reads it; the others continue on their own copies of it, so their
    refreshes rebuild the same day rather than draw the first live day after the bundled history again."""
    with FixtureServer() as server, pytest.MonkeyPatch.context() as patch:
        settings = use_copy(session_warehouse, tmp_path_factory.mktemp("live"), patch, as_of=None)
        serve_every_source(server, patch)
        # the `margins` command in its own process (a session of its own), as a user runs it: with its helper
        # processes (validation, the dbt standby)
        refresh = subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", "refresh", "--strict", "--sources", "litellm,openrouter,skypilot"],
            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        _, stderr = refresh.communicate(timeout=900)
        return LiveRefresh(settings, refresh.returncode, server.hits("/litellm/model_prices_and_context_window.json"),
                           stderr, session_processes(refresh.pid))


@pytest.fixture
def live_env(server, live_refreshed, tmp_path, monkeypatch):
    """A private copy of the live-refreshed warehouse, every source served live again from a local server."""
    use_copy(live_refreshed.settings, tmp_path, monkeypatch, as_of=None)
    serve_every_source(server, monkeypatch)
    return server


@pytest.fixture
def first_live_env(server, warehouse_copy, monkeypatch):
    """A copy of the offline warehouse (no live fetch yet, so a source that fails is stale: its newest data is the
    bundled capture), every source served live from a local server."""
    monkeypatch.delenv("MARGINS_AS_OF")  # live fetches are observed today
    serve_every_source(server, monkeypatch)
    return server


def published(settings: Settings):
    return duckdb.connect(str(settings.published_db), read_only=True)


def test_live_refresh_lands_and_parses_every_source(live_refreshed):
    assert live_refreshed.exit_code == 0, live_refreshed.stderr[-3000:]
    settings = live_refreshed.settings
    with published(settings) as connection:
        statuses = dict(connection.execute(
            "select source, is_stale from marts.source_status where source in ('litellm','openrouter','skypilot')"
        ).fetchall())
        assert statuses == {"litellm": False, "openrouter": False, "skypilot": False}
        live = connection.execute("""
            select source, count(*) from raw.fetch_log where mode = 'live' and status = 'ok' group by 1 order by 1
        """).fetchall()
        assert live == [("litellm", 1), ("openrouter", 1), ("skypilot", len(SKYPILOT_CLOUDS))]
        landed = {path.name for path in (settings.landing_dir / "openrouter").iterdir()}
        # the copy's history holds the offline refreshes' attempts (mode live, status skipped): this one fetched
        sha = connection.execute("select sha256 from raw.fetch_log where source = 'openrouter' and mode = 'live' "
                                 "and status <> 'skipped'")
        assert sha.fetchone()[0] in landed
        gpt4o = connection.execute("""
            select usd_per_1m_input, usd_per_1m_output from marts.fct_token_prices_daily
            where source = 'litellm' and source_model_key = 'gpt-4o' order by price_date desc limit 1
        """).fetchone()
        assert tuple(map(float, gpt4o)) == (2.5, 10.0)
    assert live_refreshed.litellm_hits == 1


def test_the_command_hands_its_build_to_the_dbt_standby_and_leaves_no_process(live_refreshed):
    assert live_refreshed.exit_code == 0, live_refreshed.stderr[-3000:]
    log = Path(re.search(r"dbt and Dagster output: (\S+)", live_refreshed.stderr).group(1)).read_text()
    assert "margins-dbt standby (pid " in log and "takes over: dbt build" in log
    assert live_refreshed.left_behind == [], "a process outlived margins refresh"


def test_a_failing_source_is_marked_stale_and_never_blocks_the_others(first_live_env, capsys, monkeypatch):
    # a long URL, as the cloud APIs' are: the message must still lead with the source and the cause
    long_url = f"{first_live_env.url}/openrouter/api/v1/models?" + "&".join(f"filter{i}=gpu-offers" for i in range(25))
    monkeypatch.setenv("MARGINS_OPENROUTER_URL", long_url)
    first_live_env.route("/openrouter/api/v1/models", Reply(503, b"<html>down</html>"))
    assert main(["refresh", "--sources", "litellm,openrouter"]) == 0
    output = capsys.readouterr().out
    assert "failed" in output and "openrouter" in output
    assert max(len(line) for line in output.splitlines()) <= 220, "the refresh summary cuts long cells"
    rows = {line.split()[0]: line for line in output.splitlines() if line.split()[:1] in (["litellm"], ["openrouter"])}
    assert rows["litellm"].split()[1] == "ok" and rows["openrouter"].split()[1] == "failed"
    message = rows["openrouter"][rows["openrouter"].index("openrouter: "):]
    assert "503" in message[:100], "the summary's message (from raw.fetch_log) leads with the source and the cause"
    assert main(["status"]) == 0
    status = capsys.readouterr().out
    assert max(len(line) for line in status.splitlines()) <= 220, "margins status cuts long cells"
    assert main(["status", "--format", "json"]) == 0
    full = {row["source"]: row for row in json.loads(capsys.readouterr().out)["sources"]}
    assert long_url in full["openrouter"]["last_error"], "--format json keeps the whole message"
    first_100 = full["openrouter"]["last_error"][:100]
    assert first_100.startswith("openrouter: ") and "503" in first_100
    with published(Settings.from_env()) as connection:
        status = dict(connection.execute(
            "select source, is_stale from marts.source_status where source in ('litellm', 'openrouter')").fetchall())
        assert status == {"litellm": False, "openrouter": True}
        error = connection.execute("select last_error from marts.source_status where source = 'openrouter'").fetchone()
        assert "openrouter" in error[0] and "503" in error[0]
        # the bundled capture still serves OpenRouter prices
        assert connection.execute("select count(*) from marts.fct_token_prices_daily where source = 'openrouter'"
                                  ).fetchone()[0] > 0


@pytest.mark.parametrize("status", ["failed", "rejected", "suspect"])
def test_strict_fails_a_refresh_whose_source_failed_and_only_then(status):
    # the exit code of a refresh, from what each source did (raw.fetch_log, as the summary above reads it); the
    # refreshes of this suite run with and without --strict, and those with it and no failed source exit 0
    outcomes = [SourceRun("litellm", "ok"), SourceRun("openrouter", status)]
    assert refresh_exit_code(True, outcomes, strict=True) == 1
    assert refresh_exit_code(True, outcomes, strict=False) == 0
    assert refresh_exit_code(True, [SourceRun("litellm", "ok"), SourceRun("aws", "skipped")], strict=True) == 0
    assert refresh_exit_code(False, [SourceRun("litellm", "ok")], strict=False) == 1


def test_a_rejected_batch_is_quarantined_and_the_source_keeps_its_last_good_data(live_env, capsys):
    live_env.route("/openrouter/api/v1/models", Reply(200, b'{"models": "renamed"}'))
    assert main(["refresh", "--sources", "openrouter"]) == 0
    with published(Settings.from_env()) as connection:
        rejected = connection.execute(
            "select status, error from raw.fetch_log where source = 'openrouter' and mode = 'live' "
            "and status <> 'skipped' order by fetched_at desc limit 1").fetchone()
        assert rejected[0] == "rejected" and "data" in rejected[1]
        quarantined = connection.execute(
            "select rule from raw.quarantine where source = 'openrouter'").fetchall()
        assert ("parseable_payload",) in quarantined
        assert connection.execute("select count(*) from marts.fct_token_prices_daily where source = 'openrouter'"
                                  ).fetchone()[0] > 0
