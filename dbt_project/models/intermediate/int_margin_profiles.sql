-- Which throughput profiles price each model: its own margin profiles, else those of its throughput proxy
-- (is_proxy), e.g. a closed frontier model priced on Llama 3.1 405B serving.
with margin_profiles as (
    select profile_id, model_id, gpu_model, gpus_per_replica, input_tokens, output_tokens,
        replica_output_tokens_per_second
    from {{ ref('dim_throughput_profiles') }}
    where is_margin_profile
),

models_with_own_profiles as (
    select distinct model_id from margin_profiles
)

select
    models.model_id,
    margin_profiles.model_id <> models.model_id as is_proxy,
    margin_profiles.profile_id,
    margin_profiles.gpu_model,
    margin_profiles.gpus_per_replica,
    margin_profiles.input_tokens,
    margin_profiles.output_tokens,
    margin_profiles.replica_output_tokens_per_second
from {{ ref('dim_models') }} as models
inner join margin_profiles
    on margin_profiles.model_id = case
        when models.model_id in (select model_id from models_with_own_profiles) then models.model_id
        else models.throughput_proxy_model_id
    end
