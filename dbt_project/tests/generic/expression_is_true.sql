{#- Like dbt_utils.expression_is_true: every row satisfies the expression (optionally where a condition holds). -#}
{% test expression_is_true(model, expression, column_name=none, where_condition=none) %}
select *
from {{ model }}
where not ({{ expression }})
{% if where_condition %}and ({{ where_condition }}){% endif %}
{% endtest %}
