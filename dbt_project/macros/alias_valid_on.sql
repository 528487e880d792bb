{#- A dated model alias row (seed model_aliases) is valid on `day`. -#}
{% macro alias_valid_on(aliases, day) -%}
({{ aliases }}.valid_from is null or {{ day }} >= {{ aliases }}.valid_from)
    and ({{ aliases }}.valid_to is null or {{ day }} < {{ aliases }}.valid_to)
{%- endmacro %}
