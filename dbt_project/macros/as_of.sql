{#-
  The UTC day the warehouse is built as of: every "today" in the models is this day, and
  observations after its end are ignored. The refresh writes it to raw.build_as_of before `dbt build`
  (pipelines/dbt_state.py: `margins refresh --as-of` / MARGINS_AS_OF, else the refresh's UTC day). It lives in the
  warehouse rather than in a dbt var because a var that changes every day would make dbt re-parse the project on
  every refresh. A plain `dbt build` uses the table as the last refresh left it, `--vars '{as_of: YYYY-MM-DD}'`
  overrides it, and a warehouse without it is built as of today (create_build_as_of, on-run-start).
-#}
{% macro build_as_of_relation() -%}
    {{ api.Relation.create(database=target.database, schema='raw', identifier='build_as_of') }}
{%- endmacro %}

{% macro create_build_as_of() -%}
create schema if not exists raw;
{% if var('as_of', none) -%}
create or replace table {{ build_as_of_relation() }} as select date '{{ var('as_of') }}' as as_of
{%- else -%}
create table if not exists {{ build_as_of_relation() }} as select cast(timezone('UTC', now()) as date) as as_of
{%- endif %}
{%- endmacro %}

{% macro as_of_day() -%}
    (select max(as_of) from {{ build_as_of_relation() }})
{%- endmacro %}

{#- The end of the as-of day (exclusive), as a timestamptz: observations at or after it are ignored. -#}
{% macro as_of_end() -%}
    (cast({{ as_of_day() }} + interval 1 day as timestamp) at time zone 'UTC')
{%- endmacro %}
