-- The sequence of snapshots per source and scope: each with its number in the sequence, the previous and the next
-- one, and when it was loaded (the newest load of any payload at that instant).
with distinct_snapshots as (
    select
        source,
        scope,
        observed_at,
        bool_or(mode = 'live') as is_live,
        bool_and(is_date_estimated) as is_date_estimated,
        max(landed_at) as landed_at
    from {{ ref('stg_snapshots') }}
    group by source, scope, observed_at
)

select
    source,
    scope,
    observed_at,
    row_number() over scope_sequence as snapshot_number,
    lag(observed_at) over scope_sequence as previous_observed_at,
    lead(observed_at) over scope_sequence as next_observed_at,
    is_live,
    is_date_estimated,
    landed_at
from distinct_snapshots
window scope_sequence as (partition by source, scope order by observed_at)
