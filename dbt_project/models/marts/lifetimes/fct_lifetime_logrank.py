"""Log-rank tests of equal lifetime survival across release cohorts (pipelines.survival.survdiff)."""


def model(dbt, session):
    dbt.config(materialized="table")
    from pipelines.survival import logrank_table

    return logrank_table(dbt.ref("fct_lifetime_durations").df())
