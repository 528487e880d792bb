"""Kaplan-Meier survival, medians and log-rank tests of pipelines.survival against small examples worked by hand."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from pipelines.survival import (
    cohorts,
    kaplan_meier,
    logrank_table,
    median_lifetime,
    observed_expected,
    organization_label,
    release_year_cohorts,
    survival_table,
)

Z = 1.959963984540054  # two-sided 95 %

# Six models, months to retirement (event) or to the as-of day (censored, +):  2  4+  5  5  8+  10
MONTHS = np.array([2, 4, 5, 5, 8, 10], dtype=float)
RETIRED = np.array([1, 0, 1, 1, 0, 1])


def test_kaplan_meier_matches_the_hand_computed_curve():
    """Worked by hand (n = models at risk just before t, d = retirements at t):

        t    n  d  censored  S(t)                      Greenwood sum d/(n(n-d))
        0    6  0  0         1
        2    6  1  0         5/6          = 0.833333   1/30
        4    5  0  1         5/6 (carried)             1/30
        5    4  2  0         5/6 * 2/4    = 0.416667   1/30 + 2/8 = 17/60
        8    2  0  1         5/12 (carried)            17/60
        10   1  1  0         5/12 * 0/1   = 0          (undefined: n = d)

    Log-log interval: S ** exp(±z·sqrt(V)/|ln S|), V the Greenwood sum:
        t=2: z·sqrt(1/30)/|ln 5/6|  = 1.959964·0.182574/0.182322 = 1.962680 -> [0.8333^7.11838, 0.8333^0.14048]
             = [0.27312, 0.97471]
        t=5: z·sqrt(17/60)/|ln 5/12| = 1.959964·0.532291/0.875469 = 1.191671 -> [0.4167^3.29258, 0.4167^0.30371]
             = [0.05599, 0.76652]
        t=10: S = 0, interval undefined (null).
    """
    curve = kaplan_meier(MONTHS, RETIRED)
    assert curve["months"].tolist() == [0, 2, 4, 5, 8, 10]
    assert curve["n_at_risk"].tolist() == [6, 6, 5, 4, 2, 1]
    assert curve["n_retired"].tolist() == [0, 1, 0, 2, 0, 1]
    assert curve["n_censored"].tolist() == [0, 0, 1, 0, 1, 0]
    assert curve["survival"].tolist() == pytest.approx([1, 5 / 6, 5 / 6, 5 / 12, 5 / 12, 0])
    assert curve["ci_low"].iloc[:5].tolist() == pytest.approx([1, 0.27312, 0.27312, 0.05599, 0.05599], abs=5e-5)
    assert curve["ci_high"].iloc[:5].tolist() == pytest.approx([1, 0.97471, 0.97471, 0.76652, 0.76652], abs=5e-5)
    # the same limits from the formula in the docstring, to more digits than the table shows
    spread = Z * math.sqrt(17 / 60) / abs(math.log(5 / 12))
    assert curve["ci_low"].iloc[3] == pytest.approx((5 / 12) ** math.exp(spread), rel=1e-9)
    assert curve["ci_high"].iloc[3] == pytest.approx((5 / 12) ** math.exp(-spread), rel=1e-9)
    assert curve["ci_low"].isna().tolist() == [False] * 5 + [True]
    assert curve["ci_high"].isna().tolist() == [False] * 5 + [True]


def test_median_and_its_interval_match_the_hand_computation():
    """Median = first t with S(t) < 0.5 = 5 (S(2) = 0.83, S(5) = 0.42).

    Interval (cloglog test inversion): event times whose |g(S) - g(0.5)| / (g'(S)·se) <= z, g = log(-log):
        t=2: (ln(0.182322) - ln(0.693147)) / (6.58180 · 0.152145)   = (-1.701983 + 0.366513) / 1.001383 = -1.3336  in
        t=5: (ln(0.875469) - ln(0.693147)) / (2.741415 · 0.221788)  = ( 0.233517) / 0.608010             =  0.3841  in
        t=10: S = 0, g undefined: out
    lower = first time in (2); the last time in (5) is followed by 10, so upper = 10.
    """
    assert median_lifetime(MONTHS, RETIRED) == (5.0, 2.0, 10.0)


def test_median_is_null_when_the_curve_never_falls_below_one_half():
    # 1 of 4 retired: S = 0.75 at most, so no median and no upper limit
    median, low, high = median_lifetime(np.array([3.0, 5, 6, 7]), np.array([1, 0, 0, 0]))
    assert median is None and high is None
    assert median_lifetime(np.array([3.0, 5]), np.array([0, 0])) == (None, None, None)


def test_a_curve_without_retirements_stays_at_one():
    curve = kaplan_meier(np.array([3.0, 5.0]), np.array([0, 0]))
    assert curve["survival"].tolist() == [1, 1, 1]
    assert curve["ci_low"].tolist() == [1, 1, 1] and curve["ci_high"].tolist() == [1, 1, 1]


def test_durations_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        kaplan_meier(np.array([0.0, 5.0]), np.array([1, 0]))


def test_log_rank_two_groups_by_hand():
    """Group A: 2, 4+, 5; group B: 5, 8+, 10.  At each retirement time (n, n_A, d, d_A):
        t=2:  6, 3, 1, 1   E_A = 1·3/6 = 0.5   V = 3·3·1·5/(36·5)  = 0.25
        t=5:  4, 1, 2, 1   E_A = 2·1/4 = 0.5   V = 1·3·2·2/(16·3)  = 0.25
        t=10: 1, 0, 1, 0   E_A = 0             V = 0
    O_A - E_A = 2 - 1 = 1, chi2 = 1² / 0.5 = 2.0 on 1 df, p = 0.157299.
    B (the later group) observes 2 retirements where 0.5 + 1.5 + 1 = 3.0 were expected.
    """
    durations = pd.DataFrame({
        "model_id": list("abcdef"), "organization": ["o"] * 6, "release_year": [2023] * 3 + [2024] * 3,
        "duration_months": MONTHS, "is_retired": RETIRED.astype(bool), "as_of_date": date(2026, 11, 30),
    })
    groups = np.array(["A"] * 3 + ["B"] * 3)
    assert observed_expected(MONTHS, RETIRED, groups == "B") == (2, pytest.approx(3.0))
    table = logrank_table(durations.assign(release_year=[2023] * 3 + [2024] * 3), min_models=3)
    both = table.set_index("test").loc["earliest_vs_latest"]
    assert both["cohorts"] == "2023 | 2024" and both["degrees_of_freedom"] == 1
    assert both["statistic"] == pytest.approx(2.0)
    assert both["p_value"] == pytest.approx(0.157299, abs=1e-6)
    assert (both["observed_retired_latest"], both["expected_retired_latest"]) == (2, pytest.approx(3.0))


def test_small_release_years_are_merged_until_each_cohort_has_enough_models():
    years = pd.Series([2022] * 2 + [2023] * 7 + [2024] * 9 + [2025] * 3)
    spans = release_year_cohorts(years, min_models=8)
    assert spans == {2022: (2022, 2023), 2023: (2022, 2023), 2024: (2024, 2025), 2025: (2024, 2025)}
    assert release_year_cohorts(pd.Series([2024, 2025]), min_models=8) == {2024: (2024, 2025), 2025: (2024, 2025)}


def test_cohorts_survival_table_and_labels():
    rows = [(f"m{i}", "OpenAI" if i < 8 else "Zhipu AI (Z.ai)", 2023 + i % 3, 1.0 + i, i % 2 == 0)
            for i in range(12)]
    durations = pd.DataFrame(rows, columns=["model_id", "organization", "release_year", "duration_months",
                                            "is_retired"])
    durations.loc[len(durations)] = ["no-release", "OpenAI", None, None, False]   # excluded model
    durations["as_of_date"] = date(2026, 11, 30)
    labels = [(cohort.label, cohort.kind, len(cohort.members)) for cohort in cohorts(durations, min_models=4)]
    assert labels == [("all", "all", 12), ("2023", "release_year", 4), ("2024", "release_year", 4),
                      ("2025", "release_year", 4), ("org:openai", "organization", 8),
                      ("org:zhipu-ai-z-ai", "organization", 4)]
    assert organization_label("Moonshot AI") == "org:moonshot-ai"
    table = survival_table(durations)
    # default MIN_COHORT_MODELS = 8: 2023 + 2024 make 8 models, the short 2025 joins them
    assert set(table["cohort"]) == {"all", "2023-2025", "org:openai"}
    assert (table["as_of_date"] == date(2026, 11, 30)).all()
    first = table.groupby("cohort").head(1)
    assert (first["months"] == 0).all() and (first["survival"] == 1).all()


def test_log_rank_is_null_with_a_reason_when_a_cohort_is_never_at_risk_at_a_retirement():
    # the 2024 models are all censored (at 1-2 months) before the first 2023 retirement (5 months)
    durations = pd.DataFrame({
        "model_id": list("abcd"), "organization": ["o"] * 4, "release_year": [2023, 2023, 2024, 2024],
        "duration_months": [5.0, 9.0, 1.0, 2.0], "is_retired": [True, True, False, False],
        "as_of_date": date(2025, 6, 30)})
    row = logrank_table(durations, min_models=2).set_index("test").loc["release_cohorts"]
    assert pd.isna(row["p_value"]) and pd.isna(row["statistic"]) and "not testable" in row["note"]


@pytest.mark.parametrize("seed", range(12))
def test_the_estimators_are_statsmodels_own(seed):
    # pipelines.survival writes statsmodels.duration's estimators out in numpy (importing statsmodels costs every dbt
    # build ~0.9 s): the same curve, standard errors, median and interval, and log-rank test on samples with tied
    # times and censoring, some of whose curves reach 0
    from statsmodels.duration.survfunc import SurvfuncRight
    from statsmodels.duration.survfunc import survdiff as statsmodels_survdiff

    from pipelines.survival import SurvivalFit, survdiff

    rng = np.random.default_rng(seed)
    size = int(rng.integers(8, 60))
    months = rng.integers(1, 25, size).astype(float)
    retired = (rng.random(size) < rng.uniform(0.3, 1.0)).astype(int)
    groups = rng.choice(["2023", "2024", "2025"][: 2 + seed % 2], size)
    ours, theirs = SurvivalFit.fit(months, retired), SurvfuncRight(months, retired)
    np.testing.assert_allclose(ours.times, theirs.surv_times)
    np.testing.assert_allclose(ours.survival, theirs.surv_prob, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ours.se, theirs.surv_prob_se, rtol=1e-12, equal_nan=True)
    np.testing.assert_equal(ours.median(), theirs.quantile(0.5))
    with np.errstate(divide="ignore", invalid="ignore"):
        np.testing.assert_equal(ours.median_interval(), theirs.quantile_ci(0.5, alpha=0.05, method="cloglog"))
    statistic, p_value = survdiff(months, retired, groups)
    expected_statistic, expected_p = statsmodels_survdiff(months, retired, groups)
    assert statistic == pytest.approx(expected_statistic, rel=1e-10)
    assert p_value == pytest.approx(expected_p, rel=1e-8, abs=1e-14)
