-- The volume a model must sell to pay back its training (issue 17): per model with a training cost (dim_models,
-- Epoch) and day, the output tokens per month at which its gross profit repays the training cost within
--   (a) its release cohort's median commercial lifetime (fct_lifetime_cohorts; null while the cohort's survival
--       curve has not reached one half: the lower end of the median's interval is beside it), (b) 12 and (c) 36 months:
--   volume = training_cost_usd / lifetime_months / gross profit per output token.
-- Gross profit per output token = (revenue - serving cost) per request / output tokens of the request, from the
-- standard tier's headline estimate (fct_margin_estimates_daily) at the model's own organisation's API where it
-- sells the model, else the median across its sellers; the band's low and high beside it. No volume pays back a
-- non-positive gross profit (null).
with models as (
    select model_id, organization, release_date, training_cost_usd
    from {{ ref('dim_models') }}
    where training_cost_usd > 0
),

estimates as (
    select estimates.*, models.organization, models.training_cost_usd,
        estimates.provider = {{ organization_api('models.organization') }} as is_own_api
    from {{ ref('fct_margin_estimates_daily') }} as estimates
    inner join models on models.model_id = estimates.model_id
    where estimates.price_tier = 'standard'
),

per_day as (
    select
        price_date,
        model_id,
        any_value(training_cost_usd) as training_cost_usd,
        bool_or(is_own_api) as has_own_api,
        count(*) as n_sellers,
        -- the organisation's own API when it sells the model, else the median across sellers
        coalesce(any_value(provider) filter (where is_own_api), 'median_of_sellers') as seller,
        coalesce(any_value(gross_profit_usd_per_1m_output_tokens_central) filter (where is_own_api),
                 median(gross_profit_usd_per_1m_output_tokens_central)) as gross_profit_central,
        coalesce(any_value(gross_profit_usd_per_1m_output_tokens_low) filter (where is_own_api),
                 median(gross_profit_usd_per_1m_output_tokens_low)) as gross_profit_low,
        coalesce(any_value(gross_profit_usd_per_1m_output_tokens_high) filter (where is_own_api),
                 median(gross_profit_usd_per_1m_output_tokens_high)) as gross_profit_high,
        coalesce(any_value(margin_central) filter (where is_own_api), median(margin_central)) as margin_central,
        bool_or(is_proxy) as is_proxy,
        coalesce(any_value(proxy_model_id) filter (where is_own_api), any_value(proxy_model_id)) as proxy_model_id,
        coalesce(any_value(cost_basis) filter (where is_own_api), any_value(cost_basis)) as cost_basis
    from estimates
    group by price_date, model_id
),

cohorts as (
    select models.model_id, cohorts.cohort, cohorts.median_months, cohorts.median_ci_low, cohorts.median_ci_high
    from models
    left join {{ ref('fct_lifetime_cohorts') }} as cohorts
        on cohorts.cohort_kind = 'release_year'
        and year(models.release_date) between cohorts.release_year_from and cohorts.release_year_to
)

select
    per_day.model_id,
    per_day.price_date,
    cast(per_day.training_cost_usd as double) as training_cost_usd,
    per_day.seller,
    per_day.n_sellers,
    'standard' as price_tier,
    per_day.is_proxy,
    per_day.proxy_model_id,
    per_day.cost_basis,
    per_day.margin_central,
    per_day.gross_profit_low as gross_profit_usd_per_1m_output_tokens_low,
    per_day.gross_profit_central as gross_profit_usd_per_1m_output_tokens_central,
    per_day.gross_profit_high as gross_profit_usd_per_1m_output_tokens_high,
    cohorts.cohort as lifetime_cohort,
    cast(cohorts.median_months as double) as cohort_median_lifetime_months,
    cast(cohorts.median_ci_low as double) as cohort_median_lifetime_ci_low,
    {{ breakeven_volume('per_day.training_cost_usd', 'cohorts.median_months', 'per_day.gross_profit_central') }}
        as output_tokens_per_month_cohort_median_lifetime,
    {{ breakeven_volume('per_day.training_cost_usd', 'cohorts.median_ci_low', 'per_day.gross_profit_central') }}
        as output_tokens_per_month_cohort_median_ci_low,
    {{ breakeven_volume('per_day.training_cost_usd', 12, 'per_day.gross_profit_central') }} as output_tokens_per_month_12_months,
    {{ breakeven_volume('per_day.training_cost_usd', 36, 'per_day.gross_profit_central') }} as output_tokens_per_month_36_months,
    {{ breakeven_volume('per_day.training_cost_usd', 12, 'per_day.gross_profit_high') }} as output_tokens_per_month_12_months_low,
    {{ breakeven_volume('per_day.training_cost_usd', 12, 'per_day.gross_profit_low') }} as output_tokens_per_month_12_months_high
from per_day
inner join cohorts on cohorts.model_id = per_day.model_id
