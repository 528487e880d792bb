{#-
  The as-of day lifetimes are censored at: as_of_day() (the dbt var `as_of`), or MARGINS_AS_OF where the refresh
  does not pass the var, else the UTC day of the build.
-#}
{% macro lifetime_as_of_day() -%}
    {%- set from_env = env_var('MARGINS_AS_OF', '') | trim -%}
    {%- if var('as_of', none) or not from_env -%}{{ as_of_day() }}{%- else -%}date '{{ from_env }}'{%- endif -%}
{%- endmacro %}
