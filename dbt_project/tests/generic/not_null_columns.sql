{#-
  dbt's not_null for several columns of one model in one scan (each not_null test is a query, a dbt node and
  two Dagster asset-check events; a model-level test is one of each). Returns one row per column that has
  nulls: its name and how many rows are null there. `model` is already narrowed by the test's `where` and,
  for incremental marts, by the rows the build wrote (get_where_subquery, macros/incremental_window.sql).
-#}
{% test not_null_columns(model, column_names) %}
with null_counts as (
    select
    {%- for column in column_names %}
        count(*) - count({{ column }}) as n_null_{{ loop.index }}{{ "," if not loop.last }}
    {%- endfor %}
    from {{ model }}
)

{% for column in column_names -%}
select '{{ column }}' as column_name, n_null_{{ loop.index }} as null_rows from null_counts where n_null_{{ loop.index }} > 0
{% if not loop.last %}union all
{% endif %}
{%- endfor %}
{% endtest %}
