-- Same-day pairs of one seller's token price as two sources state it (kind token_cross_source), one row per
-- price column both state, whether they agree or not (price_discrepancies keeps the disagreements):
--   * an OpenRouter first-party route (author/model, the author sells its own API: openrouter_authors) vs that
--     seller's own LiteLLM key for the same model: the key with the same name (gpt-4o, deepseek-chat, or
--     gemini/gemini-2.5-pro), else, for an undated route, the seller's keys with the same normalised name (date
--     suffix dropped, dots as dashes: claude-sonnet-4-20250514) when they all state one price that day (an
--     ambiguous name is not paired; a dated route such as deepseek-r1-0528 pairs only with its exact name);
--   * a LiteLLM openrouter/* key vs OpenRouter's own API for the same id.
-- Side b is the source to believe (dim_sources precedence): OpenRouter's API for its own routes; for a
-- first-party route the catalog, because OpenRouter's route price is a resale price, not the seller's list.
-- Reads the daily mart so the pairs are exactly the rows users see (carry-forward, held-out moves).
with prices as (
    select
        price_date,
        provider,
        model_id,
        source_model_key,
        source,
        observed_at,
        usd_per_1m_input,
        usd_per_1m_output,
        usd_per_1m_cached_input
    from {{ ref('fct_token_prices_daily') }}
    where source in ('litellm', 'openrouter')
        and not coalesce(has_variable_price, false)
        -- only days OpenRouter has prices on can pair (most of LiteLLM's history has none)
        and price_date in (select price_date from {{ ref('fct_token_prices_daily') }} where source = 'openrouter')
),

-- OpenRouter ids with a variant suffix (:free, :extended, :thinking) price a variant, not the route itself
openrouter_routes as (
    select
        *,
        split_part(source_model_key, '/', 1) as author,
        lower(substr(source_model_key, length(split_part(source_model_key, '/', 1)) + 2)) as route_name,
        replace({{ normalize_model_key('source_model_key') }}, '.', '-') as route_family
    from prices
    where source = 'openrouter' and source_model_key like '%/%' and source_model_key not like '%:%'
),

litellm_keys as (
    select
        *,
        lower(regexp_replace(source_model_key, '^.*/', '')) as key_name,
        replace({{ normalize_model_key('source_model_key') }}, '.', '-') as key_family
    from prices
    where source = 'litellm'
),

first_party_candidates as (
    select
        routes.price_date,
        authors.provider,
        routes.source_model_key as route_key,
        routes.model_id as route_model_id,
        routes.observed_at as route_observed_at,
        routes.usd_per_1m_input as route_input,
        routes.usd_per_1m_output as route_output,
        routes.usd_per_1m_cached_input as route_cached,
        keys.source_model_key,
        keys.model_id,
        keys.observed_at,
        keys.usd_per_1m_input,
        keys.usd_per_1m_output,
        keys.usd_per_1m_cached_input,
        keys.key_name = routes.route_name as is_same_name
    from openrouter_routes as routes
    inner join {{ ref('openrouter_authors') }} as authors
        on authors.author = routes.author
    inner join litellm_keys as keys
        on keys.price_date = routes.price_date
        and keys.provider = authors.provider
        and (
            keys.key_name = routes.route_name
            -- an undated route (anthropic/claude-sonnet-4) may pair with the seller's dated key of that name
            or (keys.key_family = routes.route_family and replace(routes.route_name, '.', '-') = routes.route_family)
        )
),

first_party as (
    select *
    from first_party_candidates
    window route as (partition by price_date, route_key)
    qualify
        (
            is_same_name
            or (
                not bool_or(is_same_name) over route
                and min(usd_per_1m_input) over route = max(usd_per_1m_input) over route
                and min(usd_per_1m_output) over route = max(usd_per_1m_output) over route
            )
        )
        -- of equal candidates, the key named exactly like the route, then the shortest (deepseek-chat before
        -- deepseek/deepseek-chat)
        and row_number() over (
            partition by price_date, route_key
            order by is_same_name desc, length(source_model_key), source_model_key
        ) = 1
),

openrouter_keys as (
    select
        keys.price_date,
        keys.source_model_key,
        keys.model_id,
        keys.observed_at,
        keys.usd_per_1m_input,
        keys.usd_per_1m_output,
        keys.usd_per_1m_cached_input,
        api.source_model_key as api_key,
        api.model_id as api_model_id,
        api.observed_at as api_observed_at,
        api.usd_per_1m_input as api_input,
        api.usd_per_1m_output as api_output,
        api.usd_per_1m_cached_input as api_cached
    from litellm_keys as keys
    inner join prices as api
        on api.price_date = keys.price_date
        and api.source = 'openrouter'
        and lower(api.source_model_key) = lower(substr(keys.source_model_key, length('openrouter/') + 1))
    where keys.provider = 'openrouter' and lower(keys.source_model_key) like 'openrouter/%'
),

pairs as (
    select
        price_date,
        provider,
        coalesce(model_id, route_model_id) as model_id,
        'openrouter' as source_a,
        route_key as subject_a,
        route_observed_at as observed_at_a,
        'litellm' as source_b,
        source_model_key as subject_b,
        observed_at as observed_at_b,
        route_input as input_a,
        usd_per_1m_input as input_b,
        route_output as output_a,
        usd_per_1m_output as output_b,
        route_cached as cached_a,
        usd_per_1m_cached_input as cached_b
    from first_party

    union all

    select
        price_date,
        'openrouter',
        coalesce(api_model_id, model_id),
        'litellm',
        source_model_key,
        observed_at,
        'openrouter',
        api_key,
        api_observed_at,
        usd_per_1m_input,
        api_input,
        usd_per_1m_output,
        api_output,
        usd_per_1m_cached_input,
        api_cached
    from openrouter_keys
)

{% set price_columns = [('usd_per_1m_input', 'input'), ('usd_per_1m_output', 'output'),
                        ('usd_per_1m_cached_input', 'cached')] %}
{% for column, prefix in price_columns %}
select
    price_date,
    'token_cross_source' as kind,
    provider,
    model_id,
    cast(null as varchar) as instance_type,
    cast(null as varchar) as region,
    cast(null as varchar) as pricing_type,
    '{{ column }}' as price_column,
    source_a,
    subject_a,
    cast({{ prefix }}_a as decimal(18, 6)) as value_a,
    observed_at_a,
    source_b,
    subject_b,
    cast({{ prefix }}_b as decimal(18, 6)) as value_b,
    observed_at_b
from pairs
where {{ prefix }}_a is not null and {{ prefix }}_b is not null
{% if not loop.last %}union all{% endif %}
{% endfor %}
