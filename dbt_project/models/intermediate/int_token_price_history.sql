-- Change-only token price history: one row per (source, provider, model key) per price version.
-- A model deleted from the source keeps its history up to the last snapshot that listed it. Versions whose
-- input or output price moved more than 5x (or fell more than 80%) are flagged (see flag_price_moves).
{% set key_columns = ['source', 'scope', 'provider', 'source_model_key'] %}
with versions as (
    {{ price_versions(
        ref('int_token_offer_observations'),
        key_columns=key_columns,
        value_columns=['source_provider', 'model_alias', 'model_id', 'mode', 'usd_per_1m_input', 'usd_per_1m_output',
                       'usd_per_1m_cached_input', 'usd_per_1m_cache_write', 'usd_per_1m_batch_input',
                       'usd_per_1m_batch_output', 'long_context_threshold_tokens', 'usd_per_1m_input_long_context',
                       'usd_per_1m_output_long_context', 'max_input_tokens', 'deprecation_date', 'is_free',
                       'has_variable_price']
    ) }}
)

{{ flag_price_moves('versions', key_columns, ['usd_per_1m_input', 'usd_per_1m_output']) }}
