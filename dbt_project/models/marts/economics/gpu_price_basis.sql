-- The list-price GPU basis per day and GPU model as one row per basis (min, median, max across cloud providers).
{{ config(materialized='view') }}
with market as (
    select * from {{ ref('fct_gpu_market_daily') }}
)

select price_date, gpu_model, 'min' as gpu_price_basis, min_usd_per_gpu_hour as usd_per_gpu_hour, n_providers,
    days_since_oldest_input_observed
from market
union all
select price_date, gpu_model, 'median', median_usd_per_gpu_hour, n_providers, days_since_oldest_input_observed
from market
union all
select price_date, gpu_model, 'max', max_usd_per_gpu_hour, n_providers, days_since_oldest_input_observed
from market
