{#-
  A dated model alias row (seed model_aliases) is valid on `day` (a non-null date). Open ends are coalesced to
  far dates rather than tested with `is null or ...`: with the OR, DuckDB cannot use the alias equality as a hash
  key and joins every row to every alias (a blockwise nested loop).
-#}
{% macro alias_valid_on(aliases, day) -%}
{{ day }} >= coalesce({{ aliases }}.valid_from, date '0001-01-01')
    and {{ day }} < coalesce({{ aliases }}.valid_to, date '9999-12-31')
{%- endmacro %}
