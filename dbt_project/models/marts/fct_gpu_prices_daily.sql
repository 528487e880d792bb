-- GPU rental prices per offer per UTC day. Only offers with a known canonical GPU model and GPU count.
{{ incremental_by_day(var('gpu_sources')) }}
with daily as (
    {{ daily_from_versions(ref('int_gpu_price_history'), incremental_start_day(var('gpu_sources'))) }}
)

select
    price_date,
    provider,
    region,
    zone,
    instance_type,
    gpu_model,
    gpu_count,
    pricing_type,
    usd_per_hour,
    usd_per_gpu_hour,
    source,
    observed_at,
    days_since_observed,
    observed_is_date_estimated as is_date_estimated,
    gpu_count_disagrees,
    md5(concat_ws('|', source, provider, coalesce(region, ''), coalesce(zone, ''), coalesce(instance_type, ''),
        gpu_name, cast(gpu_count as varchar), pricing_type)) as offer_id
from daily
where gpu_model is not null
    and gpu_count is not null
    and pricing_type in ('on_demand', 'spot')
    and usd_per_gpu_hour is not null
-- an offer listed by two scopes of one source on one day (e.g. two trackers): the newest observation wins
qualify row_number() over (
    partition by price_date, source, provider, region, zone, instance_type, gpu_name, gpu_count, pricing_type
    order by observed_at desc, scope
) = 1
