{#- `price` is at least `factor` times `reference`, or at most 1/factor of it. -#}
{% macro price_ratio_beyond(price, reference, factor) -%}
({{ reference }} > 0 and ({{ price }} >= {{ reference }} * {{ factor }} or {{ price }} * {{ factor }} <= {{ reference }}))
{%- endmacro %}
