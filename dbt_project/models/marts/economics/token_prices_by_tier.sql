-- Each day's API price of a mapped model per price tier, from each seller's one series (fct_model_prices_daily):
--   standard: input and output prices;  batch: batch input and output prices;
--   cached: a share `cache_hit_share` (dbt var) of input tokens billed at the cached-input price, the rest at the
--   input price (usd_per_1m_input is that blend); never every input token at the cached price.
-- Left out: suspect prices (fct_token_prices_daily.is_suspect), free prices (0/0), and a seller's price on or after
-- its key's deprecation date or the model's retirement at its own organisation's API (dim_models).
{{ config(materialized='view') }}
with prices as (
    select series.*
    from {{ ref('fct_model_prices_daily') }} as series
    left join {{ ref('dim_models') }} as models on models.model_id = series.model_id
    where not series.is_suspect
        and not coalesce(series.is_free, false)
        and (series.deprecation_date is null or series.price_date < series.deprecation_date)
        and not (models.retirement_date is not null and series.price_date >= models.retirement_date
            and series.provider = {{ organization_api('models.organization') }})
),

tiers as (
    select price_date, model_id, provider, source, source_model_key, 'standard' as price_tier,
        usd_per_1m_input, usd_per_1m_output, cast(null as decimal(18, 6)) as usd_per_1m_cached_input,
        cast(null as double) as cache_hit_share, max_input_tokens, days_since_observed
    from prices

    union all

    select price_date, model_id, provider, source, batch_source_model_key, 'batch',
        usd_per_1m_batch_input, usd_per_1m_batch_output, null, null, max_input_tokens, days_since_observed
    from prices

    union all

    select price_date, model_id, provider, source, source_model_key, 'cached',
        cast(usd_per_1m_input * (1 - {{ var('cache_hit_share') }})
            + usd_per_1m_cached_input * {{ var('cache_hit_share') }} as decimal(18, 6)),
        usd_per_1m_output, usd_per_1m_cached_input, {{ var('cache_hit_share') }}, max_input_tokens,
        days_since_observed
    from prices
    where usd_per_1m_cached_input is not null
)

select *
from tiers
where usd_per_1m_input is not null
    and usd_per_1m_output is not null
    and usd_per_1m_input + usd_per_1m_output > 0
