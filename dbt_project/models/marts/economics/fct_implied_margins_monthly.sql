-- Monthly summary of fct_implied_margins_daily per model, seller, price tier and GPU price basis: the margin
-- history an analyst charts, pre-aggregated so it reads a few thousand rows instead of the daily mart.
-- Averages are over every day, profile, GPU model and key of the month of the model itself or its central proxy
-- (a closed model's other proxy classes only widen the band); they are summed as decimals so that the result does
-- not depend on the order rows arrive in. The band (margin_low / _central / _high) is the month's average of the
-- daily headline estimate (fct_margin_estimates_daily, median GPU basis rows only).
{{ incremental_by_day(source_ids(), 'month', 'month') }}
with monthly as (
    select
        cast(date_trunc('month', price_date) as date) as month,
        model_id,
        provider,
        price_tier,
        gpu_price_basis,
        bool_or(is_proxy) as is_proxy,
        cast(avg(cast(implied_gross_margin as decimal(38, 18))) as double) as implied_gross_margin,
        cast(median(implied_gross_margin) as double) as median_implied_gross_margin,
        cast(min(implied_gross_margin) as double) as min_implied_gross_margin,
        cast(max(implied_gross_margin) as double) as max_implied_gross_margin,
        cast(avg(cast(serving_cost_usd_per_request as decimal(38, 18))) as double) as serving_cost_usd_per_request,
        cast(avg(cast(api_revenue_usd_per_request as decimal(38, 18))) as double) as api_revenue_usd_per_request,
        count(distinct price_date) as n_days,
        count(distinct profile_id) as n_profiles,
        count(*) as n_rows
    from {{ ref('fct_implied_margins_daily') }}
    where price_date >= date_trunc('month', {{ incremental_start_day(source_ids()) }})
        and is_central_proxy
    group by all
),

bands as (
    select
        cast(date_trunc('month', price_date) as date) as month,
        model_id,
        provider,
        price_tier,
        'median' as gpu_price_basis,
        cast(avg(cast(margin_low as decimal(38, 18))) as double) as margin_low,
        cast(avg(cast(margin_central as decimal(38, 18))) as double) as margin_central,
        cast(avg(cast(margin_high as decimal(38, 18))) as double) as margin_high
    from {{ ref('fct_margin_estimates_daily') }}
    where price_date >= date_trunc('month', {{ incremental_start_day(source_ids()) }})
    group by all
)

select monthly.*, bands.margin_low, bands.margin_central, bands.margin_high
from monthly
left join bands
    on bands.month = monthly.month
    and bands.model_id = monthly.model_id
    and bands.provider = monthly.provider
    and bands.price_tier = monthly.price_tier
    and bands.gpu_price_basis = monthly.gpu_price_basis
