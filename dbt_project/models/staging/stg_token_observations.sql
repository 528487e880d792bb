-- Token price observations with canonical provider and model_id (normalised key looked up in the alias seed).
with observations as (
    select * from ({{ union_source_tables(token_source_ids()) }})
    where observed_at < {{ as_of_end() }}
),

normalised as (
    select
        observations.*,
        {{ normalize_model_key('source_model_key') }} as model_alias
    from observations
)

select
    normalised.source,
    normalised.sha256,
    normalised.scope,
    normalised.observed_at,
    normalised.is_removed,
    coalesce(provider_aliases.provider, lower(trim(normalised.provider))) as provider,
    normalised.provider as source_provider,
    normalised.source_model_key,
    normalised.model_alias,
    model_aliases.model_id,
    normalised.mode,
    normalised.usd_per_1m_input,
    normalised.usd_per_1m_output,
    normalised.usd_per_1m_cached_input,
    normalised.usd_per_1m_cache_write,
    normalised.usd_per_1m_batch_input,
    normalised.usd_per_1m_batch_output,
    normalised.long_context_threshold_tokens,
    normalised.usd_per_1m_input_long_context,
    normalised.usd_per_1m_output_long_context,
    normalised.max_input_tokens,
    normalised.deprecation_date,
    normalised.is_free,
    normalised.has_variable_price
from normalised
left join {{ ref('provider_aliases') }} as provider_aliases
    on lower(trim(provider_aliases.alias)) = lower(trim(normalised.provider))
-- a dated alias (an API name re-pointed to a newer model) maps by the observation's day; fct_token_prices_daily
-- maps again by price_date, since a version holds across the alias' change
left join {{ ref('model_aliases') }} as model_aliases
    on model_aliases.alias = normalised.model_alias
    and {{ alias_valid_on('model_aliases', utc_date('normalised.observed_at')) }}
