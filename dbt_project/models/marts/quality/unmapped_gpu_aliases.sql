-- GPU spellings the gpu_aliases seed does not map (never guessed): extend the seed to bring them in.
-- Loaded rows without a gpu_model, plus the rows a source quarantined as `unmapped_gpu` (the GPU price APIs
-- quarantine rows neither gpu_aliases nor gpu_sku_sizes can name, e.g. an AWS instance type or Azure size
-- missing from gpu_sku_sizes).
-- gpu_model follows from the offer key (instance type, GPU name): the versions of just the unmapped
-- offers, from just their changes (cheaper than filtering int_gpu_price_history, which computes every offer)
with unmapped_changes as (
    select * from {{ ref('stg_gpu_observations') }} where gpu_model is null
),

loaded as (
    select source, gpu_name, provider, n_observations, valid_from, last_seen_at
    from ({{ gpu_price_history('unmapped_changes') }})
),

quarantined as (
    select
        quarantine.source,
        json_extract_string(quarantine.row_json, '$.gpu_name') as gpu_name,
        json_extract_string(quarantine.row_json, '$.provider') as provider,
        1 as n_observations,
        fetches.observed_at as valid_from,
        fetches.observed_at as last_seen_at
    from {{ landing_table('quarantine', gpu_source_ids()) }} as quarantine
    inner join {{ ref('stg_fetch_log') }} as fetches
        on fetches.source = quarantine.source
        and fetches.sha256 = quarantine.sha256
    where quarantine.rule = 'unmapped_gpu'
        and json_valid(quarantine.row_json)
)

select
    source,
    gpu_name,
    sum(n_observations)::bigint as n_rows,
    count(distinct provider) as n_providers,
    min(valid_from) as first_seen_at,
    max(last_seen_at) as last_seen_at
from (
    select * from loaded
    union all
    select * from quarantined
)
group by source, gpu_name
