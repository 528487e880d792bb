-- One row per model: the commercial lifetime that enters the survival analysis (pipelines/survival.py), censored at
-- the as-of day. A model retired on or before the as-of day is an event at its lifetime; a model still sold, or
-- whose announced retirement lies after the as-of day, is censored at the as-of day (its lifetime so far is a
-- lower bound). Models without a known release, released after the as-of day, or retired before their release
-- are kept with a null duration and the reason.
with models as (
    select
        model_id,
        organization,
        release_date,
        retirement_date,
        {{ as_of_day() }} as as_of_date
    from {{ ref('fct_model_lifetimes') }}
),

observed as (
    select
        *,
        coalesce(retirement_date <= as_of_date, false) as is_retired,
        case
            when release_date is null then 'release date unknown'
            when release_date >= as_of_date then 'released on or after the as-of day'
            when retirement_date <= release_date then 'retired on or before its release day'
        end as exclusion_reason
    from models
)

select
    model_id,
    organization,
    release_date,
    retirement_date,
    cast(extract(year from release_date) as integer) as release_year,
    as_of_date,
    case when exclusion_reason is null
        then case when is_retired then retirement_date else as_of_date end
    end as end_date,
    case when exclusion_reason is null
        then date_diff('day', release_date, case when is_retired then retirement_date else as_of_date end) / 30.4375
    end as duration_months,
    is_retired,
    not is_retired as is_censored,
    exclusion_reason
from observed
