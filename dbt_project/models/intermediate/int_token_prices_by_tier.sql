-- Each day's API price of a mapped model per price tier, from each seller's one series (fct_model_prices_daily):
-- standard, batch (batch input and output prices), cached (the cached-input price for every input token: an upper
-- bound on the discount). Suspect prices (fct_token_prices_daily.is_suspect) and free prices (0/0) price nothing.
{{ config(materialized='view') }}
with prices as (
    select * from {{ ref('fct_model_prices_daily') }}
    where not is_suspect
        and not coalesce(is_free, false)
),

tiers as (
    select price_date, model_id, provider, source, source_model_key, 'standard' as price_tier,
        usd_per_1m_input, usd_per_1m_output, days_since_observed
    from prices

    union all

    select price_date, model_id, provider, source, batch_source_model_key, 'batch' as price_tier,
        usd_per_1m_batch_input, usd_per_1m_batch_output, days_since_observed
    from prices

    union all

    select price_date, model_id, provider, source, source_model_key, 'cached' as price_tier,
        usd_per_1m_cached_input, usd_per_1m_output, days_since_observed
    from prices
)

select *
from tiers
where usd_per_1m_input is not null
    and usd_per_1m_output is not null
    and usd_per_1m_input + usd_per_1m_output > 0
