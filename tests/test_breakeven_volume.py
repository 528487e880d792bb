"""The volume a model must sell to pay back its training (issue 17, fct_breakeven_volume), on the bundled build."""

from __future__ import annotations

import pytest


def test_breakeven_volume_recomputes_from_its_own_columns(published):
    rows = published.execute("""
        select model_id, training_cost_usd, gross_profit_usd_per_1m_output_tokens_central,
               cohort_median_lifetime_months, output_tokens_per_month_cohort_median_lifetime,
               output_tokens_per_month_12_months, output_tokens_per_month_36_months
        from marts.fct_breakeven_volume
    """).fetchall()
    assert len({row[0] for row in rows}) >= 3
    for _model, cost, profit, median, in_median, in_12, in_36 in rows:
        if profit is None or profit <= 0:
            assert in_12 is None and in_36 is None  # no volume pays back a loss
            continue
        per_token = profit / 1e6
        assert in_12 == pytest.approx(cost / 12 / per_token)
        assert in_36 == pytest.approx(cost / 36 / per_token)
        assert (in_median is None) == (median is None)
        if median is not None:
            assert in_median == pytest.approx(cost / median / per_token)


def test_breakeven_volume_names_its_inputs(published):
    row = published.execute("""
        select seller, is_proxy, cost_basis, lifetime_cohort, n_sellers
        from marts.fct_breakeven_volume
        where model_id = 'llama-3.1-405b-instruct'
        order by price_date desc limit 1
    """).fetchone()
    seller, is_proxy, cost_basis, cohort, sellers = row
    assert seller == "median_of_sellers" and not is_proxy and sellers >= 2  # Meta sells no API of its own
    assert cost_basis == "throughput_fallback" and cohort == "2024"
