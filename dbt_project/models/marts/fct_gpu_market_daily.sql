-- The GPU price basis per day (README "Formulas"): each `cloud` provider (published list prices, see
-- dim_providers.price_class; a reseller's row counts for the cloud it resells) contributes its cheapest on-demand
-- per-GPU price for the exact GPU model (regions and instance sizes collapsed); min / median / max are taken across
-- those providers. Marketplace (peer-to-peer, auction) and spot prices never enter that basis: their medians are
-- columns beside it. A day has a row when at least one cloud provider lists the GPU on demand.
{{ incremental_by_day(gpu_source_ids()) }}
with offers as (
    select *
    from {{ ref('fct_gpu_prices_daily') }}
    where basis_provider is not null
        and price_date >= {{ incremental_start_day(gpu_source_ids()) }}
),

-- each provider's cheapest price per (class, pricing type), and the age of the observation behind it
provider_prices as (
    select
        price_date,
        gpu_model,
        basis_provider as provider,
        price_class,
        pricing_type,
        min(usd_per_gpu_hour) as usd_per_gpu_hour,
        -- ties broken on the values themselves, so every build (incremental or full) picks the same
        arg_min(days_since_observed, (usd_per_gpu_hour, days_since_observed)) as days_since_observed
    from offers
    group by all
),

list_basis as (
    select
        price_date,
        gpu_model,
        min(usd_per_gpu_hour) as min_usd_per_gpu_hour,
        median(usd_per_gpu_hour) as median_usd_per_gpu_hour,
        max(usd_per_gpu_hour) as max_usd_per_gpu_hour,
        arg_min(provider, (usd_per_gpu_hour, provider)) as min_provider,
        arg_max(provider, (usd_per_gpu_hour, provider)) as max_provider,
        count(*) as n_providers,
        max(days_since_observed) as days_since_oldest_input_observed
    from provider_prices
    where price_class = 'cloud' and pricing_type = 'on_demand'
    group by price_date, gpu_model
),

marketplace as (
    select price_date, gpu_model, median(usd_per_gpu_hour) as usd_per_gpu_hour, count(*) as n_providers
    from provider_prices
    where price_class = 'marketplace' and pricing_type = 'on_demand'
    group by price_date, gpu_model
),

spot as (
    select price_date, gpu_model, median(usd_per_gpu_hour) as usd_per_gpu_hour, count(*) as n_providers
    from provider_prices
    where price_class = 'cloud' and pricing_type = 'spot'
    group by price_date, gpu_model
)

select
    list_basis.price_date,
    list_basis.gpu_model,
    cast(list_basis.min_usd_per_gpu_hour as decimal(18, 6)) as min_usd_per_gpu_hour,
    cast(list_basis.median_usd_per_gpu_hour as decimal(18, 6)) as median_usd_per_gpu_hour,
    cast(list_basis.max_usd_per_gpu_hour as decimal(18, 6)) as max_usd_per_gpu_hour,
    list_basis.n_providers,
    list_basis.n_providers < 3 as is_thin_market,
    cast(marketplace.usd_per_gpu_hour as decimal(18, 6)) as marketplace_median_usd_per_gpu_hour,
    coalesce(marketplace.n_providers, 0) as n_marketplace_providers,
    cast(spot.usd_per_gpu_hour as decimal(18, 6)) as spot_median_usd_per_gpu_hour,
    coalesce(spot.n_providers, 0) as n_spot_providers,
    list_basis.min_provider,
    list_basis.max_provider,
    list_basis.days_since_oldest_input_observed
from list_basis
left join marketplace
    on marketplace.price_date = list_basis.price_date and marketplace.gpu_model = list_basis.gpu_model
left join spot
    on spot.price_date = list_basis.price_date and spot.gpu_model = list_basis.gpu_model
