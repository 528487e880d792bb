-- Same-day pairs of one cloud's instance price as the SkyPilot catalog and that cloud's own price API state it
-- (kind gpu_cross_source): same provider, region, instance type and pricing type, USD per instance-hour, one
-- row per pair whether they agree or not (price_discrepancies keeps the disagreements). Zones are collapsed to
-- the region's cheapest (SkyPilot lists AWS/GCP prices per zone, the APIs per region). Not paired: GCP's API,
-- which prices the GPU part of an instance only (no instance type), and Vast, whose rows are aggregates over
-- marketplace offers. Side b, the cloud's own API, is the source to believe (dim_sources precedence).
with offers as (
    select
        prices.price_date,
        prices.source,
        prices.provider,
        prices.region,
        prices.instance_type,
        prices.pricing_type,
        min(prices.usd_per_hour) as usd_per_hour,
        max(prices.observed_at) as observed_at
    from {{ ref('fct_gpu_prices_daily') }} as prices
    where prices.instance_type is not null
        and prices.region is not null
        and (prices.source = 'skypilot' or prices.source in (
            select source from {{ ref('sources') }}
            where kind = 'gpu' and source_class = 'provider_api' and source not in ('gcp', 'vast')
        ))
    group by all
)

select
    catalog.price_date,
    'gpu_cross_source' as kind,
    catalog.provider,
    cast(null as varchar) as model_id,
    catalog.instance_type,
    catalog.region,
    catalog.pricing_type,
    'usd_per_hour' as price_column,
    catalog.source as source_a,
    catalog.instance_type as subject_a,
    cast(catalog.usd_per_hour as decimal(18, 6)) as value_a,
    catalog.observed_at as observed_at_a,
    api.source as source_b,
    api.instance_type as subject_b,
    cast(api.usd_per_hour as decimal(18, 6)) as value_b,
    api.observed_at as observed_at_b
from offers as catalog
inner join offers as api
    on api.price_date = catalog.price_date
    and api.source = catalog.provider
    and api.provider = catalog.provider
    and api.region = catalog.region
    and api.instance_type = catalog.instance_type
    and api.pricing_type = catalog.pricing_type
where catalog.source = 'skypilot'
