-- One row per (source, provider, model key) per snapshot, the payload's rows placed at every snapshot it was
-- fetched in.
with placed as (
    {{ observations_at_snapshots(ref('stg_token_observations')) }}
)

select
    source, scope, provider, source_provider, source_model_key, model_alias, model_id, mode,
    usd_per_1m_input, usd_per_1m_output, usd_per_1m_cached_input, usd_per_1m_cache_write,
    usd_per_1m_batch_input, usd_per_1m_batch_output, long_context_threshold_tokens,
    usd_per_1m_input_long_context, usd_per_1m_output_long_context, max_input_tokens, deprecation_date,
    is_free, has_variable_price, observed_at, next_observed_at
from placed
qualify row_number() over (
    partition by source, scope, provider, source_model_key, observed_at
    order by source_provider, usd_per_1m_input, usd_per_1m_output
) = 1
