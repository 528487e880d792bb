-- Each day's API price of a mapped model per price tier: standard, batch (batch input and output prices),
-- cached (the cached-input price for every input token: an upper bound on the discount).
{{ config(materialized='view') }}
with prices as (
    select * from {{ ref('fct_token_prices_daily') }}
    where model_id is not null
)

select price_date, model_id, provider, source, source_model_key, 'standard' as price_tier,
    usd_per_1m_input, usd_per_1m_output
from prices
where usd_per_1m_input is not null and usd_per_1m_output is not null

union all

select price_date, model_id, provider, source, source_model_key, 'batch' as price_tier,
    usd_per_1m_batch_input, usd_per_1m_batch_output
from prices
where usd_per_1m_batch_input is not null and usd_per_1m_batch_output is not null

union all

select price_date, model_id, provider, source, source_model_key, 'cached' as price_tier,
    usd_per_1m_cached_input, usd_per_1m_output
from prices
where usd_per_1m_cached_input is not null and usd_per_1m_output is not null
