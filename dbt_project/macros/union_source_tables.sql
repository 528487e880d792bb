{#-
  One select over a raw observation table that several Python source assets write. Each source is its own dbt
  source (linked to its Dagster asset), so the lineage runs from every source asset to the model; its rows
  are selected by the `source` column.
-#}
{% macro union_source_tables(source_ids) -%}
{%- for source_id in source_ids %}
select * from {{ source(source_id, 'observations') }} where source = '{{ source_id }}'
{% if not loop.last %}union all{% endif %}
{%- endfor %}
{%- endmacro %}
