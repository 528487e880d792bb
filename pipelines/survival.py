"""Kaplan-Meier survival of models' commercial lifetimes, by cohort, with censoring, and log-rank tests.

A model still sold on the as-of day (or whose announced retirement lies after it) has only a lower bound on its
lifetime: it is right-censored at the as-of day. The mean lifetime of retired models ignores those and is biased
towards short lifetimes in recent cohorts; Kaplan-Meier uses them. The input is one row per model
(`marts.fct_lifetime_durations`: duration_months, is_retired, release_year, organization); the dbt Python models
fct_lifetime_survival, fct_lifetime_cohorts and fct_lifetime_logrank call the functions here, so they are
unit-tested without dbt (tests/test_survival.py).

Conventions (stated in the marts' docs):
- confidence level 95 %; pointwise interval of S(t) on the log(-log) scale from Greenwood's variance;
- median lifetime = first time S(t) < 0.5 (statsmodels/SAS), its interval by inverting the same test (Brookmeyer-
  Crowley, `SurvfuncRight.quantile_ci(method="cloglog")`); null when the curve or a limit never gets there;
- the estimators are statsmodels.duration's (`SurvfuncRight`, `survdiff`), written out here in numpy: importing
  statsmodels pulls in scipy.stats, about 0.9 s of every dbt build that runs these models (tests/test_survival.py
  checks them against statsmodels on random samples with ties and censoring);
- release-year cohorts with fewer than MIN_COHORT_MODELS models are merged into the next year (the last one
  into the one before), so every cohort has enough models; organizations get a curve only with that many models.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd
from scipy.special import chdtrc

CONFIDENCE = 0.95
MIN_COHORT_MODELS = 8
ALL = "all"
SURVIVAL_COLUMNS = ["cohort", "cohort_kind", "months", "survival", "ci_low", "ci_high", "n_at_risk", "n_retired",
                    "n_censored"]
COHORT_COLUMNS = ["cohort", "cohort_kind", "organization", "release_year_from", "release_year_to", "n_models",
                  "n_retired", "n_censored", "median_months", "median_ci_low", "median_ci_high"]
LOGRANK_COLUMNS = ["test", "cohorts", "n_cohorts", "n_models", "n_retired", "statistic", "degrees_of_freedom",
                   "p_value", "observed_retired_latest", "expected_retired_latest", "note"]
Z = NormalDist().inv_cdf(0.5 + CONFIDENCE / 2)  # 1.96


@dataclass(frozen=True)
class SurvivalFit:
    """The Kaplan-Meier estimate at the event times, as statsmodels' SurvfuncRight (surv_times, surv_prob,
    surv_prob_se): S(t) and Greenwood's standard error of S, undefined (NaN) from where S reaches 0."""
    times: np.ndarray
    survival: np.ndarray
    se: np.ndarray

    @classmethod
    def fit(cls, months: np.ndarray, retired: np.ndarray) -> SurvivalFit:
        times, rank = np.unique(np.asarray(months, dtype=float), return_inverse=True)
        retirements = np.bincount(rank, weights=np.asarray(retired, dtype=float), minlength=len(times))
        at_risk = _at_risk(rank, len(times))
        events = retirements > 0
        times, retirements, at_risk = times[events], retirements[events], at_risk[events]
        survival = np.cumprod(1 - retirements / at_risk)
        terms = retirements / np.clip(at_risk * (at_risk - retirements), 1e-12, np.inf)
        terms[at_risk == retirements] = np.nan
        return cls(times, survival, survival * np.sqrt(np.cumsum(terms)))

    def median(self) -> float:
        """The first time S(t) < 0.5 (a strict inequality, as SAS and statsmodels); NaN when it never is."""
        below = np.flatnonzero(self.survival < 0.5)
        return self.times[below[0]] if len(below) else np.nan

    def median_interval(self) -> tuple[float, float]:
        """Brookmeyer-Crowley: the times whose S(t) a test on the log(-log) scale does not tell from 0.5 (statsmodels'
        quantile_ci(0.5, method="cloglog")); the upper limit is the next event time, inf after the last one."""
        with np.errstate(divide="ignore", invalid="ignore"):  # S = 1 or 0: log(-log S) undefined, left out
            log_log = np.log(-np.log(self.survival))
            slope = -1 / (self.survival * np.log(self.survival))
            statistic = (log_log - np.log(-np.log(0.5))) / (slope * self.se)
        inside = np.flatnonzero(np.abs(statistic) <= Z)
        if len(inside) == 0:
            return np.nan, np.nan
        upper = np.inf if inside[-1] == len(self.times) - 1 else self.times[inside[-1] + 1]
        return self.times[inside[0]], upper


def _at_risk(rank: np.ndarray, n_times: int, weights: np.ndarray | None = None) -> np.ndarray:
    """At each of the ``n_times`` distinct times, how many models (or the ``weights`` of them) last at least that long:
    ``rank`` is each model's time's position among them."""
    return np.cumsum(np.bincount(rank, weights=weights, minlength=n_times)[::-1])[::-1]


def survdiff(months: np.ndarray, retired: np.ndarray, groups: np.ndarray) -> tuple[float, float]:
    """The log-rank test of equal survival across ``groups`` (statsmodels.duration.survdiff, unweighted): the
    statistic (O - E)' V^-1 (O - E) over all groups but the first, and its chi-square p-value. Raises
    numpy.linalg.LinAlgError when V is singular."""
    retired = np.asarray(retired, dtype=float)
    labels = np.unique(groups)
    times, rank = np.unique(np.asarray(months, dtype=float), return_inverse=True)
    at_risk, retirements = [], []
    for label in labels:
        member = (groups == label).astype(float)
        retirements.append(np.bincount(rank, weights=retired * member, minlength=len(times)))
        at_risk.append(_at_risk(rank, len(times), member))
    total_retired, total_at_risk = sum(retirements), sum(at_risk)
    counted = np.flatnonzero(total_at_risk > 1)
    share = np.vstack(at_risk) / np.clip(total_at_risk, 1e-10, np.inf)[None, :]
    scale = total_retired * (total_at_risk - total_retired) / np.clip(total_at_risk - 1, 1e-10, np.inf)
    degrees = len(labels) - 1
    differences, variance = [], []
    for group in range(1, degrees + 1):
        difference = retirements[group] - share[group] * total_retired
        covariance = share[1:, :].T * (np.eye(1, degrees, group - 1).ravel() - share[group, :, None]) * scale[:, None]
        differences.append(difference[counted].sum())
        variance.append(covariance[counted].sum(axis=0))
    observed_minus_expected, variance_matrix = np.hstack(differences), np.vstack(variance)
    statistic = float(observed_minus_expected.dot(np.linalg.solve(variance_matrix, observed_minus_expected)))
    return statistic, float(chdtrc(degrees, statistic))


@dataclass(frozen=True)
class Cohort:
    label: str                 # 2024, 2025-2026, all, org:openai
    kind: str                  # release_year | all | organization
    members: pd.DataFrame      # rows of the durations frame
    organization: str | None = None
    years: tuple[int, int] | None = None


def kaplan_meier(months: np.ndarray, retired: np.ndarray) -> pd.DataFrame:
    """The KM curve at 0 and at every distinct observed time (event or censoring), so censor marks can be drawn.

    n_at_risk counts the models observed at least that long; S(t) and its interval hold from one event time to the
    next, so rows with only censorings repeat the previous values.
    """
    months = np.asarray(months, dtype=float)
    retired = np.asarray(retired, dtype=int)
    if len(months) == 0:
        raise ValueError("kaplan_meier: no models to estimate a survival curve from")
    if np.any(months <= 0):
        raise ValueError("kaplan_meier: every duration must be positive")
    fit = SurvivalFit.fit(months, retired)
    times = np.unique(months)
    # position of the last event time <= t, counted from 1 (0 before the first event: S = 1, se = 0)
    step = np.searchsorted(fit.times, times, side="right")
    survival = np.concatenate([[1.0], fit.survival])[step]
    se = np.concatenate([[0.0], fit.se])[step]
    low, high = loglog_interval(survival, se)
    curve = pd.DataFrame({
        "months": times,
        "survival": survival,
        "ci_low": low,
        "ci_high": high,
        "n_at_risk": [int(np.sum(months >= t)) for t in times],
        "n_retired": [int(np.sum((months == t) & (retired == 1))) for t in times],
        "n_censored": [int(np.sum((months == t) & (retired == 0))) for t in times],
    })
    start = pd.DataFrame([{"months": 0.0, "survival": 1.0, "ci_low": 1.0, "ci_high": 1.0,
                           "n_at_risk": len(months), "n_retired": 0, "n_censored": 0}])
    return pd.concat([start, curve], ignore_index=True)


def loglog_interval(survival: np.ndarray, se: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise interval of S on the log(-log S) scale: S ** exp(±z · se(S) / (S · |log S|)).

    se is Greenwood's standard error of S (SurvivalFit.se, statsmodels' surv_prob_se). At S = 1 the interval is
    [1, 1]; at S = 0 it is undefined (NaN, stored as null).
    """
    survival = np.asarray(survival, dtype=float)
    se = np.asarray(se, dtype=float)
    low = np.full_like(survival, np.nan)
    high = np.full_like(survival, np.nan)
    inside = (survival > 0) & (survival < 1)
    spread = Z * se[inside] / (survival[inside] * np.abs(np.log(survival[inside])))
    low[inside] = survival[inside] ** np.exp(spread)
    high[inside] = survival[inside] ** np.exp(-spread)
    low[survival == 1] = high[survival == 1] = 1.0
    return low, high


def median_lifetime(months: np.ndarray, retired: np.ndarray) -> tuple[float | None, float | None, float | None]:
    """(median, lower, upper) in months; None where the curve or a confidence limit never reaches 0.5."""
    fit = SurvivalFit.fit(months, retired)
    if len(fit.times) == 0:
        return None, None, None
    low, high = fit.median_interval()
    return tuple(_finite(value) for value in (fit.median(), low, high))


def _finite(value: float) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


def release_year_cohorts(years: pd.Series, min_models: int = MIN_COHORT_MODELS) -> dict[int, tuple[int, int]]:
    """Each release year -> the (first, last) year of its cohort: consecutive years are merged until a cohort has
    min_models models; a short last cohort joins the one before it."""
    counts = years.value_counts().sort_index()
    groups: list[list[int]] = []
    current: list[int] = []
    for year in counts.index:
        current.append(int(year))
        if counts.loc[current].sum() >= min_models:
            groups.append(current)
            current = []
    if current:
        if groups:
            groups[-1] += current
        else:
            groups.append(current)
    return {year: (group[0], group[-1]) for group in groups for year in group}


def year_label(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"


def organization_label(organization: str) -> str:
    return "org:" + re.sub(r"[^a-z0-9]+", "-", organization.lower()).strip("-")


def cohorts(durations: pd.DataFrame, min_models: int = MIN_COHORT_MODELS) -> list[Cohort]:
    """All models, each release-year cohort, and each organization with at least min_models models."""
    included = durations.loc[durations["duration_months"].notna()]
    result = [Cohort(ALL, "all", included)]
    spans = release_year_cohorts(included["release_year"], min_models)
    for first, last in sorted(set(spans.values())):
        members = included.loc[included["release_year"].between(first, last)]
        result.append(Cohort(year_label(first, last), "release_year", members, years=(first, last)))
    for organization, members in sorted(included.groupby("organization"), key=lambda item: item[0]):
        if len(members) >= min_models:
            result.append(Cohort(organization_label(organization), "organization", members, organization=organization))
    return result


def survival_table(durations: pd.DataFrame) -> pd.DataFrame:
    """marts.fct_lifetime_survival: one KM curve per cohort."""
    curves = []
    for cohort in cohorts(durations):
        curve = kaplan_meier(cohort.members["duration_months"], cohort.members["is_retired"])
        curves.append(curve.assign(cohort=cohort.label, cohort_kind=cohort.kind))
    return _with_as_of(pd.concat(curves, ignore_index=True)[SURVIVAL_COLUMNS], durations)


def cohort_table(durations: pd.DataFrame) -> pd.DataFrame:
    """marts.fct_lifetime_cohorts: per cohort its models, retirements and median lifetime with its interval."""
    rows = []
    for cohort in cohorts(durations):
        months, retired = cohort.members["duration_months"], cohort.members["is_retired"].astype(int)
        median, low, high = median_lifetime(months, retired)
        rows.append({
            "cohort": cohort.label, "cohort_kind": cohort.kind, "organization": cohort.organization,
            "release_year_from": cohort.years[0] if cohort.years else None,
            "release_year_to": cohort.years[1] if cohort.years else None,
            "n_models": len(months), "n_retired": int(retired.sum()), "n_censored": int(len(months) - retired.sum()),
            "median_months": median, "median_ci_low": low, "median_ci_high": high,
        })
    table = pd.DataFrame(rows, columns=COHORT_COLUMNS)
    for column in ("release_year_from", "release_year_to"):
        table[column] = table[column].astype("Int64")
    return _with_as_of(table, durations)


def logrank_table(durations: pd.DataFrame, min_models: int = MIN_COHORT_MODELS) -> pd.DataFrame:
    """marts.fct_lifetime_logrank: log-rank tests across all release-year cohorts and earliest vs latest cohort."""
    release = [cohort for cohort in cohorts(durations, min_models) if cohort.kind == "release_year"]
    rows = []
    if len(release) >= 2:
        rows.append(_logrank("release_cohorts", release))
        rows.append(_logrank("earliest_vs_latest", [release[0], release[-1]]))
    return _with_as_of(pd.DataFrame(rows, columns=LOGRANK_COLUMNS), durations)


def _logrank(test: str, groups: list[Cohort]) -> dict:
    members = pd.concat([cohort.members.assign(cohort=cohort.label) for cohort in groups], ignore_index=True)
    months = members["duration_months"].to_numpy(dtype=float)
    retired = members["is_retired"].to_numpy(dtype=int)
    labels = members["cohort"].to_numpy()
    note = None
    try:
        statistic, p_value = survdiff(months, retired, labels)
    except np.linalg.LinAlgError:
        # e.g. every model of a young cohort was censored before the first retirement of any cohort
        statistic = p_value = None
        note = "not testable: a cohort has no model at risk at any retirement time (singular variance)"
    observed, expected = observed_expected(months, retired, labels == groups[-1].label)
    return {
        "test": test, "cohorts": " | ".join(cohort.label for cohort in groups), "n_cohorts": len(groups),
        "n_models": len(members), "n_retired": int(retired.sum()), "statistic": _finite(statistic),
        "degrees_of_freedom": len(groups) - 1, "p_value": _finite(p_value),
        "observed_retired_latest": observed, "expected_retired_latest": expected, "note": note,
    }


def observed_expected(months: np.ndarray, retired: np.ndarray, in_group: np.ndarray) -> tuple[int, float]:
    """Retirements observed in a group and those expected under equal hazards (sum over event times of
    d_t * n_group_t / n_t): observed above expected means the group retires sooner."""
    expected = 0.0
    for t in np.unique(months[retired == 1]):
        at_risk = months >= t
        deaths = np.sum((months == t) & (retired == 1))
        expected += deaths * np.sum(at_risk & in_group) / np.sum(at_risk)
    return int(np.sum(retired[in_group])), float(expected)


def _with_as_of(table: pd.DataFrame, durations: pd.DataFrame) -> pd.DataFrame:
    """Every mart row names the as-of day the durations were censored at."""
    as_of = durations["as_of_date"].dropna().unique()
    if len(as_of) != 1:
        raise ValueError(f"fct_lifetime_durations: expected one as_of_date, found {len(as_of)}")
    return table.assign(as_of_date=pd.Timestamp(as_of[0]).date())
