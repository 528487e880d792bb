{#-
  Expands price versions to the daily grain (UTC days). A version holds from the day of valid_from up to
  the day before valid_to, on days at most `max_days_without_confirmation` days after its newest
  confirmation up to that day (so sparse snapshots leave gaps), up to the as-of day: past its source's newest
  observation the last price is carried forward (the calendar runs to the as-of day). On each day, `observed_at` is the newest snapshot of the
  version's source and scope up to that day (the offer was in every one of them), capped at last_seen_at.
  Versions flagged as an unconfirmed anomalous move (flag_price_moves) are held out. Only days from `from_day`
  on (an incremental run's window).
-#}
{% macro daily_from_versions(versions_relation, from_day="date '0001-01-01'") -%}
select
    calendar.snapshot_day as price_date,
    versions.*,
    least(versions.last_seen_at, calendar.latest_observed_at) as observed_at,
    case
        when versions.last_seen_at < calendar.latest_observed_at then versions.last_seen_is_date_estimated
        else calendar.latest_is_date_estimated
    end as observed_is_date_estimated,
    calendar.snapshot_day - {{ utc_date('least(versions.last_seen_at, calendar.latest_observed_at)') }}
        as days_since_observed
from {{ versions_relation }} as versions
inner join {{ ref('int_snapshot_calendar') }} as calendar
    on calendar.source = versions.source
    and calendar.scope = versions.scope
    and calendar.snapshot_day >= {{ from_day }}
    and calendar.snapshot_day >= {{ utc_date('versions.valid_from') }}
    and (versions.valid_to is null or calendar.snapshot_day < {{ utc_date('versions.valid_to') }})
    -- an anomalous price move is held out until a second observation confirms it
    and not (versions.is_anomalous_move and not versions.is_confirmed)
    -- at most N days after the newest confirmation up to that day (also between two sparse snapshots)
    and calendar.snapshot_day - {{ utc_date('least(versions.last_seen_at, calendar.latest_observed_at)') }}
        <= {{ var('max_days_without_confirmation') }}
{%- endmacro %}
