-- The sequence of snapshots per source and scope, each with the next one (where the history moves on).
with distinct_snapshots as (
    select
        source,
        scope,
        observed_at,
        bool_or(mode = 'live') as is_live,
        bool_and(is_date_estimated) as is_date_estimated
    from {{ ref('stg_snapshots') }}
    group by source, scope, observed_at
)

select
    source,
    scope,
    observed_at,
    lead(observed_at) over (partition by source, scope order by observed_at) as next_observed_at,
    is_live,
    is_date_estimated
from distinct_snapshots
