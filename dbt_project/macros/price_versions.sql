{#-
  Change-only history from a relation of observations (one row per offer per snapshot, with the
  snapshot's `observed_at` and `next_observed_at`, the next snapshot of the same source and scope).
  A new version starts when the offer's values change, or when it reappears after a snapshot that
  omitted it. Each version carries valid_from (first observation), last_seen_at (last confirmation) and
  valid_to (the next snapshot after last_seen_at: the one that changed or omitted it; null while current).
-#}
{% macro price_versions(relation, key_columns, value_columns) -%}
with compared as (
    select
        *,
        lag(observed_at) over offer as previous_observed_at,
        lag(next_observed_at) over offer as previous_next_observed_at,
        {%- for column in value_columns %}
        lag({{ column }}) over offer is distinct from {{ column }}{% if not loop.last %} or{% endif %}
        {%- endfor %} as values_changed
    from {{ relation }}
    window offer as (partition by {{ key_columns | join(', ') }} order by observed_at)
),

flagged as (
    select
        *,
        case
            when previous_observed_at is null then 1
            when previous_next_observed_at is distinct from observed_at then 1
            when values_changed then 1
            else 0
        end as starts_version
    from compared
),

numbered as (
    select
        *,
        sum(starts_version) over (
            partition by {{ key_columns | join(', ') }} order by observed_at rows unbounded preceding
        ) as version_number
    from flagged
),

ended as (
    select
        *,
        lead(version_number) over (
            partition by {{ key_columns | join(', ') }} order by observed_at
        ) is distinct from version_number as ends_version
    from numbered
)

select
    {{ key_columns | join(',\n    ') }},
    version_number,
    {{ value_columns | join(',\n    ') }},
    min(observed_at) as valid_from,
    max(observed_at) as last_seen_at,
    max(case when ends_version then next_observed_at end) as valid_to,
    count(*) as n_observations
from ended
group by {{ key_columns | join(', ') }}, version_number, {{ value_columns | join(', ') }}
{%- endmacro %}
