-- Published inference throughput profiles (model x GPU x input/output lengths -> replica output tokens/s).
-- Only rows with is_margin_profile enter the margin formula; the seed says why the others are left out.
select
    profile_id,
    model_id,
    gpu_model,
    gpus_per_replica,
    precision,
    input_tokens,
    output_tokens,
    scenario,
    output_tokens_per_second as replica_output_tokens_per_second,
    source_name,
    source_url,
    is_margin_profile,
    exclusion_reason,
    metric_basis,
    tokens_per_second_per_user,
    published_date,
    source_model_name,
    source_hardware
from {{ ref('throughput_profiles') }}
