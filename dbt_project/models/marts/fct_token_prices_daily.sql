-- API token prices (USD per 1M tokens) per seller and model key per UTC day. `model_id` is null for keys
-- the alias seed does not map yet (listed in unmapped_model_aliases).
{{ incremental_by_day(var('token_sources')) }}
with daily as (
    {{ daily_from_versions(ref('int_token_price_history'), incremental_start_day(var('token_sources'))) }}
)

select
    price_date,
    provider,
    model_id,
    source_model_key,
    usd_per_1m_input,
    usd_per_1m_output,
    usd_per_1m_cached_input,
    usd_per_1m_batch_input,
    usd_per_1m_batch_output,
    source,
    observed_at,
    days_since_observed,
    usd_per_1m_cache_write,
    long_context_threshold_tokens,
    usd_per_1m_input_long_context,
    usd_per_1m_output_long_context,
    max_input_tokens,
    deprecation_date,
    mode,
    is_free,
    has_variable_price,
    source_provider
from daily
-- a key in two scopes of one source on one day (full file and monthly history): the newest observation wins
qualify row_number() over (
    partition by price_date, source, provider, source_model_key
    order by observed_at desc, scope
) = 1
