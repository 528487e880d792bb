-- Change-only token price history: one row per (source, provider, model key) per price version.
-- A model deleted from the source keeps its history up to the last snapshot that listed it. Versions whose
-- input or output price moved more than 5x (or fell more than 80%) are flagged (see flag_price_moves).
-- A view over the change log: the versions are the stored changes, not a second copy of them.
{{ config(materialized='view') }}
{% set key_columns = ['source', 'scope', 'provider', 'source_model_key'] %}
with changes as (
    select * from {{ ref('stg_token_observations') }}
),

versions as (
    {{ versions_from_changes(
        'changes',
        key_columns=key_columns,
        value_columns=['source_provider', 'model_alias', 'model_id', 'mode', 'usd_per_1m_input', 'usd_per_1m_output',
                       'usd_per_1m_cached_input', 'usd_per_1m_cache_write', 'usd_per_1m_batch_input',
                       'usd_per_1m_batch_output', 'long_context_threshold_tokens', 'usd_per_1m_input_long_context',
                       'usd_per_1m_output_long_context', 'max_input_tokens', 'deprecation_date', 'is_free',
                       'has_variable_price'],
        preferred_last='source_provider desc, usd_per_1m_input desc nulls first, usd_per_1m_output desc nulls first'
    ) }}
)

{{ flag_price_moves('versions', key_columns, ['usd_per_1m_input', 'usd_per_1m_output']) }}
