-- GPU spellings the gpu_aliases seed does not map (never guessed): extend the seed to bring them in.
select
    observations.source,
    observations.gpu_name,
    count(*) as n_rows,
    count(distinct observations.provider) as n_providers,
    min(snapshots.observed_at) as first_seen_at,
    max(snapshots.observed_at) as last_seen_at
from {{ ref('stg_gpu_observations') }} as observations
inner join {{ ref('stg_snapshots') }} as snapshots
    on snapshots.source = observations.source
    and snapshots.sha256 = observations.sha256
    and snapshots.scope = observations.scope
    and (observations.row_observed_at is null or observations.row_observed_at = snapshots.observed_at)
where observations.gpu_model is null
group by observations.source, observations.gpu_name
