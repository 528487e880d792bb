"""token_cross_source on the real bundled captures, upstream freshness, and the user-facing outputs.

The offline warehouse holds the bundled LiteLLM history and the OpenRouter capture of 2026-08-18; on that day
OpenRouter's first-party routes are compared with the sellers' own LiteLLM keys.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import duckdb
import pytest

from pipelines.assets.sources import upstream_freshness_check
from pipelines.cli import main
from pipelines.settings import Settings
from pipelines.sources import SOURCES
from tests.http_server import Reply, fixture_bytes

OPENROUTER_DAY = date(2026, 8, 18)


def discrepancy(connection, subject_a: str, price_column: str, price_date: date = OPENROUTER_DAY):
    return connection.execute("""
        select source_a, value_a, source_b, subject_b, value_b, preferred_source, round(relative_difference, 6),
               days_apart, first_seen_date, is_resolved_later
        from marts.price_discrepancies
        where kind = 'token_cross_source' and price_date = ? and subject_a = ? and price_column = ?""",
        [price_date, subject_a, price_column]).fetchall()


def test_openrouter_deepseek_chat_disagrees_with_deepseeks_own_litellm_key(published):
    assert discrepancy(published, "deepseek/deepseek-chat", "usd_per_1m_input") == [
        ("openrouter", Decimal("0.257400"), "litellm", "deepseek-chat", Decimal("0.280000"), "litellm",
         round(0.2574 / 0.28 - 1, 6), 16, OPENROUTER_DAY, False)]
    assert discrepancy(published, "deepseek/deepseek-chat", "usd_per_1m_output") == [
        ("openrouter", Decimal("1.028700"), "litellm", "deepseek-chat", Decimal("0.420000"), "litellm",
         round(1.0287 / 0.42 - 1, 6), 16, OPENROUTER_DAY, False)]


def test_an_undated_route_pairs_with_the_sellers_dated_key_and_agreement_is_not_a_discrepancy(published):
    pairs = published.execute("""
        select price_column, value_a, value_b from marts.token_price_comparisons
        where subject_a = 'anthropic/claude-sonnet-4' and subject_b = 'claude-sonnet-4-20250514'
          and price_date = date '2026-08-18'
        order by price_column""").fetchall()
    assert [(column, float(a), float(b)) for column, a, b in pairs] == [
        ("usd_per_1m_cached_input", 0.3, 0.3), ("usd_per_1m_input", 3.0, 3.0), ("usd_per_1m_output", 15.0, 15.0)]
    assert published.execute("""select count(*) from marts.price_discrepancies
                                where subject_a = 'anthropic/claude-sonnet-4'""").fetchone() == (0,)


def test_a_dated_route_pairs_only_with_its_exact_name(published):
    subjects = {row[0] for row in published.execute("""
        select distinct subject_b from marts.token_price_comparisons
        where subject_a = 'deepseek/deepseek-r1-0528'""").fetchall()}
    assert subjects == set()
    assert discrepancy(published, "deepseek/deepseek-r1", "usd_per_1m_input")[0][1:5] == (
        Decimal("0.700000"), "litellm", "deepseek/deepseek-r1", Decimal("0.550000"))


def test_only_differences_beyond_the_tolerance_are_kept(published):
    compared, kept, within = published.execute("""
        select (select count(*) from marts.token_price_comparisons where price_date = date '2026-08-18'),
               (select count(*) from marts.price_discrepancies
                where kind = 'token_cross_source' and price_date = date '2026-08-18'),
               (select count(*) from marts.price_discrepancies
                where abs(relative_difference) <= 0.02 or value_a = value_b)""").fetchone()
    assert compared > kept > 0 and within == 0


def test_source_status_dates_every_landed_sources_upstream_content(published):
    status = {row[0]: row[1:] for row in published.execute(
        "select source, upstream_changed_at, is_upstream_stale, upstream_stale_after_days from marts.source_status"
    ).fetchall()}
    assert status["openrouter"][0].isoformat().startswith("2026-08-18T20:01:54")
    assert status["litellm"][0].isoformat().startswith("2026-11-20T04:05:34") and status["litellm"][2] == 14
    assert status["gpu_trackers"][0].isoformat().startswith("2026-07-01")
    assert status["openrouter"][1] is True and status["gpu_trackers"][1] is True
    assert status["aws"] == (None, False, 180), "nothing landed offline: no upstream date, not upstream-stale"


def test_dim_sources_states_the_precedence_per_kind(published):
    rows = dict(((kind, source), (source_class, precedence)) for source, kind, source_class, precedence in
                published.execute("select source, kind, source_class, precedence from marts.dim_sources").fetchall())
    assert rows[("gpu", "aws")] == ("provider_api", 1) and rows[("gpu", "skypilot")] == ("catalog", 2)
    assert rows[("gpu", "gpu_trackers")] == ("tracker", 3)
    assert rows[("token", "openrouter")] == ("provider_api", 1) and rows[("token", "litellm")] == ("catalog", 2)


def test_upstream_freshness_is_a_warning_check_on_the_source_asset(offline_warehouse):
    result = upstream_freshness_check(SOURCES["openrouter"], offline_warehouse)
    assert result.check_name == "upstream_freshness" and not result.passed
    assert result.severity.value == "WARN"
    assert result.metadata["upstream_changed_at"].value.startswith("2026-08-18T20:01:54")
    assert "openrouter: upstream content last changed 2026-08-18 20:01 UTC" in result.description


def test_status_warns_about_upstream_stale_sources(offline_warehouse, capsys):
    assert main(["status"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning:")]
    assert "warning: openrouter: upstream content unchanged since 2026-08-18 20:01 (more than 7 days): the feed may " \
           "have stopped updating" in lines
    # opened after `margins status` closed its sealed connection (one process may not hold the file twice with two
    # configurations)
    with duckdb.connect(str(offline_warehouse.published_db), read_only=True) as published:
        stale = {row[0] for row in published.execute(
            "select source from marts.source_status where is_upstream_stale").fetchall()}
    assert {line.split(":")[1].strip() for line in lines} == stale


def test_report_lists_the_largest_disagreements(offline_warehouse, tmp_path):
    assert main(["report", "--out", str(tmp_path)]) == 0
    page = (tmp_path / "index.html").read_text()
    assert "Where two sources disagree about one price" in page
    assert "<td>deepseek/deepseek-chat</td><td>usd_per_1m_output</td><td>openrouter</td><td>1.028700</td>" in page
    assert (tmp_path / "price_discrepancies.png").read_bytes().startswith(b"\x89PNG")


@pytest.fixture(scope="module")
def same_day(tmp_path_factory):
    """LiteLLM's 2025-06-02 file and OpenRouter's 2026-08-18 capture, both served live on one day (a test
    construct: two real captures 14 months apart, so LiteLLM's openrouter/* keys meet OpenRouter's own ids)."""
    from tests.http_server import FixtureServer

    root = tmp_path_factory.mktemp("same_day")
    patch = pytest.MonkeyPatch()
    with FixtureServer() as server:
        try:
            patch.setenv("MARGINS_DATA_DIR", str(root / "warehouse"))
            patch.setenv("DAGSTER_HOME", str(root / "dagster_home"))
            patch.delenv("MARGINS_OFFLINE", raising=False)
            patch.delenv("MARGINS_AS_OF", raising=False)  # live fetches are observed today
            patch.setenv("MARGINS_LITELLM_URL", f"{server.url}/litellm.json")
            patch.setenv("MARGINS_OPENROUTER_URL", f"{server.url}/openrouter/models")
            server.route("/litellm.json", Reply(200, fixture_bytes("tokens/litellm_model_prices_2025-06-02.json.gz")))
            server.route("/openrouter/models",
                         Reply(200, fixture_bytes("tokens/openrouter_models_2026-08-19.json.gz")))
            assert main(["refresh", "--strict", "--sources", "litellm,openrouter"]) == 0
            with duckdb.connect(str(Settings.from_env().published_db), read_only=True) as connection:
                yield connection
        finally:
            patch.undo()


def test_litellm_openrouter_keys_are_compared_with_openrouters_own_ids(same_day):
    today = same_day.execute("select max(price_date) from marts.fct_token_prices_daily where source = 'openrouter'"
                             ).fetchone()[0]
    rows = same_day.execute("""
        select subject_a, price_column, value_a, value_b, preferred_source from marts.price_discrepancies
        where kind = 'token_cross_source' and provider = 'openrouter' and price_date = ?
        order by subject_a, price_column""", [today]).fetchall()
    assert ("openrouter/mistralai/mistral-large", "usd_per_1m_input", Decimal("8.000000"), Decimal("2.000000"),
            "openrouter") in rows
    assert ("openrouter/deepseek/deepseek-chat", "usd_per_1m_output", Decimal("0.280000"), Decimal("1.028700"),
            "openrouter") in rows
    agreeing = same_day.execute("""
        select value_a, value_b from marts.token_price_comparisons
        where subject_a = 'openrouter/openai/gpt-4o' and price_column = 'usd_per_1m_input' and price_date = ?""",
        [today]).fetchall()
    assert agreeing == [(Decimal("2.500000"), Decimal("2.500000"))]


def test_the_readme_query_finds_where_litellm_and_openrouter_disagree_today(published):
    from tests.test_readme_queries import readme_queries

    [query] = [q for q in readme_queries() if "LiteLLM vs OpenRouter" in q]
    rows = published.execute(query).fetchall()
    assert ("deepseek", "deepseek/deepseek-chat", "deepseek-chat", "usd_per_1m_output", "openrouter",
            Decimal("1.028700"), "litellm", Decimal("0.420000"), 1.449, 78, OPENROUTER_DAY, False) in rows
    # 78 days apart on the newest day both prices are in force (2026-11-16): OpenRouter's 2026-08-18 capture carried
    # forward, LiteLLM's monthly history observed 2026-11-04


def test_a_source_missing_from_the_seed_is_named_in_one_line(tmp_path):
    from pipelines.freshness import upstream_freshness

    with duckdb.connect(str(tmp_path / "w.duckdb")) as connection:
        connection.execute("create schema raw; create table raw.token_observations (source varchar, observed_at "
                           "timestamptz)")
        connection.execute("insert into raw.token_observations values ('newcomer', '2026-11-01 00:00:00+00'), "
                           "('litellm', '2026-11-01 00:00:00+00'), ('litellm', '2026-11-20 04:05:34+00')")
        with pytest.raises(ValueError, match=r"^newcomer: no row in sources.csv"):
            upstream_freshness(connection, "newcomer", "token")
        with pytest.raises(ValueError, match=r"^litellm: unknown source kind 'tokens'"):
            upstream_freshness(connection, "litellm", "tokens")
        checked = datetime(2026, 12, 5, 4, 5, 34, tzinfo=UTC)
        fresh = upstream_freshness(connection, "litellm", "token", checked)
        assert (fresh.changed_at.isoformat()[:19], fresh.age_days, fresh.is_stale) == ("2026-11-20T04:05:34", 15.0,
                                                                                       True)
        assert not upstream_freshness(connection, "litellm", "token", checked - timedelta(days=2)).is_stale
