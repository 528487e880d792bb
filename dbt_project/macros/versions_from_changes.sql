{#-
  Price versions from a change log (raw storage keeps a row only where an offer is new, changed or missing at a
  snapshot of its scope, see pipelines/changes.py). Each change that is not a removal opens a version; the
  offer's next change closes it. Per version: valid_from (the snapshot that showed it), last_seen_at (the last
  snapshot of its scope before valid_to: every snapshot in between listed it unchanged), valid_to (the snapshot
  that changed or omitted it; null while current), n_observations (snapshots from valid_from to last_seen_at),
  and whether the dates of its first and last snapshot are estimated.
  Two raw offers can map to one key (a seller renamed in the source, e.g. bedrock -> bedrock_converse): at one
  snapshot a removal comes before an addition, and of two additions the one `preferred_last` orders last holds.
-#}
{% macro versions_from_changes(changes_relation, key_columns, value_columns, preferred_last) -%}
with ordered as (
    select
        *,
        lag(is_removed) over offer as previous_is_removed,
        {%- for column in value_columns %}
        lag({{ column }}) over offer is distinct from {{ column }}{% if not loop.last %} or{% endif %}
        {%- endfor %} as values_changed
    from {{ changes_relation }}
    window offer as (
        partition by {{ key_columns | join(', ') }} order by observed_at, is_removed desc, {{ preferred_last }}
    )
),

-- a raw change in a column the versions do not carry (e.g. a context-window update) continues the version
opening_changes as (
    select
        *,
        lead(observed_at) over (
            partition by {{ key_columns | join(', ') }} order by observed_at, is_removed desc, {{ preferred_last }}
        ) as valid_to
    from ordered
    where is_removed or previous_is_removed is distinct from false or values_changed
),

opened as (
    select
        {{ key_columns | join(', ') }},
        row_number() over (partition by {{ key_columns | join(', ') }} order by observed_at) as version_number,
        {{ value_columns | join(', ') }},
        observed_at as valid_from,
        valid_to
    from opening_changes
    where not is_removed
        and (valid_to is null or valid_to > observed_at)
)

select
    opened.*,
    last_seen.observed_at as last_seen_at,
    last_seen.snapshot_number - first_seen.snapshot_number + 1 as n_observations,
    first_seen.is_date_estimated,
    last_seen.is_date_estimated as last_seen_is_date_estimated
from opened
inner join {{ ref('int_snapshots') }} as first_seen
    on first_seen.source = opened.source
    and first_seen.scope = opened.scope
    and first_seen.observed_at = opened.valid_from
asof inner join {{ ref('int_snapshots') }} as last_seen
    on last_seen.source = opened.source
    and last_seen.scope = opened.scope
    and last_seen.observed_at < coalesce(opened.valid_to, 'infinity'::timestamptz)
{%- endmacro %}
