{#-
  A model's row rules in one scan (each expression_is_true or accepted_values test was a query, a dbt node and
  two Dagster asset-check events; a model-level test is one of each). `rules` is a list; each rule is either
    {column: c, expression: "<SQL every row satisfies>", where: "<optional SQL: only rows where it holds>"}
  (a null result passes, as in dbt_utils.expression_is_true) or
    {column: c, accepted_values: [v1, v2, ...]}
  (a null passes, as in dbt's accepted_values). Returns one row per broken rule: the rule and how many rows
  break it. `model` is already narrowed by the test's `where` and, for incremental marts, by the rows the build
  wrote (get_where_subquery, macros/incremental_window.sql).
-#}
{% test row_rules(model, rules) %}
{%- set checks = [] -%}
{%- for rule in rules -%}
    {%- set column = rule.column if rule.column is defined else none -%}
    {%- if rule.accepted_values is defined -%}
        {%- set values = [] -%}
        {%- for value in rule.accepted_values -%}
            {%- do values.append(value if value is number else "'" ~ (value | replace("'", "''")) ~ "'") -%}
        {%- endfor -%}
        {%- set broken = column ~ " not in (" ~ values | join(", ") ~ ")" -%}
        {%- set label = column ~ ": in (" ~ values | join(", ") ~ ")" -%}
    {%- else -%}
        {%- set expression = rule.expression | trim | replace("\n", " ") -%}
        {%- set where = rule.where if rule.where is defined else none -%}
        {%- set broken = (("(" ~ where ~ ") and ") if where else "") ~ "not (" ~ expression ~ ")" -%}
        {%- set label = ((column ~ ": ") if column else "") ~ expression ~ ((" (where " ~ where ~ ")") if where else "") -%}
    {%- endif -%}
    {%- do checks.append({"broken": broken, "label": label | replace("'", "''")}) -%}
{%- endfor %}
with broken as (
    select
    {%- for check in checks %}
        count(*) filter (where {{ check.broken }}) as n_broken_{{ loop.index }}{{ "," if not loop.last }}
    {%- endfor %}
    from {{ model }}
)

{% for check in checks -%}
select '{{ check.label }}' as rule, n_broken_{{ loop.index }} as failing_rows
from broken where n_broken_{{ loop.index }} > 0
{% if not loop.last %}union all
{% endif %}
{%- endfor %}
{% endtest %}
