-- Each model's commercial lifetime: release to retirement, or to date while it is still sold, with its release
-- cohort (year-quarter), so lifetimes can be compared across cohorts. Dates and their sources as in dim_models.
-- Lifetimes run to the as-of day; a model released after it has no lifetime yet (null).
with models as (
    select
        *,
        coalesce(retirement_date <= {{ as_of_day() }}, false) as has_retired
    from {{ ref('dim_models') }}
)

select
    model_id,
    organization,
    release_date,
    retirement_date,
    case when release_date <= {{ as_of_day() }} then
        round(date_diff('day', release_date, case when has_retired then retirement_date else {{ as_of_day() }} end)
            / 30.4375, 1)
    end as lifetime_months,
    has_retired as is_retired,
    cast(extract(year from release_date) as varchar) || '-Q' || cast(extract(quarter from release_date) as varchar)
        as release_cohort,
    release_date_source,
    retirement_date_source,
    first_seen_date,
    last_seen_date,
    is_first_seen_censored,
    is_still_listed
from models
