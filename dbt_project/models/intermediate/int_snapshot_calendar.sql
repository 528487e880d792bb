-- One row per (source, scope, UTC day) from the scope's first snapshot to the as-of day, with the newest snapshot
-- of that scope up to the end of the day (and whether its date is estimated). Past a source's newest snapshot its
-- prices are carried forward (daily_from_versions caps them at max_days_without_confirmation after the last one).
with snapshot_days as (
    select source, scope, {{ utc_date('observed_at') }} as snapshot_day, max(observed_at) as observed_at,
        arg_max(is_date_estimated, observed_at) as is_date_estimated
    from {{ ref('int_snapshots') }}
    group by source, scope, {{ utc_date('observed_at') }}
),

scope_bounds as (
    select
        source,
        scope,
        min(snapshot_day) as first_day
    from snapshot_days
    group by source, scope
),

days as (
    select scope_bounds.source, scope_bounds.scope, cast(day_value as date) as snapshot_day
    from scope_bounds,
        lateral (select unnest(generate_series(scope_bounds.first_day, {{ as_of_day() }},
            interval 1 day)) as day_value)
)

select
    days.source,
    days.scope,
    days.snapshot_day,
    max(snapshot_days.observed_at) over (
        partition by days.source, days.scope order by days.snapshot_day rows unbounded preceding
    ) as latest_observed_at,
    last_value(snapshot_days.is_date_estimated ignore nulls) over (
        partition by days.source, days.scope order by days.snapshot_day rows unbounded preceding
    ) as latest_is_date_estimated
from days
left join snapshot_days
    on snapshot_days.source = days.source
    and snapshot_days.scope = days.scope
    and snapshot_days.snapshot_day = days.snapshot_day
