"""Kaplan-Meier survival of commercial lifetimes per cohort (pipelines.survival)."""


def model(dbt, session):
    dbt.config(materialized="table")
    from pipelines.survival import survival_table

    return survival_table(dbt.ref("fct_lifetime_durations").df())
