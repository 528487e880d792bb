-- One row per GPU offer per snapshot: the parsed rows of each payload placed at every snapshot it was fetched in.
with placed as (
    {{ observations_at_snapshots(ref('stg_gpu_observations')) }}
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
