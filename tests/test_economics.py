"""The economics layer on the bundled data: implied margins history, proxies, the essay scenario, unit tests."""

from __future__ import annotations

import os
import subprocess
from datetime import date

from pipelines.dbt_resource import DBT_PROJECT_DIR, dbt_executable
from tests.conftest import hand_over_dbt_parse


def test_implied_margins_history_spans_more_than_a_year(published):
    first, last, rows = published.execute(
        "select min(price_date), max(price_date), count(*) from marts.fct_implied_margins_daily").fetchone()
    assert (last - first).days > 365 and rows > 0
    assert first <= date(2025, 4, 30)


def test_llama_overlaps_with_the_open_model_sellers_on_three_gpus(published):
    rows = set(published.execute("""
        select model_id, gpu_model, provider from marts.fct_implied_margins_daily
        where not is_proxy
          and model_id in ('llama-3.1-405b-instruct', 'llama-3.3-70b-instruct', 'llama-3.1-8b-instruct')
        group by all
    """).fetchall())
    assert {gpu for _, gpu, _ in rows} == {"H100", "H200", "B200"}
    assert {"together_ai", "fireworks_ai", "groq", "bedrock"} <= {provider for _, _, provider in rows}


def test_closed_models_are_priced_through_their_proxy_classes_and_flagged(published):
    # issue 13: a closed model is priced through each of its proxy classes, each row naming the one it used
    rows = set(published.execute("""
        select is_proxy, proxy_model_id, is_central_proxy,
               profile_id in (select profile_id from marts.dim_throughput_profiles as profiles
                              where profiles.model_id = margins.proxy_model_id)
        from marts.fct_implied_margins_daily as margins where model_id = 'gpt-4o'
    """).fetchall())
    assert rows == {(True, "llama-3.1-405b-instruct", True, True), (True, "llama-3.3-70b-instruct", False, True),
                    (True, "deepseek-r1", False, True)}


def test_only_margin_profiles_enter_the_formula(published):
    leaked = published.execute("""
        select count(*) from marts.fct_implied_margins_daily
        where profile_id in (select profile_id from marts.dim_throughput_profiles where not is_margin_profile)
    """).fetchone()[0]
    assert leaked == 0
    excluded = published.execute(
        "select count(*) from marts.dim_throughput_profiles where not is_margin_profile and exclusion_reason is null"
    ).fetchone()[0]
    assert excluded == 0


def test_margin_arithmetic_matches_the_design_formula(published):
    row = published.execute("""
        select usd_per_gpu_hour, gpus_per_replica, replica_output_tokens_per_second, input_tokens, output_tokens,
               usd_per_1m_input, usd_per_1m_output, serving_cost_usd_per_request, api_revenue_usd_per_request,
               implied_gross_margin
        from marts.fct_implied_margins_daily
        where model_id = 'llama-3.1-405b-instruct' and gpu_price_basis = 'median' and price_tier = 'standard'
        limit 1
    """).fetchone()
    price, gpus, tokens_per_s, input_tokens, output_tokens, p_in, p_out, cost, revenue, margin = map(float, row)
    expected_cost = price * gpus / 3600 / (tokens_per_s / output_tokens)
    expected_revenue = (input_tokens * p_in + output_tokens * p_out) / 1e6
    assert abs(cost - expected_cost) < 1e-12
    assert abs(revenue - expected_revenue) < 1e-12
    assert abs(margin - (1 - expected_cost / expected_revenue)) < 1e-9


def test_essay_scenario_fixed_price_rows_for_every_lifetime(published):
    rows = published.execute("""
        select lifetime_months, replicas, active_concurrent_users, gpu_cost_usd_per_day, monthly_result_usd,
               breakeven_lifetime_months, paying_users
        from marts.fct_lifetime_economics
        where scenario_id = 'frontier-subscription' and price_date is null order by lifetime_months
    """).fetchall()
    assert [row[0] for row in rows] == [6, 12, 18, 24, 36, 48]
    lifetime, replicas, users, cost_per_day, result, breakeven, paying = rows[3]
    assert (replicas, users, cost_per_day) == (2000, 101_200, 4_070_400)
    assert round(result) == round(200_000_000 - 122_112_000 - 2_000_000_000 / 24)
    assert abs(breakeven - 2_000_000_000 / 77_888_000) < 1e-9
    assert paying == 8_000_000


def test_essay_scenario_becomes_a_history_at_the_market_median_h200_price(published):
    days, lifetimes, mismatched = published.execute("""
        select count(distinct economics.price_date), count(distinct economics.lifetime_months),
               count(*) filter (where economics.usd_per_gpu_hour <> market.median_usd_per_gpu_hour)
        from marts.fct_lifetime_economics as economics
        join marts.fct_gpu_market_daily as market
          on market.price_date = economics.price_date and market.gpu_model = 'H200'
        where economics.scenario_id = 'frontier-subscription'
    """).fetchone()
    assert days > 100 and lifetimes == 6 and mismatched == 0


def test_dbt_unit_tests_of_the_formulas_pass(warehouse_copy, tmp_path):
    # a copy: dbt opens the database read-write; its own target path: the project's target/ is shared
    environment = {**os.environ, "MARGINS_WORK_DB": str(warehouse_copy.working_db)}
    hand_over_dbt_parse(warehouse_copy.working_db, tmp_path / "target")
    result = subprocess.run(
        [dbt_executable(), "test", "--select", "test_type:unit", "--project-dir", str(DBT_PROJECT_DIR),
         "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(tmp_path / "target")],
        env=environment, capture_output=True, text=True, cwd=DBT_PROJECT_DIR,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "ERROR=0" in result.stdout and "PASS=0" not in result.stdout
    assert "Unable to do partial parsing" not in result.stdout
