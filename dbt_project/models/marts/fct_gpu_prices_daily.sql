-- GPU rental prices per offer per UTC day. Only offers with a known canonical GPU model and GPU count.
-- price_class / basis_provider: whose list price the row is (dim_providers.price_class). A reseller's row counts for
-- the cloud its instance-type prefix names (Shadeform `lambdalabs_H100` -> lambda), else for no one (null).
{{ incremental_by_day(gpu_source_ids()) }}
with daily as (
    {{ daily_from_versions(ref('int_gpu_price_history'), incremental_start_day(gpu_source_ids())) }}
),

providers as (
    select provider, price_class from {{ ref('providers') }}
),

resold as (
    select lower(trim(aliases.alias)) as prefix, providers.provider, providers.price_class
    from {{ ref('provider_aliases') }} as aliases
    inner join providers on providers.provider = aliases.provider
    where providers.price_class is not null and providers.price_class <> 'reseller'
),

classified as (
    select
        daily.*,
        case when sellers.price_class = 'reseller' then resold.provider else daily.provider end as basis_provider,
        case when sellers.price_class = 'reseller' then resold.price_class else sellers.price_class end
            as basis_price_class
    from daily
    left join providers as sellers on sellers.provider = daily.provider
    left join resold
        on sellers.price_class = 'reseller'
        and resold.prefix = lower(split_part(daily.instance_type, '_', 1))
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
        gpu_name, cast(gpu_count as varchar), pricing_type)) as offer_id,
    basis_price_class as price_class,
    basis_provider
from classified
where gpu_model is not null
    and gpu_count is not null
    and pricing_type in ('on_demand', 'spot')
    and usd_per_gpu_hour is not null
-- an offer listed by two scopes of one source on one day (e.g. two trackers): the newest observation wins
qualify row_number() over (
    partition by price_date, source, provider, region, zone, instance_type, gpu_name, gpu_count, pricing_type
    order by observed_at desc, scope
) = 1
