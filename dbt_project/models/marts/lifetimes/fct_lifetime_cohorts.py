"""Per survival cohort: models, retirements, censored models and the median lifetime with its interval."""


def model(dbt, session):
    dbt.config(materialized="table")
    from pipelines.survival import cohort_table

    return cohort_table(dbt.ref("fct_lifetime_durations").df())
