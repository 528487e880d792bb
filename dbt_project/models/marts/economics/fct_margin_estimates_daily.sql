-- One headline margin per (day, model, seller, price tier), at the median list-price GPU basis (README "Formulas",
-- headline estimate): margin_central is the median across the valid profiles and GPU types of the model itself or
-- its central proxy; margin_low / margin_high span every valid profile and GPU type, and for a closed model every
-- proxy class too (a dense 70B, a dense 405B, a large MoE), so a proxy margin is always read as a band.
-- A seller stated by two sources (OpenRouter's own API and LiteLLM's openrouter/* keys) counts once: the seller's
-- own source first, then the source name.
{{ incremental_by_day(source_ids()) }}
with margins as (
    select *
    from {{ ref('fct_implied_margins_daily') }}
    where gpu_price_basis = 'median'
        and price_date >= {{ incremental_start_day(source_ids()) }}
),

preferred_sources as (
    select price_date, model_id, provider, price_tier,
        arg_min(source, (source <> provider)::int || source) as source
    from margins
    group by all
),

rows_used as (
    select margins.*
    from margins
    semi join preferred_sources
        on preferred_sources.price_date = margins.price_date
        and preferred_sources.model_id = margins.model_id
        and preferred_sources.provider = margins.provider
        and preferred_sources.price_tier = margins.price_tier
        and preferred_sources.source = margins.source
),

band as (
    select
        price_date,
        model_id,
        provider,
        price_tier,
        any_value(source) as source,
        any_value(source_model_key) as source_model_key,
        min(implied_gross_margin) as margin_low,
        max(implied_gross_margin) as margin_high,
        bool_or(is_proxy) as is_proxy,
        list_sort(list(distinct proxy_model_id)) as proxy_band_model_ids,
        count(distinct profile_id) as n_profiles_in_band,
        any_value(usd_per_1m_input) as usd_per_1m_input,
        any_value(usd_per_1m_output) as usd_per_1m_output,
        max(days_since_token_price_observed) as days_since_token_price_observed,
        max(days_since_gpu_price_observed) as days_since_gpu_price_observed,
        min(n_providers) as min_n_gpu_providers,
        min((api_revenue_usd_per_request - serving_cost_usd_per_request) / output_tokens * 1e6)
            as gross_profit_usd_per_1m_output_tokens_low,
        max((api_revenue_usd_per_request - serving_cost_usd_per_request) / output_tokens * 1e6)
            as gross_profit_usd_per_1m_output_tokens_high
    from rows_used
    group by all
),

central as (
    select
        price_date,
        model_id,
        provider,
        price_tier,
        median(implied_gross_margin) as margin_central,
        median(serving_cost_usd_per_1m_output_tokens) as serving_cost_usd_per_1m_output_tokens_central,
        count(distinct profile_id) as n_profiles,
        any_value(proxy_model_id) as proxy_model_id,
        string_agg(distinct cost_basis, ',' order by cost_basis) as cost_basis,
        string_agg(distinct gpu_model, ',' order by gpu_model) as gpu_models,
        median((api_revenue_usd_per_request - serving_cost_usd_per_request) / output_tokens * 1e6)
            as gross_profit_usd_per_1m_output_tokens_central
    from rows_used
    where is_central_proxy
    group by all
)

select
    band.price_date,
    band.model_id,
    band.provider,
    band.price_tier,
    cast(band.margin_low as double) as margin_low,
    cast(central.margin_central as double) as margin_central,
    cast(band.margin_high as double) as margin_high,
    central.n_profiles,
    band.is_proxy,
    central.proxy_model_id,
    band.proxy_band_model_ids,
    central.cost_basis,
    band.usd_per_1m_input,
    band.usd_per_1m_output,
    cast(central.serving_cost_usd_per_1m_output_tokens_central as double)
        as serving_cost_usd_per_1m_output_tokens_central,
    band.days_since_token_price_observed,
    band.days_since_gpu_price_observed,
    band.source,
    band.source_model_key,
    band.n_profiles_in_band,
    central.gpu_models,
    band.min_n_gpu_providers,
    cast(band.gross_profit_usd_per_1m_output_tokens_low as double) as gross_profit_usd_per_1m_output_tokens_low,
    cast(central.gross_profit_usd_per_1m_output_tokens_central as double)
        as gross_profit_usd_per_1m_output_tokens_central,
    cast(band.gross_profit_usd_per_1m_output_tokens_high as double) as gross_profit_usd_per_1m_output_tokens_high
from band
inner join central
    on central.price_date = band.price_date
    and central.model_id = band.model_id
    and central.provider = band.provider
    and central.price_tier = band.price_tier
