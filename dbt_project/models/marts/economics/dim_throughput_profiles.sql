-- Published inference throughput profiles (model x GPU x input/output lengths -> tokens/s), in one unit: a replica's
-- output tokens/s on its GPUs. A per-GPU profile (InferenceX: total input+output tokens/s per GPU at lengths I, O)
-- converts exactly: one GPU is the replica, and it serves total / (I + O) requests per second, i.e.
-- total * O / (I + O) output tokens/s; the serving cost per request is then P / 3600 * (I + O) / total.
-- Only rows with is_margin_profile enter the margin formula; the seed says why the others are left out.
with profiles as (
    select * from {{ ref('throughput_profiles') }}
)

select
    profile_id,
    model_id,
    gpu_model,
    case when metric_basis = 'total_tok_per_s_per_gpu' then 1 else gpus_per_replica end as gpus_per_replica,
    precision,
    input_tokens,
    output_tokens,
    scenario,
    case
        when metric_basis = 'total_tok_per_s_per_gpu'
            then total_tokens_per_second_per_gpu * output_tokens / (input_tokens + output_tokens)
        else output_tokens_per_second
    end as replica_output_tokens_per_second,
    source_name,
    source_url,
    is_margin_profile,
    exclusion_reason,
    metric_basis,
    tokens_per_second_per_user,
    published_date,
    source_model_name,
    source_hardware,
    workload_class,
    total_tokens_per_second_per_gpu,
    source_usd_per_gpu_hour,
    source_cost_usd_per_million_tokens
from profiles
