-- One row per (source, provider, model key) per snapshot, the payload's rows placed at every snapshot it was
-- fetched in.
with placed as (
    select
        observations.*,
        snapshots.observed_at,
        snapshots.next_observed_at
    from {{ ref('stg_token_observations') }} as observations
    inner join {{ ref('stg_snapshots') }} as landed
        on landed.source = observations.source
        and landed.sha256 = observations.sha256
        and landed.scope = observations.scope
        and (observations.row_observed_at is null or observations.row_observed_at = landed.observed_at)
    inner join {{ ref('int_snapshots') }} as snapshots
        on snapshots.source = landed.source
        and snapshots.scope = landed.scope
        and snapshots.observed_at = landed.observed_at
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
