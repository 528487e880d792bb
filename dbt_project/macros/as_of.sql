{#-
  The UTC day the warehouse is built as of (DESIGN.md "Time"): the dbt var `as_of` (YYYY-MM-DD, set by
  `margins refresh --as-of` / MARGINS_AS_OF, else the refresh's UTC day). Every "today" in the models is this day;
  observations after its end are ignored.
-#}
{% macro as_of_day() -%}
    {%- if var('as_of', none) -%}date '{{ var('as_of') }}'{%- else -%}cast(timezone('UTC', now()) as date){%- endif -%}
{%- endmacro %}

{#- The end of the as-of day (exclusive), as a timestamptz: observations at or after it are ignored. -#}
{% macro as_of_end() -%}
    (cast({{ as_of_day() }} + interval 1 day as timestamp) at time zone 'UTC')
{%- endmacro %}
