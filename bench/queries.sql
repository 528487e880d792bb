-- The five analyst queries of issue 7, timed by `make bench` (p50 of repeated runs) on the largest synthetic
-- warehouse it built. Each query starts with a `-- name:` line; they use only the documented marts.

-- name: latest GPU prices by model
-- Newest day: per GPU model, the on-demand USD per GPU-hour range across all offers, and how many providers.
select gpu_model,
       min(usd_per_gpu_hour) as cheapest,
       median(usd_per_gpu_hour) as median,
       max(usd_per_gpu_hour) as dearest,
       count(distinct provider) as providers,
       count(*) as offers
from marts.fct_gpu_prices_daily
where pricing_type = 'on_demand'
  and price_date = (select max(price_date) from marts.fct_gpu_prices_daily)
group by gpu_model
order by gpu_model;

-- name: H100 median over time
-- The cross-provider median on-demand H100 price per month, over the whole history.
select date_trunc('month', price_date) as month,
       round(avg(median_usd_per_gpu_hour), 4) as median_usd_per_gpu_hour,
       round(avg(min_usd_per_gpu_hour), 4) as cheapest,
       max(n_providers) as providers
from marts.fct_gpu_market_daily
where gpu_model = 'H100'
group by all
order by month;

-- name: margin history for one model
-- gpt-4o: implied gross margin per seller per month at the median GPU price, standard tier (the monthly mart:
-- averages over every day, profile and GPU model of the month, as an avg over fct_implied_margins_daily gives).
select month, provider,
       round(implied_gross_margin, 4) as implied_gross_margin,
       round(serving_cost_usd_per_request, 6) as cost_per_request,
       round(api_revenue_usd_per_request, 6) as revenue_per_request
from marts.fct_implied_margins_monthly
where model_id = 'gpt-4o' and gpu_price_basis = 'median' and price_tier = 'standard'
order by month, provider;

-- name: cheapest provider per model
-- Newest day: the provider (and offer) with the cheapest on-demand GPU-hour for each GPU model.
select gpu_model,
       arg_min(provider, usd_per_gpu_hour) as provider,
       arg_min(instance_type, usd_per_gpu_hour) as instance_type,
       arg_min(region, usd_per_gpu_hour) as region,
       min(usd_per_gpu_hour) as usd_per_gpu_hour
from marts.fct_gpu_prices_daily
where pricing_type = 'on_demand'
  and price_date = (select max(price_date) from marts.fct_gpu_prices_daily)
group by gpu_model
order by usd_per_gpu_hour;

-- name: lifetime economics
-- Monthly result per commercial lifetime: at the fixed price, and at the market price averaged per month.
select scenario_id, lifetime_months,
       date_trunc('month', price_date) as month,
       round(avg(usd_per_gpu_hour), 4) as usd_per_gpu_hour,
       round(avg(monthly_result_usd), 0) as monthly_result_usd,
       round(avg(breakeven_lifetime_months), 2) as breakeven_months,
       round(avg(breakeven_usd_per_1m_output_tokens), 4) as breakeven_usd_per_1m_output
from marts.fct_lifetime_economics
group by all
order by scenario_id, month nulls first, lifetime_months;
