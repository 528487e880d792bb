-- One row per GPU offer per snapshot: the parsed rows of each payload placed at every snapshot it was
-- fetched in (a repeat fetch confirms; a reverted payload reverts). One row per offer and snapshot.
with placed as (
    select
        observations.*,
        snapshots.observed_at,
        snapshots.next_observed_at,
        snapshots.is_date_estimated
    from {{ ref('stg_gpu_observations') }} as observations
    inner join {{ ref('stg_snapshots') }} as landed
        on landed.source = observations.source
        and landed.sha256 = observations.sha256
        and landed.scope = observations.scope
        and (observations.row_observed_at is null or observations.row_observed_at = landed.observed_at)
    inner join {{ ref('int_snapshots') }} as snapshots
        on snapshots.source = landed.source
        and snapshots.scope = landed.scope
        and snapshots.observed_at = landed.observed_at
)

select
    source, scope, provider, region, zone, instance_type, gpu_name, gpu_model, gpu_count, pricing_type,
    usd_per_hour, usd_per_gpu_hour, source_gpu_count, gpu_count_disagrees, observed_at, next_observed_at,
    is_date_estimated
from placed
-- a snapshot may list one offer twice (e.g. two payloads at one instant): keep its cheapest row
qualify row_number() over (
    partition by source, scope, provider, region, zone, instance_type, gpu_name, gpu_count, pricing_type,
        observed_at
    order by usd_per_hour, usd_per_gpu_hour
) = 1
