{#-
  Places the parsed rows of each landed payload at every snapshot it was fetched in: a payload fetched again
  confirms its rows at the new time, a reverted payload reverts. Rows that carry their own timestamp (history
  files) are placed only at their own snapshot. Adds the snapshot's observed_at, next_observed_at and
  is_date_estimated.
-#}
{% macro observations_at_snapshots(observations_relation) -%}
select
    observations.*,
    snapshots.observed_at,
    snapshots.next_observed_at,
    snapshots.is_date_estimated
from {{ observations_relation }} as observations
inner join {{ ref('stg_snapshots') }} as landed
    on landed.source = observations.source
    and landed.sha256 = observations.sha256
    and landed.scope = observations.scope
    and (observations.row_observed_at is null or observations.row_observed_at = landed.observed_at)
inner join {{ ref('int_snapshots') }} as snapshots
    on snapshots.source = landed.source
    and snapshots.scope = landed.scope
    and snapshots.observed_at = landed.observed_at
{%- endmacro %}
