"""Margins as of a day, from clean inputs (issue 12), on the bundled offline warehouse built as of 2026-11-30.

Prices carry forward to the as-of day; the GPU basis is list prices of `cloud` providers; a seller's series follows
one key; dated aliases; suspect prices held out of the margins but kept in the token marts.
"""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal

import duckdb
import pytest

from pipelines.cli import main
from tests.conftest import SESSION_AS_OF


def test_newest_margin_is_the_as_of_day_with_the_age_of_its_inputs(published):
    newest, oldest_input = published.execute("""
        select max(price_date), max(days_since_oldest_input_observed) filter (where price_date = max_day)
        from (select *, max(price_date) over () as max_day from marts.fct_implied_margins_daily)
    """).fetchone()
    assert newest == date.fromisoformat(SESSION_AS_OF)
    # the newest token price (LiteLLM 2026-11-20) is 10 days old on 2026-11-30; none is older than 90 days
    assert 10 <= oldest_input <= 90
    h100_age = published.execute("""
        select days_since_oldest_input_observed from marts.fct_gpu_market_daily
        where gpu_model = 'H100' and price_date = ?
    """, [SESSION_AS_OF]).fetchone()[0]
    assert h100_age == 3  # the SkyPilot v8 snapshot observed 2026-11-27, carried forward


def test_h100_and_h200_basis_is_a_list_price_not_mithrils_auction_floor(published):
    rows = published.execute("""
        select gpu_model, min_usd_per_gpu_hour, min_provider, max_provider, n_providers, is_thin_market
        from marts.fct_gpu_market_daily where price_date = date '2026-11-27' and gpu_model in ('H100', 'H200', 'B200')
        order by gpu_model
    """).fetchall()
    assert {row[0] for row in rows} == {"H100", "H200", "B200"}
    for _gpu, minimum, min_provider, max_provider, providers, thin in rows:
        assert minimum > Decimal("1.00")
        assert min_provider not in ("mithril", "vast", "shadeform", "hyperbolic")
        assert max_provider == "aws"
        assert providers >= 3 and not thin
    marketplace_classes = dict(published.execute("""
        select provider, price_class from marts.dim_providers where provider in ('vast', 'mithril', 'shadeform', 'aws')
    """).fetchall())
    assert marketplace_classes == {"vast": "marketplace", "mithril": "marketplace", "shadeform": "reseller",
                                   "aws": "cloud"}


def test_market_basis_recomputes_from_cloud_on_demand_offers(published):
    mismatches = published.execute("""
        with provider_prices as (
            select price_date, gpu_model, basis_provider, min(usd_per_gpu_hour) as price
            from marts.fct_gpu_prices_daily
            where price_class = 'cloud' and pricing_type = 'on_demand' and price_date >= date '2026-11-01'
            group by all
        ), basis as (
            select price_date, gpu_model, min(price) as low, max(price) as high, count(*) as n
            from provider_prices group by all
        )
        select count(*) from basis
        full join (select * from marts.fct_gpu_market_daily where price_date >= date '2026-11-01') as market
            using (price_date, gpu_model)
        where market.min_usd_per_gpu_hour is distinct from basis.low
            or market.max_usd_per_gpu_hour is distinct from basis.high or market.n_providers is distinct from basis.n
    """).fetchone()[0]
    assert mismatches == 0
    vast_in_b200_basis = published.execute("""
        select count(*) from marts.fct_gpu_prices_daily
        where gpu_model = 'B200' and provider = 'vast' and price_class = 'cloud'
    """).fetchone()[0]
    assert vast_in_b200_basis == 0


def test_a_resold_offer_counts_for_the_cloud_its_prefix_names(published):
    rows = dict(published.execute("""
        select distinct instance_type, basis_provider from marts.fct_gpu_prices_daily
        where provider = 'shadeform' and price_date = date '2026-11-27'
          and instance_type in ('lambdalabs_H100-sxm5x8', 'massedcompute_H100', 'denvr_A100-sxm4')
    """).fetchall())
    assert rows == {"lambdalabs_H100-sxm5x8": "lambda", "massedcompute_H100": "massed_compute",
                    "denvr_A100-sxm4": None}


@pytest.mark.parametrize(("provider", "instance_type", "gpu_model"), [
    # SkyPilot labels it "A100" (the 40 GB name); its GpuInfo says 81920 MiB per GPU
    ("vast", "1x-A100_PCIE-32-65536", "A100-80GB"),
    # Scaleway's H100-1-80G / H100-2-80G resold by Shadeform are PCIe cards, labelled "H100" (SXM)
    ("shadeform", "scaleway_H100", "H100-PCIE"),
    ("shadeform", "scaleway_H100x2", "H100-PCIE"),
])
def test_corrected_gpu_identification(published, provider, instance_type, gpu_model):
    models = published.execute("""
        select distinct gpu_model from marts.fct_gpu_prices_daily where provider = ? and instance_type = ?
    """, [provider, instance_type]).fetchall()
    assert models == [(gpu_model,)]


def test_azure_gpt_4o_series_follows_one_key(published):
    rows = published.execute("""
        select source_model_key, usd_per_1m_input, usd_per_1m_output, min(price_date)
        from marts.fct_model_prices_daily where provider = 'azure' and model_id = 'gpt-4o'
        group by all order by 4
    """).fetchall()
    assert {row[0] for row in rows} == {"azure/gpt-4o"}
    # one price change, when the key's own price changed (5/15 -> 2.5/10)
    assert [(row[1], row[2]) for row in rows] == [(Decimal("5"), Decimal("15")), (Decimal("2.5"), Decimal("10"))]


def test_regional_government_and_long_keys_never_lead_a_series(published):
    leaders = published.execute("""
        select count(*) from marts.fct_model_prices_daily
        where source_model_key like 'azure/eu/%' or source_model_key like 'azure/us/%'
           or source_model_key like '%us-gov%' or source_model_key like '%-long'
           or source_model_key like '%:batch' or source_model_key like '%:free'
    """).fetchone()[0]
    assert leaders == 0
    classes = dict(published.execute("""
        select distinct source_model_key, key_class from marts.fct_token_prices_daily
        where source_model_key in ('azure/eu/gpt-4o', 'bedrock/us-gov-east-1/anthropic.claude-3-5-sonnet-20240620-v1:0',
            'fireworks_ai/accounts/fireworks/models/llama-v3p1-405b-instruct-long', 'openai/gpt-4.1:batch',
            'azure/global/gpt-4o-2024-08-06', 'azure/gpt-4o')
    """).fetchall())
    assert classes == {
        "azure/eu/gpt-4o": "regional",
        "bedrock/us-gov-east-1/anthropic.claude-3-5-sonnet-20240620-v1:0": "government",
        "fireworks_ai/accounts/fireworks/models/llama-v3p1-405b-instruct-long": "long_context",
        "openai/gpt-4.1:batch": "batch",
        "azure/global/gpt-4o-2024-08-06": "global",
        "azure/gpt-4o": "standard",
    }


def test_openrouter_batch_key_is_the_batch_tier_of_its_base_model(published):
    row = published.execute("""
        select source_model_key, batch_source_model_key, usd_per_1m_batch_input, usd_per_1m_batch_output
        from marts.fct_model_prices_daily
        where source = 'openrouter' and model_id = 'gpt-4.1' and price_date = date '2026-08-18'
    """).fetchone()
    assert row == ("openai/gpt-4.1", "openai/gpt-4.1:batch", Decimal("1"), Decimal("4"))


def test_suspect_prices_are_kept_flagged_and_out_of_the_margins(published):
    reasons = dict(published.execute("""
        select source_model_key, any_value(suspect_reason) from marts.fct_token_prices_daily
        where is_suspect and source_model_key in (
            'fireworks_ai/accounts/fireworks/models/llama-v3p1-405b-instruct-long',
            'gemini/gemini-1.5-pro-latest', 'watsonx/ibm/granite-3-8b-instruct')
        group by 1
    """).fetchall())
    assert reasons == {
        "fireworks_ai/accounts/fireworks/models/llama-v3p1-405b-instruct-long": "disagrees_with_other_sellers",
        "gemini/gemini-1.5-pro-latest": "output_below_half_input",
        "watsonx/ibm/granite-3-8b-instruct": "unit_slip",
    }
    listed = published.execute("""
        select count(*) from marts.price_anomalies
        where offer = 'fireworks_ai/accounts/fireworks/models/llama-v3p1-405b-instruct-long'
          and reason = 'disagrees_with_other_sellers' and is_held_out
    """).fetchone()[0]
    assert listed == 1
    leaked = published.execute("""
        select count(*) from marts.fct_implied_margins_daily as margins
        where source_model_key like '%-long'
           or usd_per_1m_input + usd_per_1m_output = 0
           or (price_tier = 'standard' and usd_per_1m_output < usd_per_1m_input / 2)
           or (model_id = 'deepseek-v3' and price_date < date '2024-12-26')
           or exists (select 1 from marts.fct_token_prices_daily as prices
                      where prices.is_suspect and prices.price_date = margins.price_date
                        and prices.source = margins.source and prices.source_model_key = margins.source_model_key)
    """).fetchone()[0]
    assert leaked == 0


def test_deepseek_chat_maps_to_the_model_it_served_on_each_day(published):
    served = dict(published.execute("""
        select price_date, model_id from marts.fct_token_prices_daily
        where source = 'litellm' and provider = 'deepseek'
          and source_model_key in ('deepseek-chat', 'deepseek/deepseek-chat')  -- LiteLLM renamed the key in 2025-02
          and price_date in (date '2024-07-01', date '2024-10-01', date '2025-03-01', date '2025-09-01',
                             date '2025-10-15', date '2026-08-18')
    """).fetchall())
    assert served == {date(2024, 7, 1): "deepseek-v2", date(2024, 10, 1): "deepseek-v2.5",
                      date(2025, 3, 1): "deepseek-v3", date(2025, 9, 1): "deepseek-v3.1",
                      date(2025, 10, 15): "deepseek-v3.2", date(2026, 8, 18): "deepseek-v4-flash"}


@pytest.mark.slow
def test_an_earlier_as_of_day_ignores_later_observations_and_a_new_day_builds_incrementally(
        offline_warehouse, tmp_path, monkeypatch):
    copy = tmp_path / "warehouse"
    shutil.copytree(offline_warehouse.data_dir, copy, ignore=shutil.ignore_patterns("dagster_home"))
    monkeypatch.setenv("MARGINS_DATA_DIR", str(copy))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.delenv("MARGINS_AS_OF", raising=False)

    assert main(["refresh", "--offline", "--as-of", "2025-06-30"]) == 0  # earlier: a full rebuild
    published = copy / "margins.duckdb"
    with duckdb.connect(str(published), read_only=True) as connection:
        newest, newest_observation = connection.execute("""
            select (select max(price_date) from marts.fct_implied_margins_daily),
                   (select max(observed_at) from marts.fct_token_prices_daily)
        """).fetchone()
    assert newest == date(2025, 6, 30)
    assert newest_observation.date() <= date(2025, 6, 30)

    assert main(["refresh", "--offline", "--as-of", "2025-07-01"]) == 0  # a new day with nothing landed
    with duckdb.connect(str(published), read_only=True) as connection:
        newest = connection.execute("select max(price_date) from marts.fct_implied_margins_daily").fetchone()[0]
        rebuilt_from = dict(connection.execute(
            "select model, rebuilt_from from intermediate.incremental_watermarks").fetchall())
    assert newest == date(2025, 7, 1)
    # incremental: rebuilt from the snapshot before the newly visible 2025-07-01 one (minus the lookback), not all
    assert date(2025, 5, 1) <= rebuilt_from["fct_implied_margins_daily"] <= date(2025, 7, 1)
    assert main(["refresh", "--offline", "--as-of", "not-a-day"]) == 2
