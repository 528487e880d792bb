-- One continuous daily price series per (seller, model, source): the model's prices whichever of the seller's keys
-- carries them, so a renamed key (together_ai Meta-Llama-3.1-405B-Instruct-Turbo -> Llama-3.1-405B-Instruct)
-- continues the same series. On a day with several keys of one seller for the model, the newest-observed key wins,
-- then the key that appeared most recently (a rename or a newer dated snapshot), then the key name.
{{ incremental_by_day(var('token_sources')) }}
with prices as (
    select * from {{ ref('fct_token_prices_daily') }}
    where model_id is not null
        and price_date >= {{ incremental_start_day(var('token_sources')) }}
),

-- the key's first version starts at its first change that is not a removal (read from the change log, which is
-- cheaper than the history view)
key_first_seen as (
    select source, provider, source_model_key, min(observed_at) as key_first_seen_at
    from {{ ref('stg_token_observations') }}
    where not is_removed
    group by source, provider, source_model_key
)

select
    prices.price_date,
    prices.provider,
    prices.model_id,
    prices.source,
    prices.source_model_key,
    prices.usd_per_1m_input,
    prices.usd_per_1m_output,
    prices.usd_per_1m_cached_input,
    prices.usd_per_1m_cache_write,
    prices.usd_per_1m_batch_input,
    prices.usd_per_1m_batch_output,
    prices.long_context_threshold_tokens,
    prices.usd_per_1m_input_long_context,
    prices.usd_per_1m_output_long_context,
    prices.is_free,
    prices.has_variable_price,
    prices.observed_at,
    prices.days_since_observed,
    key_first_seen.key_first_seen_at,
    count(*) over same_day as n_keys
from prices
inner join key_first_seen
    on key_first_seen.source = prices.source
    and key_first_seen.provider = prices.provider
    and key_first_seen.source_model_key = prices.source_model_key
window same_day as (partition by prices.price_date, prices.source, prices.provider, prices.model_id)
qualify row_number() over (
    partition by prices.price_date, prices.source, prices.provider, prices.model_id
    order by prices.observed_at desc, key_first_seen.key_first_seen_at desc, prices.source_model_key
) = 1
