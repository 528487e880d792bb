{#- Output tokens per month whose gross profit (USD per 1M output tokens) repays `training_cost` in `months`;
    null when the gross profit is not positive (no volume pays it back). -#}
{% macro breakeven_volume(training_cost, months, gross_profit_per_1m) -%}
case when {{ gross_profit_per_1m }} > 0 and {{ months }} > 0
    then cast({{ training_cost }} / {{ months }} / ({{ gross_profit_per_1m }} / 1e6) as double) end
{%- endmacro %}
