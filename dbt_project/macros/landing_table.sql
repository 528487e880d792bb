{#-
  raw.snapshots and raw.fetch_log are written by every source asset in the same step as its observations, so
  they are not dbt sources of their own (a dbt source maps to one Dagster asset). A model reading them declares
  its dependency on every source asset with depends_on, and gets the relation here.
-#}
{% macro landing_table(table_name, source_ids) -%}
{%- for source_id in source_ids %}
    -- depends_on: {{ source(source_id, 'observations') }}
{%- endfor %}
    {{ api.Relation.create(database=target.database, schema='raw', identifier=table_name) }}
{%- endmacro %}
