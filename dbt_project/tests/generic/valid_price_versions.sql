{#-
  A price history in one pass (it is a view over the change log, so each separate test would recompute it):
  the key and version_number identify a version, valid_from is set, last_seen_at is not before valid_from, and
  valid_to (when set) is after last_seen_at. Returns the offending versions with the rule they break.
-#}
{% test valid_price_versions(model, key_columns) %}
with versions as (
    select
        *,
        count(*) over (partition by {{ key_columns | join(', ') }}, version_number) as n_same_version
    from {{ model }}
)

select
    {{ key_columns | join(', ') }},
    version_number,
    case
        when n_same_version > 1 then 'duplicate version'
        when valid_from is null then 'valid_from is null'
        when last_seen_at < valid_from then 'last_seen_at before valid_from'
        else 'valid_to not after last_seen_at'
    end as broken_rule
from versions
where n_same_version > 1
    or valid_from is null
    or last_seen_at < valid_from
    or valid_to <= last_seen_at
{% endtest %}
