-- Where two observations of one price disagree beyond a tolerance: one row per (price_date, kind, subject,
-- source pair, price column). Kinds: token_cross_source and gpu_cross_source (two sources on the same day,
-- token_price_comparisons / gpu_price_comparisons) and, when enabled, token_cross_seller (hits of the
-- suspect-price rule, token_cross_seller_comparisons). Side b is the source to believe; relative_difference =
-- (value_a - value_b) / value_b. A disagreement run starts on first_seen_date and lasts until the first later
-- day the same pair is compared and agrees (resolved_on), days without a comparison in between included.
with comparisons as (
    select *, cast(null as boolean) as is_flagged from {{ ref('token_price_comparisons') }}
    union all
    select *, cast(null as boolean) as is_flagged from {{ ref('gpu_price_comparisons') }}
    union all
    -- empty unless the dbt var enable_cross_seller_discrepancies is true
    select * from {{ ref('token_cross_seller_comparisons') }}
),

measured as (
    select
        *,
        case when value_b <> 0 then cast((value_a - value_b) / value_b as double) end as relative_difference,
        case
            when value_b = 0 then value_a <> 0
            else abs(cast((value_a - value_b) / value_b as double)) > {{ var('discrepancy_tolerance') }}
        end and coalesce(is_flagged, true) as is_discrepant
    from comparisons
),

runs as (
    select
        *,
        -- the agreements up to a day number the disagreement runs between them
        count(*) filter (where not is_discrepant) over (
            partition by kind, provider, subject_a, subject_b, source_a, source_b, region, pricing_type, price_column
            order by price_date rows between unbounded preceding and current row
        ) as run_number,
        min(price_date) filter (where not is_discrepant) over (
            partition by kind, provider, subject_a, subject_b, source_a, source_b, region, pricing_type, price_column
            order by price_date rows between 1 following and unbounded following
        ) as resolved_on
    from measured
)

select
    price_date,
    kind,
    provider,
    model_id,
    instance_type,
    region,
    pricing_type,
    price_column,
    source_a,
    subject_a,
    value_a,
    observed_at_a,
    source_b,
    subject_b,
    value_b,
    observed_at_b,
    source_b as preferred_source,
    value_a - value_b as difference,
    relative_difference,
    abs({{ utc_date('observed_at_a') }} - {{ utc_date('observed_at_b') }}) as days_apart,
    min(price_date) over (
        partition by kind, provider, subject_a, subject_b, source_a, source_b, region, pricing_type, price_column,
            run_number
    ) as first_seen_date,
    resolved_on is not null as is_resolved_later,
    resolved_on
from runs
where is_discrepant
