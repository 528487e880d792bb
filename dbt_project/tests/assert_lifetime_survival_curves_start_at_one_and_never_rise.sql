-- Every Kaplan-Meier curve of fct_lifetime_survival starts at months 0 with survival 1 and never rises.
with ordered as (
    select
        cohort,
        months,
        survival,
        row_number() over (partition by cohort order by months) as position,
        lag(survival) over (partition by cohort order by months) as previous_survival
    from {{ ref('fct_lifetime_survival') }}
)

select cohort, months, survival, previous_survival,
    case when position = 1 then 'does not start at months 0 with survival 1' else 'survival rises' end as broken_rule
from ordered
where (position = 1 and (months <> 0 or survival <> 1))
    or survival > previous_survival + 1e-12
