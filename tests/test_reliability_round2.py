"""Issue 14: one bad value never stops the warehouse, the SQL door opens no files, debris and damage are handled.

Every test runs on a copy of the session's offline warehouse (real DuckDB files, the real source step, the local
HTTP server), built from the real captured payloads. The whole-refresh faults (a parser crash inside a full
refresh, recovery of a damaged working database from the published copy and from landing/) run in the fault
suite (tests/test_faults.py, `make reliability`).
"""

from __future__ import annotations

import shutil

import duckdb
import pytest

from pipelines.http import HttpClient
from pipelines.ingest import ingest_source
from pipelines.recovery import dagster_instance_problem, sweep_stale_temps
from pipelines.settings import Settings
from pipelines.sources import SOURCES
from tests import reliability_scenarios as scenarios
from tests.http_server import Reply
from tests.reliability import (
    DEEP_JSON,
    FAST_HTTP,
    FAULTS,
    LITELLM,
    _every_entry,
    _first_chat_models,
    _halve_prices,
    _litellm,
    _litellm_entries,
    observation_rows,
)


@pytest.fixture
def warehouse(offline_warehouse, tmp_path, monkeypatch) -> Settings:
    """A copy of the built offline warehouse with a fresh Dagster instance."""
    shutil.copytree(offline_warehouse.data_dir, tmp_path / "warehouse", symlinks=True)
    monkeypatch.setenv("MARGINS_DATA_DIR", str(tmp_path / "warehouse"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.delenv("MARGINS_OFFLINE", raising=False)
    (tmp_path / "dagster_home" / "history").mkdir(parents=True)
    return Settings.from_env()


def fetch(settings: Settings, server, source: str, body: bytes):
    path = LITELLM if source == "litellm" else "/openrouter/models"
    server.route(path, Reply(200, body))
    live = Settings(data_dir=settings.data_dir, offline=False, urls={**settings.urls, source: server.url + path})
    return ingest_source(SOURCES[source], live, HttpClient(FAST_HTTP), run_id="test")


def raw(settings: Settings, sql: str, *params) -> list[tuple]:
    with duckdb.connect(str(settings.working_db), read_only=True) as connection:
        return connection.execute(sql, list(params)).fetchall()


def rows(settings: Settings) -> set[tuple]:
    with duckdb.connect(str(settings.working_db), read_only=True) as connection:
        return observation_rows(connection)


BAD_VALUES = {fault.name: fault for fault in FAULTS if "quarantined)" in fault.name and fault.name.startswith(
    ("price that overflows", "invalid unicode", "integer overflow", "timestamp out of range"))}


@pytest.mark.parametrize("name", sorted(BAD_VALUES))
def test_a_value_that_does_not_fit_is_quarantined_and_the_rest_loads(warehouse, server, name):
    fault = BAD_VALUES[name]
    before = rows(warehouse)
    outcome = fetch(warehouse, server, fault.source, fault.replies()[0].body)
    assert outcome.status == "ok", outcome.message
    assert outcome.quarantined == 1 and outcome.payloads[0].rows > 400
    assert before <= rows(warehouse), "no observation row lost"
    (rule, reason), = raw(warehouse, "select rule, reason from raw.quarantine where source = ? and landed_at > "
                                     "(select max(landed_at) from raw.quarantine) - interval 1 second", fault.source)
    assert rule in ("fits_column_type", "valid_text", "parseable_number", "parseable_model"), reason


def test_a_parser_crash_rejects_its_payload_once_and_for_all(warehouse, server):
    before = rows(warehouse)
    first = fetch(warehouse, server, "litellm", DEEP_JSON.join(["{", "}"]).encode())
    assert first.status == "rejected"
    assert first.message.startswith("litellm: model_prices_and_context_window.json: RecursionError")
    assert first.payload_lines() == [first.message]
    (status,), = raw(warehouse, "select parse_status from raw.payloads where sha256 = ?", first.payloads[0].sha256)
    assert status == "rejected"
    again = fetch(warehouse, server, "litellm", DEEP_JSON.join(["{", "}"]).encode())
    assert again.status == "rejected" and "rejected before" in again.message
    assert rows(warehouse) == before


def test_a_collapsed_file_is_held_until_a_second_fetch_confirms_it(warehouse, server):
    before = rows(warehouse)
    collapsed = _litellm_entries(_first_chat_models(7))
    held = fetch(warehouse, server, "litellm", collapsed)
    assert held.status == "suspect" and "7 offers where the current state has" in held.message
    assert rows(warehouse) == before, "a held batch is landed, not applied"
    assert raw(warehouse, "select reason, incoming_offers, confirmed_at is null from raw.suspect_batches") == [
        ("offer_drop", 7, True)]
    assert raw(warehouse, "select status from raw.fetch_log where sha256 = ?", held.payloads[0].sha256) == [
        ("suspect",)]
    confirmed = fetch(warehouse, server, "litellm", collapsed)
    assert confirmed.status == "ok" and "confirmed by a second fetch" in confirmed.message
    assert raw(warehouse, "select confirmed_at is not null from raw.suspect_batches") == [(True,)]
    removed = raw(warehouse, "select count(*) from raw.token_observations where source = 'litellm' and is_removed "
                             "and sha256 = ?", confirmed.payloads[0].sha256)[0][0]
    assert removed > 3000, "once confirmed, the models it no longer lists are removed"


def test_every_price_halved_at_once_is_held(warehouse, server):
    before = rows(warehouse)
    held = fetch(warehouse, server, "litellm", _litellm_entries(_every_entry, _halve_prices))
    assert held.status == "suspect" and "moved by the same factor 0.5" in held.message
    assert rows(warehouse) == before
    assert raw(warehouse, "select reason, factor from raw.suspect_batches") == [("uniform_move", 0.5)]


def test_an_ordinary_refetch_is_not_suspect(warehouse, server):
    assert fetch(warehouse, server, "litellm", _litellm()).status == "ok"
    assert raw(warehouse, "select count(*) from raw.suspect_batches") == [(0,)]


@pytest.mark.parametrize("scenario", [
    scenarios.sql_door, scenarios.control_characters, scenarios.url_password,
    scenarios.landed_file_changed_in_place, scenarios.stale_temp_files, scenarios.landing_disk_full,
    scenarios.publish_disk_full, scenarios.export_unwritable,
], ids=lambda scenario: scenario.__name__)
def test_warehouse_fault_is_survived(warehouse, server, scenario):
    result = scenario(warehouse, server)
    assert result.passed, result
    assert result.rows_lost == 0


def test_the_sql_door_leaves_the_published_file_intact(warehouse):
    with duckdb.connect(str(warehouse.published_db), read_only=True) as connection:
        before = connection.execute("select count(*) from marts.fct_gpu_market_daily").fetchone()
    code, _, err = scenarios.run_cli("sql", f"copy (select 1) to '{warehouse.published_db}' (format csv)")
    assert code == 1 and err.startswith("margins sql: refused:")
    with duckdb.connect(str(warehouse.published_db), read_only=True) as connection:
        assert connection.execute("select count(*) from marts.fct_gpu_market_daily").fetchone() == before


def test_temp_files_of_a_live_process_are_left_alone(warehouse):
    alive = warehouse.data_dir / ".margins.duckdb.1.tmp"     # pid 1 is always alive
    dead = warehouse.data_dir / ".margins.duckdb.4194999.tmp"
    alive.write_bytes(b"x")
    dead.write_bytes(b"x")
    assert sweep_stale_temps(warehouse) == [dead]
    assert alive.exists() and not dead.exists()


def test_a_damaged_dagster_database_is_named_with_its_remedy(warehouse):
    (warehouse.data_dir.parent / "dagster_home" / "history" / "runs.db").write_bytes(b"not sqlite" * 100)
    code, _, err = scenarios.run_cli("refresh", "--offline", "--sources", "litellm")
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("margins: the Dagster instance database in")
    assert "move" in err and "Traceback" not in err
    assert dagster_instance_problem(ValueError("unrelated"), None) is None
