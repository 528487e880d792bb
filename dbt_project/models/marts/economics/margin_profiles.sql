-- Which throughput profiles price each model and price tier (README "Formulas"):
--   - the stand-ins: the model's own profiles, else those of each of its proxy classes (dim_models
--     throughput_proxy_classes: a dense 70B, a dense 405B, a large MoE for closed models; DeepSeek R1 for V3.x),
--     one of which is central (throughput_proxy_model_id);
--   - the workload that sets the price: standard and cached tiers are priced against `interactive` profiles, the
--     batch tier against `throughput` ones; a stand-in without such a profile falls back to the other class,
--     labelled in cost_basis: `throughput_fallback` (standard/cached on offline numbers: the cost is a lower bound,
--     the margin an upper bound) or `interactive_fallback` (batch at interactive speed: the margin a lower bound);
--     `latency` profiles (concurrency-1 runs) price nothing;
--   - concurrent users per replica use the profile's own tokens/s per user, else the default var (stated).
with profiles as (
    select *
    from {{ ref('dim_throughput_profiles') }}
    where is_margin_profile and workload_class in ('interactive', 'throughput')
),

models_with_own_profiles as (
    select distinct model_id from profiles
),

stand_ins as (
    select model_id, model_id as proxy_model_id, true as is_central_proxy
    from {{ ref('dim_models') }}
    where model_id in (select model_id from models_with_own_profiles)

    union all

    select models.model_id, trim(classes.proxy_model_id),
        trim(classes.proxy_model_id) = models.throughput_proxy_model_id
    from {{ ref('dim_models') }} as models,
        unnest(string_split(models.throughput_proxy_classes, '|')) as classes(proxy_model_id)
    where models.model_id not in (select model_id from models_with_own_profiles)
        and models.throughput_proxy_classes is not null
),

tiers as (
    select * from (values ('standard', 'interactive'), ('cached', 'interactive'), ('batch', 'throughput'))
        as tiers(price_tier, preferred_workload_class)
),

candidates as (
    select
        stand_ins.model_id,
        tiers.price_tier,
        stand_ins.proxy_model_id,
        stand_ins.is_central_proxy,
        profiles.*  exclude (model_id),
        profiles.workload_class = tiers.preferred_workload_class as is_preferred_workload
    from stand_ins
    cross join tiers
    inner join profiles on profiles.model_id = stand_ins.proxy_model_id
),

chosen as (
    select
        *,
        bool_or(is_preferred_workload) over (partition by model_id, proxy_model_id, price_tier)
            as stand_in_has_preferred_workload
    from candidates
)

select
    model_id,
    price_tier,
    proxy_model_id,
    proxy_model_id <> model_id as is_proxy,
    is_central_proxy,
    profile_id,
    gpu_model,
    gpus_per_replica,
    input_tokens,
    output_tokens,
    replica_output_tokens_per_second,
    workload_class,
    case
        when is_preferred_workload then workload_class
        when price_tier = 'batch' then 'interactive_fallback'
        else 'throughput_fallback'
    end as cost_basis,
    coalesce(tokens_per_second_per_user, {{ var('tokens_per_second_per_user') }}) as tokens_per_second_per_user,
    tokens_per_second_per_user is null as is_default_user_rate
from chosen
where is_preferred_workload or not stand_in_has_preferred_workload
