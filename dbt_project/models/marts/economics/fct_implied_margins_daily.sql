-- Implied gross margin of every valid API price on every day, for every profile that prices its tier (see
-- margin_profiles) and every list-price GPU basis (README "Formulas"):
--   replica cost per second c = P * g / 3600;  requests per second R = T / O
--   serving cost per request = c / R;  per 1M output tokens = c / T * 1e6
--   API revenue per request = (I * p_in + O * p_out) / 1e6 (cached tier: p_in blends the cached-input price for
--   cache_hit_share of input tokens; the cost is unchanged, profiles are measured without prefix caching, so it is
--   an upper bound);  implied gross margin = 1 - cost / revenue
--   concurrent users per replica = T / u (u: the profile's own tokens/s per user, else the default var)
-- Only valid requests: I + O within the price's context window (max_input_tokens), no price after the key's
-- deprecation or the model's retirement at its own API, no suspect or free price (token_prices_by_tier).
{{ incremental_by_day(source_ids()) }}
with inputs as (
    select
        prices.price_date,
        prices.model_id,
        prices.provider,
        prices.source,
        prices.source_model_key,
        prices.price_tier,
        profiles.is_proxy,
        profiles.profile_id,
        profiles.gpu_model,
        profiles.gpus_per_replica,
        basis.gpu_price_basis,
        basis.usd_per_gpu_hour,
        basis.n_providers,
        profiles.input_tokens,
        profiles.output_tokens,
        profiles.replica_output_tokens_per_second,
        prices.usd_per_1m_input,
        prices.usd_per_1m_output,
        greatest(prices.days_since_observed, basis.days_since_oldest_input_observed)
            as days_since_oldest_input_observed,
        profiles.proxy_model_id,
        profiles.is_central_proxy,
        profiles.workload_class,
        profiles.cost_basis,
        profiles.tokens_per_second_per_user,
        profiles.is_default_user_rate,
        prices.cache_hit_share,
        prices.usd_per_1m_cached_input,
        prices.max_input_tokens,
        prices.days_since_observed as days_since_token_price_observed,
        basis.days_since_oldest_input_observed as days_since_gpu_price_observed
    from {{ ref('token_prices_by_tier') }} as prices
    inner join {{ ref('margin_profiles') }} as profiles
        on profiles.model_id = prices.model_id
        and profiles.price_tier = prices.price_tier
    inner join {{ ref('gpu_price_basis') }} as basis
        on basis.price_date = prices.price_date
        and basis.gpu_model = profiles.gpu_model
    where prices.price_date >= {{ incremental_start_day(source_ids()) }}
        and (prices.max_input_tokens is null
            or profiles.input_tokens + profiles.output_tokens <= prices.max_input_tokens)
),

unit_economics as (
    select
        *,
        {{ serving_cost_per_request('usd_per_gpu_hour', 'gpus_per_replica', 'replica_output_tokens_per_second',
                                    'output_tokens') }} as serving_cost_usd_per_request,
        (input_tokens * usd_per_1m_input + output_tokens * usd_per_1m_output) / 1000000.0
            as api_revenue_usd_per_request
    from inputs
)

select
    price_date,
    model_id,
    provider,
    source,
    source_model_key,
    price_tier,
    is_proxy,
    profile_id,
    gpu_model,
    gpus_per_replica,
    gpu_price_basis,
    usd_per_gpu_hour,
    n_providers,
    cast(replica_output_tokens_per_second / output_tokens as double) as requests_per_second,
    cast(serving_cost_usd_per_request as double) as serving_cost_usd_per_request,
    cast(api_revenue_usd_per_request as double) as api_revenue_usd_per_request,
    case
        when api_revenue_usd_per_request > 0
            then cast(1 - serving_cost_usd_per_request / api_revenue_usd_per_request as double)
    end as implied_gross_margin,
    cast(usd_per_gpu_hour * gpus_per_replica * 1000000 / 3600.0 / replica_output_tokens_per_second as double)
        as serving_cost_usd_per_1m_output_tokens,
    cast(replica_output_tokens_per_second / tokens_per_second_per_user as double) as concurrent_users_per_replica,
    input_tokens,
    output_tokens,
    replica_output_tokens_per_second,
    usd_per_1m_input,
    usd_per_1m_output,
    days_since_oldest_input_observed,
    proxy_model_id,
    is_central_proxy,
    workload_class,
    cost_basis,
    cast(tokens_per_second_per_user as double) as tokens_per_second_per_user,
    is_default_user_rate,
    cast(cache_hit_share as double) as cache_hit_share,
    usd_per_1m_cached_input,
    max_input_tokens,
    days_since_token_price_observed,
    days_since_gpu_price_observed
from unit_economics
