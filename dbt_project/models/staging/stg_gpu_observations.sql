-- GPU price observations with canonical provider, GPU model and GPU count. Rename, cast, map: no history.
with observations as (
    select * from ({{ union_source_tables(gpu_source_ids()) }})
    where observed_at < {{ as_of_end() }}
),

gpu_aliases as (
    select lower(trim(alias)) as alias, nullif(trim(source), '') as alias_source, gpu_model
    from {{ ref('gpu_aliases') }}
),

mapped as (
    select
        observations.*,
        coalesce(provider_aliases.provider, lower(trim(observations.provider))) as canonical_provider,
        coalesce(sku.gpu_model, source_alias.gpu_model, any_alias.gpu_model) as gpu_model,
        sku.gpu_count as sku_gpu_count
    from observations
    left join {{ ref('provider_aliases') }} as provider_aliases
        on lower(trim(provider_aliases.alias)) = lower(trim(observations.provider))
    left join gpu_aliases as source_alias
        on source_alias.alias = lower(trim(observations.gpu_name))
        and source_alias.alias_source = observations.source
    left join gpu_aliases as any_alias
        on any_alias.alias = lower(trim(observations.gpu_name))
        and any_alias.alias_source is null
    left join {{ ref('gpu_sku_sizes') }} as sku
        on sku.provider = coalesce(provider_aliases.provider, lower(trim(observations.provider)))
        and sku.instance_type = observations.instance_type
)

select
    source,
    sha256,
    scope,
    observed_at,
    is_removed,
    canonical_provider as provider,
    provider as source_provider,
    region,
    zone,
    instance_type,
    gpu_name,
    gpu_model,
    cast(coalesce(sku_gpu_count, gpu_count) as decimal(8, 3)) as gpu_count,
    gpu_count as source_gpu_count,
    coalesce(sku_gpu_count <> gpu_count, false) as gpu_count_disagrees,
    pricing_type,
    cast(coalesce(usd_per_hour, usd_per_gpu_hour * gpu_count) as decimal(18, 6)) as usd_per_hour,
    cast(
        case
            when usd_per_hour is not null and coalesce(sku_gpu_count, gpu_count) > 0
                then usd_per_hour / coalesce(sku_gpu_count, gpu_count)
            else usd_per_gpu_hour
        end as decimal(18, 6)
    ) as usd_per_gpu_hour,
    effective_date
from mapped
