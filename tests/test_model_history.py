"""Model identity over time on the bundled history (shared offline refresh): price versions, deletions, renames,
and model lifetimes from the data."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from tests.conftest import SESSION_AS_OF

DIM_MODELS_CONTRACT = ["model_id", "organization", "release_date", "retirement_date", "commercial_lifetime_months",
                       "training_cost_usd", "throughput_proxy_model_id", "source_url"]
LIFETIMES_COLUMNS = ["model_id", "organization", "release_date", "retirement_date", "lifetime_months", "is_retired",
                     "release_cohort"]


def columns(connection, table: str) -> list[str]:
    schema, name = table.split(".")
    return [row[0] for row in connection.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
        "order by ordinal_position", [schema, name]).fetchall()]


def test_deepseek_chat_price_changes_are_separate_valid_from_rows(published):
    versions = published.execute("""
        select valid_from, usd_per_1m_input, usd_per_1m_output from intermediate.int_token_price_history
        where source = 'litellm' and provider = 'deepseek' and source_model_key = 'deepseek-chat'
        order by valid_from""").fetchall()
    changes = [row for i, row in enumerate(versions) if i == 0 or row[1:] != versions[i - 1][1:]]
    assert [(start.date().isoformat()[:7], price_in, price_out) for start, price_in, price_out in changes] == [
        ("2024-06", Decimal("0.14"), Decimal("0.28")),
        ("2025-10", Decimal("0.60"), Decimal("1.70")),   # the lagging $0.60/$1.70 the data README warns about
        ("2026-02", Decimal("0.28"), Decimal("0.42")),
    ]


def test_a_model_deleted_from_litellm_keeps_its_history_up_to_its_last_snapshot(published):
    last_seen, valid_to = published.execute("""
        select max(last_seen_at), max(valid_to) from intermediate.int_token_price_history
        where source = 'litellm' and source_model_key = 'claude-3-5-sonnet-20240620'""").fetchone()
    assert last_seen.date() == date(2026, 3, 1) and valid_to.date() == date(2026, 4, 2)
    first_day, last_day = published.execute("""
        select min(price_date), max(price_date) from marts.fct_token_prices_daily
        where source = 'litellm' and source_model_key = 'claude-3-5-sonnet-20240620'""").fetchone()
    assert first_day <= date(2024, 7, 4) and last_day == date(2026, 4, 1)


def test_a_renamed_key_continues_one_series_in_fct_model_prices_daily(published):
    old, new = ("together_ai/meta-llama/Meta-Llama-3.1-405B-Instruct-Turbo",
                "together_ai/meta-llama/Llama-3.1-405B-Instruct")
    series = published.execute("""
        select price_date, source_model_key, usd_per_1m_input, usd_per_1m_output from marts.fct_model_prices_daily
        where source = 'litellm' and provider = 'together_ai' and model_id = 'llama-3.1-405b-instruct'
        order by price_date""").fetchall()
    days = [row[0] for row in series]
    assert (days[-1] - days[0]).days + 1 == len(days), "one row per day, no gap at the rename"
    keys = [row[1] for row in series]
    switch = keys.index(new)
    assert set(keys[:switch]) == {old} and set(keys[switch:]) == {new}
    # the new key appeared on 2026-10-01, but the series keeps the key it follows until that key disappears: the
    # monthly history's snapshot of 2026-11-04 is the first that omits the old one (issue 12: no hopping)
    assert days[switch] == date(2026, 11, 4)
    assert keys[switch - 1] == old and series[switch - 1][0] == date(2026, 11, 3)
    assert {row[2:] for row in series} == {(Decimal("3.50"), Decimal("3.50"))}


def test_fct_model_prices_daily_has_one_key_per_seller_model_and_day(published):
    duplicates, multi_key_days, rows = published.execute("""
        select count(*) - count(distinct (price_date, source, provider, model_id)), count(*) filter (n_keys > 1),
               count(*)
        from marts.fct_model_prices_daily""").fetchone()
    assert duplicates == 0 and 0 < multi_key_days < rows
    # precedence (issue 12): a standard key before a global one, then the key the source listed first
    preferred_key_skipped = published.execute("""
        select count(*) from marts.fct_model_prices_daily as chosen
        join marts.fct_token_prices_daily as other
          on other.price_date = chosen.price_date and other.source = chosen.source
         and other.provider = chosen.provider and other.model_id = chosen.model_id
        join (select source, provider, source_model_key, min(observed_at) as first_seen
              from staging.stg_token_observations where not is_removed group by all) as listed
          on listed.source = other.source and listed.provider = other.provider
         and listed.source_model_key = other.source_model_key
        where other.key_class in ('standard', 'global')
          and (other.key_class = 'standard' and chosen.key_class = 'global'
               or other.key_class = chosen.key_class and listed.first_seen < chosen.key_first_seen_at)""").fetchone()[0]
    assert preferred_key_skipped == 0


def test_fct_model_lifetimes_is_populated_from_cited_dates_and_the_history(published):
    assert columns(published, "marts.fct_model_lifetimes")[:len(LIFETIMES_COLUMNS)] == LIFETIMES_COLUMNS
    assert columns(published, "marts.dim_models")[:len(DIM_MODELS_CONTRACT)] == DIM_MODELS_CONTRACT
    total, with_lifetime, models = published.execute("""
        select count(*), count(lifetime_months), (select count(*) from marts.dim_models)
        from marts.fct_model_lifetimes""").fetchone()
    assert total == models > 50 and with_lifetime > 50

    def model(model_id: str) -> dict:
        cursor = published.execute("select * from marts.fct_model_lifetimes where model_id = ?", [model_id])
        return dict(zip([c[0] for c in cursor.description], cursor.fetchone(), strict=True))

    gpt4o = model("gpt-4o")      # the lifetimes seed wins over the first sighting (2024-06-04)
    assert (gpt4o["release_date"], gpt4o["release_date_source"]) == (date(2024, 5, 13), "lifetimes_seed")
    assert gpt4o["release_cohort"] == "2024-Q2" and gpt4o["first_seen_date"] == date(2024, 6, 4)

    oss = model("gpt-oss-120b")  # no cited date: release = first seen, still sold, so its lifetime runs to date
    assert (oss["release_date"], oss["release_date_source"]) == (date(2025, 9, 1), "first_seen")
    assert not oss["is_retired"] and oss["retirement_date"] is None
    to_date = (date.fromisoformat(SESSION_AS_OF) - date(2025, 9, 1)).days / 30.4375  # to the as-of day
    assert abs(float(oss["lifetime_months"]) - to_date) <= 0.1

    instant = model("claude-instant-1.2")  # first seen in the history's first month: released on or before it
    assert instant["is_first_seen_censored"] and instant["release_date"] is None
    assert instant["is_retired"] and instant["lifetime_months"] is None

    delisted = model("gemini-2.0-pro")     # no cited retirement: retired when the last source stopped listing it
    assert delisted["retirement_date_source"] == "last_seen" and delisted["is_retired"]
    assert delisted["retirement_date"] == delisted["last_seen_date"]

    deprecated = model("gemini-1.5-flash")  # LiteLLM's deprecation_date, although it stayed listed for months
    assert deprecated["retirement_date_source"] == "deprecation_date"
    assert deprecated["retirement_date"] < deprecated["last_seen_date"]
