-- Lifetime economics per scenario, GPU price and commercial lifetime (README "Formulas"):
--   replicas = F / g;  active concurrent users = replicas * T / u
--   GPU cost per day = F * P * 24;  serving per month = that * days_per_month;  revenue per month = N * s * a
--   gross margin per month = revenue - serving;  amortisation = K / L;  monthly result = gross - amortisation
--   break-even lifetime = K / gross (null when gross <= 0)
--   break-even price per 1M output tokens at L = (serving + amortisation) per month / output tokens per month
with inputs as (
    select
        scenarios.scenario_id,
        prices.price_date,
        prices.price_basis,
        lifetimes.lifetime_months,
        prices.usd_per_gpu_hour,
        cast(scenarios.fleet_gpus as double) as fleet_gpus,
        cast(scenarios.gpus_per_replica as double) as gpus_per_replica,
        cast(scenarios.replica_output_tokens_per_second as double) as tokens_per_second,
        cast(scenarios.tokens_per_second_per_user as double) as tokens_per_second_per_user,
        cast(scenarios.monthly_users as double) as monthly_users,
        cast(scenarios.paying_share as double) as paying_share,
        cast(scenarios.arpu_usd_per_month as double) as arpu_usd_per_month,
        cast(scenarios.training_cost_usd as double) as training_cost_usd,
        cast(scenarios.days_per_month as double) as days_per_month
    from {{ ref('scenarios') }} as scenarios
    inner join {{ ref('scenario_prices') }} as prices on prices.scenario_id = scenarios.scenario_id
    inner join {{ ref('scenario_lifetimes') }} as lifetimes on lifetimes.scenario_id = scenarios.scenario_id
),

monthly as (
    select
        *,
        fleet_gpus / gpus_per_replica as replicas,
        fleet_gpus / gpus_per_replica * tokens_per_second / tokens_per_second_per_user as active_concurrent_users,
        fleet_gpus * usd_per_gpu_hour * 24 as gpu_cost_usd_per_day,
        monthly_users * paying_share * arpu_usd_per_month as monthly_revenue_usd,
        fleet_gpus * usd_per_gpu_hour * 24 * days_per_month as monthly_serving_cost_usd,
        training_cost_usd / lifetime_months as monthly_training_amortization_usd,
        fleet_gpus / gpus_per_replica * tokens_per_second * 86400 * days_per_month as output_tokens_per_month
    from inputs
)

select
    scenario_id,
    price_date,
    lifetime_months,
    usd_per_gpu_hour,
    replicas,
    active_concurrent_users,
    gpu_cost_usd_per_day,
    monthly_revenue_usd,
    monthly_serving_cost_usd,
    monthly_revenue_usd - monthly_serving_cost_usd as monthly_gross_margin_usd,
    monthly_training_amortization_usd,
    monthly_revenue_usd - monthly_serving_cost_usd - monthly_training_amortization_usd as monthly_result_usd,
    case
        when monthly_revenue_usd - monthly_serving_cost_usd > 0
            then training_cost_usd / (monthly_revenue_usd - monthly_serving_cost_usd)
    end as breakeven_lifetime_months,
    (monthly_serving_cost_usd + monthly_training_amortization_usd) * 1000000 / output_tokens_per_month
        as breakeven_usd_per_1m_output_tokens,
    price_basis,
    monthly_users * paying_share as paying_users,
    active_concurrent_users / (monthly_users * paying_share) as concurrent_users_per_paying_user,
    output_tokens_per_month
from monthly
