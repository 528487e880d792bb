"""A price that moves more than 5x is held out of the daily marts until a second observation confirms it."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from pipelines.cli import main
from pipelines.settings import Settings
from tests.conftest import use_copy
from tests.http_server import FixtureServer, Reply, fixture_bytes

pytestmark = pytest.mark.slow  # refreshes or dbt builds of its own (make test-fast leaves it out)

PATH = "/litellm/model_prices_and_context_window.json"


def litellm_file(gpt_4o_input_per_token: str | None = None) -> bytes:
    """The real 2026-11-20 LiteLLM file, optionally with gpt-4o's input price replaced in place (a 10x error)."""
    original = fixture_bytes("tokens/litellm_model_prices_2026-11-20.json.gz").decode()
    if gpt_4o_input_per_token is None:
        return original.encode()
    start = original.index('\n    "gpt-4o": {')
    end = original.index("}", start)
    entry = original[start:end]
    assert '"input_cost_per_token": 2.5e-06,' in entry
    changed = entry.replace('"input_cost_per_token": 2.5e-06,', f'"input_cost_per_token": {gpt_4o_input_per_token},')
    return (original[:start] + changed + original[end:]).encode()


@pytest.fixture(scope="module")
def spiked(session_warehouse, tmp_path_factory) -> Settings:
    """A copy of the offline warehouse (LiteLLM's bundled history up to 2026-11-20) after one live refresh that
    served gpt-4o's input price at 10x: the first observation of the spike, shared by the tests below (each
    continues on its own copy)."""
    with FixtureServer() as server, pytest.MonkeyPatch.context() as patch:
        settings = use_copy(session_warehouse, tmp_path_factory.mktemp("spiked"), patch, as_of=None)  # live: today
        patch.setenv("MARGINS_LITELLM_URL", f"{server.url}{PATH}")
        server.route(PATH, Reply(200, litellm_file("2.5e-05")))
        assert main(["refresh", "--sources", "litellm"]) == 0
    return settings


@pytest.fixture
def litellm_server(spiked, server, tmp_path, monkeypatch):
    """A private copy of the spiked warehouse and a live LiteLLM endpoint for the next refresh."""
    use_copy(spiked, tmp_path, monkeypatch, as_of=None)
    monkeypatch.setenv("MARGINS_LITELLM_URL", f"{server.url}{PATH}")
    return server


def latest_gpt_4o(settings: Settings):
    with duckdb.connect(str(settings.published_db), read_only=True) as connection:
        price = connection.execute("""
            select usd_per_1m_input from marts.fct_token_prices_daily
            where source = 'litellm' and source_model_key = 'gpt-4o'
            order by price_date desc, observed_at desc limit 1
        """).fetchone()
        anomaly = connection.execute("""
            select previous_price, price, is_confirmed, is_held_out from marts.price_anomalies
            where source = 'litellm' and offer = 'gpt-4o' and reason = 'price_move'
            order by observed_at desc limit 1
        """).fetchone()
    return price[0], anomaly


def test_spike_is_held_out_then_released_when_confirmed(litellm_server):
    litellm_server.route(PATH, Reply(200, litellm_file("2.5e-05")))
    price, anomaly = latest_gpt_4o(Settings.from_env())   # after the spike's first observation (``spiked``)
    assert price == Decimal("2.50"), "the unconfirmed 25.00 must not reach the daily mart"
    assert anomaly == (Decimal("2.50"), Decimal("25.00"), False, True)

    assert main(["refresh", "--sources", "litellm"]) == 0
    price, anomaly = latest_gpt_4o(Settings.from_env())
    assert price == Decimal("25.00"), "a second observation confirms and releases the move"
    assert anomaly == (Decimal("2.50"), Decimal("25.00"), True, False)
    # issue 12: a repeat of the same catalog is no confirmation for the seller rule: 25.00 is 10x the other
    # sellers' gpt-4o price, so it stays in the token mart flagged and out of the margins
    with duckdb.connect(str(Settings.from_env().published_db), read_only=True) as connection:
        suspect = connection.execute("""
            select reason, is_held_out from marts.price_anomalies
            where source = 'litellm' and offer = 'gpt-4o' and reason <> 'price_move'
        """).fetchall()
        in_margins = connection.execute("""
            select count(*) from marts.fct_implied_margins_daily
            where source = 'litellm' and source_model_key = 'gpt-4o' and usd_per_1m_input = 25
        """).fetchone()[0]
    assert suspect == [("disagrees_with_other_sellers", True)] and in_margins == 0


def test_spike_that_reverts_stays_held_out(litellm_server):
    litellm_server.route(PATH, Reply(200, litellm_file()))   # after the spike's first observation (``spiked``)
    assert main(["refresh", "--sources", "litellm"]) == 0
    settings = Settings.from_env()
    price, anomaly = latest_gpt_4o(settings)
    assert price == Decimal("2.50")
    with duckdb.connect(str(settings.published_db), read_only=True) as connection:
        leaked = connection.execute("""
            select count(*) from marts.fct_token_prices_daily
            where source_model_key = 'gpt-4o' and source = 'litellm' and usd_per_1m_input = 25
        """).fetchone()[0]
    assert leaked == 0
