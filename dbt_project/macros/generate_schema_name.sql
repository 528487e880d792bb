{#- The warehouse has exactly the schemas raw, staging, intermediate and marts: use the configured name as is. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}
