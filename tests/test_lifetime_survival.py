"""The survival marts on the bundled data (shared offline refresh, real dbt build incl. its Python models), and a
rebuild at another as-of day."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import date

import duckdb

from pipelines.dbt_resource import DBT_PROJECT_DIR, dbt_executable
from tests.conftest import SESSION_AS_OF

SURVIVAL_COLUMNS = ["cohort", "cohort_kind", "months", "survival", "ci_low", "ci_high", "n_at_risk", "n_retired",
                    "n_censored", "as_of_date"]


def expected_as_of() -> date:
    return date.fromisoformat(SESSION_AS_OF)  # the session warehouse is built as of this day


def test_the_published_warehouse_has_the_survival_marts_with_their_columns(published):
    columns = [row[0] for row in published.execute(
        "select column_name from information_schema.columns where table_schema = 'marts' "
        "and table_name = 'fct_lifetime_survival' order by ordinal_position").fetchall()]
    assert columns == SURVIVAL_COLUMNS
    kinds = dict(published.execute(
        "select cohort_kind, count(distinct cohort) from marts.fct_lifetime_survival group by all").fetchall())
    assert kinds["all"] == 1 and kinds["release_year"] >= 2 and kinds["organization"] >= 1
    assert published.execute("select count(*) from marts.fct_lifetime_logrank").fetchone()[0] == 2


def test_every_curve_starts_at_one_never_rises_and_its_interval_holds_it(published):
    broken = published.execute("""
        select cohort, months from (
            select *, lag(survival) over (partition by cohort order by months) as previous,
                   row_number() over (partition by cohort order by months) as position
            from marts.fct_lifetime_survival)
        where (position = 1 and (months <> 0 or survival <> 1))
           or survival > previous
           or survival not between 0 and 1
           or (survival > 0 and not (ci_low <= survival and survival <= ci_high and ci_low >= 0 and ci_high <= 1))
    """).fetchall()
    assert broken == []


def test_censoring_at_the_as_of_day(published):
    as_of = expected_as_of()
    assert published.execute("select distinct as_of_date from marts.fct_lifetime_durations").fetchall() == [(as_of,)]
    wrong = published.execute("""
        select model_id from marts.fct_lifetime_durations
        where duration_months is not null and (
              is_retired <> coalesce(retirement_date <= as_of_date, false)
           or abs(duration_months - date_diff('day', release_date,
                  case when is_retired then retirement_date else as_of_date end) / 30.4375) > 1e-9)
    """).fetchall()
    assert wrong == []
    # an announced retirement after the as-of day is censored, not an event
    announced = published.execute("""
        select count(*), count(*) filter (where is_censored)
        from marts.fct_lifetime_durations where retirement_date > as_of_date and duration_months is not null
    """).fetchone()
    assert announced[0] == announced[1]
    included, retired, censored = published.execute("""
        select count(*), count(*) filter (where is_retired), count(*) filter (where is_censored)
        from marts.fct_lifetime_durations where duration_months is not null""").fetchone()
    assert published.execute(
        "select n_models, n_retired, n_censored from marts.fct_lifetime_cohorts where cohort = 'all'").fetchone() \
        == (included, retired, censored)


def test_the_all_curve_equals_a_product_limit_computed_in_sql(published):
    """An independent Kaplan-Meier of every model: S(t) = product over retirement times s <= t of (1 - d_s / n_s)."""
    mismatch = published.execute("""
        with durations as (
            select duration_months as months, is_retired from marts.fct_lifetime_durations
            where duration_months is not null
        ), steps as (
            select months, count(*) filter (where is_retired) as d,
                   (select count(*) from durations as later where later.months >= durations.months) as n
            from durations group by months
        ), curve as (
            select months, n, d, exp(sum(ln(1 - d / n)) over (order by months)) as survival from steps where d < n
        )
        select count(*) from curve
        join marts.fct_lifetime_survival as mart on mart.cohort = 'all' and mart.months = curve.months
        where abs(mart.survival - curve.survival) > 1e-9 or mart.n_at_risk <> curve.n or mart.n_retired <> curve.d
    """).fetchone()[0]
    assert mismatch == 0


def test_cohort_medians_read_off_their_curves(published):
    rows = published.execute("""
        select cohorts.cohort, cohorts.median_months,
               (select min(months) from marts.fct_lifetime_survival as curve
                where curve.cohort = cohorts.cohort and curve.survival < 0.5) as first_below_half
        from marts.fct_lifetime_cohorts as cohorts
    """).fetchall()
    assert rows and all(median == first for _, median, first in rows)


def test_a_rebuild_at_an_earlier_as_of_day_censors_at_that_day(offline_warehouse, tmp_path):
    database = tmp_path / "margins.duckdb"
    shutil.copyfile(offline_warehouse.working_db, database)
    environment = {**os.environ, "MARGINS_WORK_DB": str(database)}
    result = subprocess.run(
        [dbt_executable(), "build", "--select", "fct_lifetime_durations+", "--vars", '{"as_of": "2025-06-30"}',
         "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         # its own target: a parse with --vars in dbt_project/target would stop every later refresh from reusing
         # `make manifest`'s partial parse (dbt re-parses the whole project when the vars' hash differs)
         "--target-path", str(tmp_path / "target")],
        env=environment, cwd=DBT_PROJECT_DIR, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
    with duckdb.connect(str(database), read_only=True) as connection:
        sonnet = connection.execute("""
            select as_of_date, is_retired, round(duration_months, 4) from marts.fct_lifetime_durations
            where model_id = 'claude-3-5-sonnet'""").fetchone()   # released 2024-06-20, retired 2025-10-22
        assert sonnet == (date(2025, 6, 30), False, round((date(2025, 6, 30) - date(2024, 6, 20)).days / 30.4375, 4))
        later = connection.execute("""
            select count(*) filter (where exclusion_reason = 'released on or after the as-of day'),
                   count(*) filter (where release_date >= date '2025-06-30')
            from marts.fct_lifetime_durations""").fetchone()
        assert later[0] == later[1] > 0
        assert connection.execute(
            "select distinct as_of_date from marts.fct_lifetime_survival").fetchall() == [(date(2025, 6, 30),)]


def test_the_survival_marts_are_assets_of_the_daily_refresh_with_blocking_checks(dbt_manifest):
    from dagster import AssetKey

    from pipelines.definitions import defs
    from pipelines.jobs import daily_refresh_job

    graph = defs.resolve_asset_graph()
    selected = daily_refresh_job.selection.resolve(graph)
    marts = [AssetKey(["marts", name]) for name in
             ("fct_lifetime_durations", "fct_lifetime_survival", "fct_lifetime_cohorts", "fct_lifetime_logrank")]
    assert set(marts) <= selected
    assert AssetKey(["marts", "fct_lifetime_durations"]) in graph.get(marts[1]).parent_keys
    assert set(marts) <= graph.get(AssetKey(["published", "margins_duckdb"])).parent_keys
    checks = {check.name for check in graph.asset_check_keys if check.asset_key == marts[1]}
    assert "assert_lifetime_survival_curves_start_at_one_and_never_rise" in checks
    assert "row_rules_fct_lifetime_survival" in checks
    rules = next(node["test_metadata"]["kwargs"]["rules"] for node in dbt_manifest["nodes"].values()
                 if node["name"] == "row_rules_fct_lifetime_survival")
    assert {"column": "ci_low", "expression": "ci_low between 0 and survival", "where": "survival > 0"} in rules
