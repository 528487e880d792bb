{#- The UTC calendar day of a timestamptz, whatever the session time zone. -#}
{% macro utc_date(column) -%}
    cast(timezone('UTC', {{ column }}) as date)
{%- endmacro %}
