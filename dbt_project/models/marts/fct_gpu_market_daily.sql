-- The GPU price basis per day: each provider's cheapest on-demand per-GPU price for the exact GPU model
-- (regions and instance sizes collapsed), then min / median / max across providers.
{{ incremental_by_day(var('gpu_sources')) }}
with provider_prices as (
    select price_date, gpu_model, provider, min(usd_per_gpu_hour) as usd_per_gpu_hour
    from {{ ref('fct_gpu_prices_daily') }}
    where pricing_type = 'on_demand'
        and price_date >= {{ incremental_start_day(var('gpu_sources')) }}
    group by price_date, gpu_model, provider
)

select
    price_date,
    gpu_model,
    cast(min(usd_per_gpu_hour) as decimal(18, 6)) as min_usd_per_gpu_hour,
    cast(median(usd_per_gpu_hour) as decimal(18, 6)) as median_usd_per_gpu_hour,
    cast(max(usd_per_gpu_hour) as decimal(18, 6)) as max_usd_per_gpu_hour,
    count(*) as n_providers
from provider_prices
group by price_date, gpu_model
