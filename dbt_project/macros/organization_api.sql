{#- The token seller that is a model organisation's own API (dim_models.organization -> provider id). -#}
{% macro organization_api(organization_column) -%}
case {{ organization_column }}
    when 'Google' then 'gemini'
    when 'Meta' then 'meta'
    when 'xAI' then 'xai'
    when 'Mistral AI' then 'mistral'
    else lower({{ organization_column }})
end
{%- endmacro %}
