{#-
  The GPU and token price histories from their change logs (staging rows): versions (versions_from_changes)
  flagged for big moves (flag_price_moves). int_*_price_history are these over every offer; price_anomalies and
  unmapped_gpu_aliases call them on the changes of just the offers they need.
-#}
{% macro gpu_offer_key() -%}
    {{ return(['source', 'scope', 'provider', 'region', 'zone', 'instance_type', 'gpu_name', 'gpu_count',
               'pricing_type']) }}
{%- endmacro %}

{% macro token_offer_key() -%}
    {{ return(['source', 'scope', 'provider', 'source_model_key']) }}
{%- endmacro %}

{% macro gpu_price_history(changes_relation) -%}
with versions as (
    {{ versions_from_changes(
        changes_relation,
        key_columns=gpu_offer_key(),
        value_columns=['gpu_model', 'usd_per_hour', 'usd_per_gpu_hour', 'source_gpu_count', 'gpu_count_disagrees'],
        preferred_last='usd_per_hour desc nulls first, usd_per_gpu_hour desc nulls first'
    ) }}
)

{{ flag_price_moves('versions', gpu_offer_key(), ['usd_per_gpu_hour']) }}
{%- endmacro %}

{% macro token_price_history(changes_relation) -%}
with versions as (
    {{ versions_from_changes(
        changes_relation,
        key_columns=token_offer_key(),
        value_columns=['source_provider', 'model_alias', 'model_id', 'mode', 'usd_per_1m_input', 'usd_per_1m_output',
                       'usd_per_1m_cached_input', 'usd_per_1m_cache_write', 'usd_per_1m_batch_input',
                       'usd_per_1m_batch_output', 'long_context_threshold_tokens', 'usd_per_1m_input_long_context',
                       'usd_per_1m_output_long_context', 'max_input_tokens', 'deprecation_date', 'is_free',
                       'has_variable_price'],
        preferred_last='source_provider desc, usd_per_1m_input desc nulls first, usd_per_1m_output desc nulls first'
    ) }}
)

{{ flag_price_moves('versions', token_offer_key(), ['usd_per_1m_input', 'usd_per_1m_output']) }}
{%- endmacro %}

{#- `offers` (select of the key columns) joined null-safely (region and zone are often null). -#}
{% macro changes_of_offers(changes_relation, offers_relation, key_columns) -%}
select changes.*
from {{ changes_relation }} as changes
semi join {{ offers_relation }} as offers
    on {% for column in key_columns %}offers.{{ column }} is not distinct from changes.{{ column }}
    {%- if not loop.last %} and {% endif %}{% endfor %}
{%- endmacro %}
