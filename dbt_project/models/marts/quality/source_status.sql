-- Per source: its last live attempt and success, last error, rows, and whether it is stale (no successful
-- live fetch in the last 36 hours; bundled snapshots don't count); and whether its upstream content is stale
-- (unchanged for longer than its upstream_stale_after_days in dim_sources), however often the fetch succeeds.
-- "Now" is the end of the as-of day, or the build time when that is earlier (a build for today).
with fetches as (
    select * from {{ ref('stg_fetch_log') }}
    where fetched_at < {{ as_of_end() }}
),

last_success as (
    select source, run_id, fetched_at
    from fetches
    where mode = 'live' and status = 'ok'
    qualify row_number() over (partition by source order by fetched_at desc) = 1
),

per_source as (
    select
        source,
        max(case when mode = 'live' and status <> 'skipped' then fetched_at end) as last_attempt_at,
        max(case when mode = 'live' and status = 'ok' then fetched_at end) as last_success_at,
        max(case when mode = 'bundled' then fetched_at end) as last_bundled_load_at,
        arg_max(error, fetched_at) filter (where status in ('error', 'rejected', 'suspect')) as last_error,
        max(fetched_at) filter (where status in ('error', 'rejected', 'suspect')) as last_error_at,
        arg_max(status, fetched_at) as last_status,
        arg_max(error, fetched_at) filter (where status = 'skipped') as last_skip_reason
    from fetches
    group by source
),

rows_last_success as (
    select fetches.source, sum(fetches.rows_parsed) as rows_last_success
    from fetches
    inner join last_success
        on last_success.source = fetches.source and last_success.run_id = fetches.run_id
    where fetches.status = 'ok'
    group by fetches.source
),

observations as (
    select source, max(observed_at) as newest_observed_at, count(*) as n_snapshots
    from {{ ref('int_snapshots') }}
    where observed_at < {{ as_of_end() }}
    group by source
),

-- The change logs hold a row only where a snapshot's parsed rows differ from the previous one (new, changed or
-- removed offers): the newest such row is when the upstream content last changed.
changes as (
    select source, observed_at from {{ ref('stg_gpu_observations') }}
    union all
    select source, observed_at from {{ ref('stg_token_observations') }}
),

upstream as (
    select source, max(observed_at) as upstream_changed_at
    from changes
    where observed_at < {{ as_of_end() }}
    group by source
)

select
    sources.source,
    per_source.last_attempt_at,
    per_source.last_success_at,
    per_source.last_error,
    rows_last_success.rows_last_success,
    per_source.last_success_at is null
        or per_source.last_success_at < least(now(), {{ as_of_end() }}) - interval 36 hour as is_stale,
    per_source.last_error_at,
    per_source.last_status,
    per_source.last_skip_reason,
    per_source.last_bundled_load_at,
    observations.newest_observed_at,
    coalesce(observations.n_snapshots, 0) as n_snapshots,
    sources.kind,
    upstream.upstream_changed_at,
    -- a source with no landed content has nothing to be stale about (is_stale says it never succeeded)
    coalesce(
        upstream.upstream_changed_at
            < least(now(), {{ as_of_end() }}) - to_days(sources.upstream_stale_after_days),
        false) as is_upstream_stale,
    sources.upstream_stale_after_days
from {{ ref('sources') }} as sources
left join per_source on per_source.source = sources.source
left join rows_last_success on rows_last_success.source = sources.source
left join observations on observations.source = sources.source
left join upstream on upstream.source = sources.source
