"""What a margin means (issue 13): matched workloads, valid requests, proxies as bands, one headline estimate."""

from __future__ import annotations

import pytest

from tests.conftest import SESSION_AS_OF


def test_deepseek_r1_and_gpt_oss_have_direct_estimates_on_the_newest_day(published):
    rows = published.execute("""
        select model_id, count(*), bool_or(is_proxy), min(n_profiles)
        from marts.fct_margin_estimates_daily
        where price_date = ? and price_tier = 'standard' and model_id in ('deepseek-r1', 'gpt-oss-120b')
        group by 1 order by 1
    """, [SESSION_AS_OF]).fetchall()
    assert [(model, proxied) for model, _, proxied, _ in rows] == [("deepseek-r1", False), ("gpt-oss-120b", False)]
    assert all(sellers >= 5 and profiles >= 1 for _, sellers, _, profiles in rows)


def test_every_proxy_row_names_its_proxy_and_deepseek_v3_stands_on_r1(published):
    unnamed = published.execute("""
        select count(*) from marts.fct_implied_margins_daily where is_proxy and proxy_model_id is null
    """).fetchone()[0]
    assert unnamed == 0
    v3 = published.execute("""
        select distinct is_proxy, proxy_model_id, proxy_band_model_ids from marts.fct_margin_estimates_daily
        where model_id = 'deepseek-v3'
    """).fetchall()
    assert v3 == [(True, "deepseek-r1", ["deepseek-r1"])]
    gpt_4o = published.execute("""
        select distinct proxy_model_id, proxy_band_model_ids from marts.fct_margin_estimates_daily
        where model_id = 'gpt-4o' and price_tier = 'standard' and price_date = ?
    """, [SESSION_AS_OF]).fetchall()
    assert gpt_4o == [("llama-3.1-405b-instruct", ["deepseek-r1", "llama-3.1-405b-instruct", "llama-3.3-70b-instruct"])]


def test_only_valid_requests_and_matched_workloads(published):
    too_long, latency, mismatched = published.execute("""
        select count(*) filter (where input_tokens + output_tokens > max_input_tokens),
               count(*) filter (where profile_id in (select profile_id from marts.dim_throughput_profiles
                                                     where workload_class = 'latency')),
               count(*) filter (where (price_tier in ('standard', 'cached')
                                       and cost_basis not in ('interactive', 'throughput_fallback'))
                                   or (price_tier = 'batch'
                                       and cost_basis not in ('throughput', 'interactive_fallback')))
        from marts.fct_implied_margins_daily
    """).fetchone()
    assert (too_long, latency, mismatched) == (0, 0, 0)
    fallback = published.execute("""
        select distinct cost_basis from marts.fct_implied_margins_daily
        where model_id = 'llama-3.1-405b-instruct' and price_tier = 'standard'
    """).fetchall()
    assert fallback == [("throughput_fallback",)]  # no interactive profile of known lengths: labelled, not silent


def test_per_gpu_profile_costs_a_request_its_share_of_a_gpu_second(published):
    worst = published.execute("""
        select max(abs(serving_cost_usd_per_request - usd_per_gpu_hour / 3600.0 * 2048 / 4791.6)), count(*)
        from marts.fct_implied_margins_daily where profile_id = 'tp081'
    """).fetchone()
    assert worst[1] > 0 and worst[0] < 1e-12
    profile = published.execute("""
        select gpus_per_replica, replica_output_tokens_per_second from marts.dim_throughput_profiles
        where profile_id = 'tp081'
    """).fetchone()
    assert profile == (1, pytest.approx(4791.6 * 1024 / 2048))


def test_inferencex_cost_per_million_tokens_is_reproduced_at_its_gpu_price(published):
    rows = published.execute("""
        select profile_id, source_usd_per_gpu_hour / 3600 / total_tokens_per_second_per_gpu * 1e6,
               source_cost_usd_per_million_tokens
        from marts.dim_throughput_profiles
        where source_usd_per_gpu_hour is not null and source_cost_usd_per_million_tokens is not null
    """).fetchall()
    assert len(rows) >= 20
    for profile_id, ours, theirs in rows:
        assert float(ours) == pytest.approx(float(theirs), rel=0.07), profile_id


def test_concurrency_uses_the_profiles_own_per_user_rate(published):
    users, rate, default = published.execute("""
        select any_value(concurrent_users_per_replica), any_value(tokens_per_second_per_user),
               any_value(is_default_user_rate)
        from marts.fct_implied_margins_daily where profile_id = 'tp035'
    """).fetchone()
    assert rate == pytest.approx(10.8) and not default
    assert users == pytest.approx(917.26 / 10.8)


def test_cached_tier_bills_a_share_of_input_tokens_at_the_cached_price(published):
    row = published.execute("""
        select margins.cache_hit_share, margins.usd_per_1m_input, series.usd_per_1m_input,
               series.usd_per_1m_cached_input
        from marts.fct_implied_margins_daily as margins
        join marts.fct_model_prices_daily as series using (price_date, source, provider, model_id)
        where margins.price_tier = 'cached' and margins.model_id = 'gpt-4o' and margins.provider = 'openai'
          and margins.price_date = ?
        limit 1
    """, [SESSION_AS_OF]).fetchone()
    share, blended, full, cached = row
    assert share == 0.5 and cached < full
    assert float(blended) == pytest.approx(0.5 * float(full) + 0.5 * float(cached))


def test_monthly_mart_carries_the_estimate_band(published):
    rows = published.execute("""
        select margin_low, margin_central, margin_high from marts.fct_implied_margins_monthly
        where model_id = 'gpt-4o' and provider = 'openai' and price_tier = 'standard' and gpu_price_basis = 'median'
          and margin_central is not null
    """).fetchall()
    assert rows and all(low <= central <= high for low, central, high in rows)
