{#-
  Incremental daily marts. A run rebuilds the days from `incremental_start_day` on: the day of the snapshot
  just before the earliest snapshot loaded since the model's last build (so a version that the new snapshot
  confirms, closes or reverts is redrawn from its start, and a backfill into the past redraws from there), minus
  `incremental_lookback_days`, and never after the day following the last build's as-of day (a new day is added
  even when nothing landed: prices are carried forward to the as-of day). The model's last build time lives in intermediate.incremental_watermarks, written
  by its post-hook in the same transaction as its rows; `dbt build --full-refresh` rebuilds everything and must
  give the same rows. Seeds and model code are not covered: pipelines/dbt_state.py runs a full refresh when
  they change.
-#}
{% macro watermark_relation() -%}
    {{- return(api.Relation.create(database=target.database, schema='intermediate',
                                   identifier='incremental_watermarks')) -}}
{%- endmacro %}

{% macro create_watermark_table() -%}
create schema if not exists intermediate;
create table if not exists {{ watermark_relation() }} (
    model varchar primary key,
    built_at timestamptz not null,
    rebuilt_from date
);
alter table {{ watermark_relation() }} add column if not exists as_of date
{%- endmacro %}

{#- A SQL date literal; '0001-01-01' (everything) when the model is built in full. -#}
{% macro incremental_start_day(source_ids) -%}
    {%- set snapshots = ref('int_snapshots') -%}
    {%- if not execute or this is none or not is_incremental() -%}
        {{- return("date '0001-01-01'") -}}
    {%- endif -%}
    {%- set query -%}
        with watermark as (
            select max(built_at) as built_at, max(as_of) as as_of
            from {{ watermark_relation() }} where model = '{{ this.identifier }}'
        ),

        new_snapshots as (
            select min({{ utc_date('coalesce(snapshots.previous_observed_at, snapshots.observed_at)') }})
                - {{ var('incremental_lookback_days') }} as start_day
            from {{ snapshots }} as snapshots, watermark
            where snapshots.source in ('{{ source_ids | join("', '") }}')
                -- landed since the last build, or observed after its as-of day (visible now that the day moved on)
                and (watermark.built_at is null or snapshots.landed_at > watermark.built_at
                    or {{ utc_date('snapshots.observed_at') }} > watermark.as_of)
        )

        -- least() skips nulls: no new snapshot, or no as-of day recorded by an older build
        select coalesce(cast(least(new_snapshots.start_day, watermark.as_of + 1) as varchar), '9999-12-31')
        from new_snapshots, watermark
    {%- endset -%}
    {{- return("date '" ~ run_query(query).columns[0].values()[0] ~ "'") -}}
{%- endmacro %}

{#- Pre-hook: an incremental run first deletes the days (or months) it rebuilds. -#}
{% macro delete_incremental_window(source_ids, column='price_date', grain='day') -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where {{ column }} >= date_trunc('{{ grain }}', {{ incremental_start_day(source_ids) }})
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#- Post-hook: the build time (the next run starts from snapshots loaded after it) and the first rebuilt day. -#}
{% macro record_watermark(source_ids) -%}
    insert or replace into {{ watermark_relation() }} (model, built_at, rebuilt_from, as_of)
    select '{{ this.identifier }}', '{{ run_started_at }}'::timestamptz,
        {% if is_incremental() and not flags.FULL_REFRESH %}{{ incremental_start_day(source_ids) }}{% else %}null{% endif %},
        {{ as_of_day() }}
{%- endmacro %}

{#-
  Data tests of an incremental model check the rows this build wrote (the rows before were tested when they
  were written): dbt's get_where_subquery, extended with the model's window from its watermark.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}{%- do conditions.append(where) -%}{%- endif -%}
    {%- set window = incremental_test_window(relation) -%}
    {%- if window -%}{%- do conditions.append(window) -%}{%- endif -%}
    {%- if conditions -%}
        {{- return('(select * from ' ~ relation ~ ' where ' ~ conditions | join(' and ') ~ ') dbt_subquery') -}}
    {%- endif -%}
    {{- return(relation) -}}
{%- endmacro %}

{#-
  The window's first day is read when the test is compiled (dbt compiles a node just before it runs, so after the
  model's post-hook) and written into the test as a literal: DuckDB skips the row groups before a literal date
  (their min/max), not before a subquery's value (22 million rows at 3y: 0.02 s against 0.7 s). Where the
  watermark table does not exist yet (`dbt compile` or `dbt docs generate` on an empty warehouse), the test reads
  the watermark itself when it runs.
-#}
{% macro incremental_test_window(relation) -%}
    {%- if not execute or var('test_full_history') -%}{{- return('') -}}{%- endif -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model' and node.config.materialized == 'incremental'
              and node.alias == relation.identifier and node.schema == relation.schema -%}
            {%- set column = node.config.meta.get('window_column', 'price_date') -%}
            {%- set grain = node.config.meta.get('window_grain', 'day') -%}
            {{- return(column ~ " >= date_trunc('" ~ grain ~ "', " ~ window_first_day(node.alias) ~ ")") -}}
        {%- endif -%}
    {%- endfor -%}
    {{- return('') -}}
{%- endmacro %}

{% macro window_first_day(model) -%}
    {%- set watermarks = watermark_relation() -%}
    {%- set rebuilt_from = "coalesce((select rebuilt_from from " ~ watermarks ~ " where model = '"
        ~ model ~ "'), date '0001-01-01')" -%}
    {%- if load_relation(watermarks) is none -%}
        {{- return(rebuilt_from) -}}
    {%- endif -%}
    {{- return("date '" ~ run_query("select " ~ rebuilt_from).columns[0].values()[0] ~ "'") -}}
{%- endmacro %}

{#- The config of an incremental mart: rebuilt by day (or month) from the window of the given sources' snapshots. -#}
{% macro incremental_by_day(source_ids, column='price_date', grain='day') -%}
    {%- set sources = source_ids | tojson -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ delete_incremental_window(" ~ sources ~ ", '" ~ column ~ "', '" ~ grain ~ "') }}",
        post_hook="{{ record_watermark(" ~ sources ~ ") }}",
        meta={'window_column': column, 'window_grain': grain}
    ) }}
{%- endmacro %}
