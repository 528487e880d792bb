-- API token prices (USD per 1M tokens) per seller and model key per UTC day, carried forward up to the as-of day.
-- `model_id` is null for keys the alias seed does not map (listed in unmapped_model_aliases); a dated alias maps by
-- the price's day. `key_class` says which kind of offer the key is (macro token_key_class): only `standard` and
-- `global` keys can lead a seller's series in fct_model_prices_daily.
-- Suspect prices are kept and flagged, never deleted (is_suspect, suspect_reason): a price 1000x off the median of
-- the model's other sellers that day, or a model of at most 20B parameters priced above 20 USD per 1M (`unit_slip`,
-- a per-token / per-1M mix-up), 10x off that median
-- (`disagrees_with_other_sellers`, both need at least 2 other sellers), or an output price below half the input
-- price of a chat model (`output_below_half_input`). Another source stating the same seller's price within 2% on
-- the same day confirms it (a repeat of the same catalog does not: catalog errors persist for months).
{{ incremental_by_day(token_source_ids()) }}
with daily as (
    {{ daily_from_versions(ref('int_token_price_history'), incremental_start_day(token_source_ids())) }}
),

-- a key in two scopes of one source on one day (full file and monthly history): the newest observation wins
deduplicated as (
    select *
    from daily
    qualify row_number() over (
        partition by price_date, source, provider, source_model_key
        order by observed_at desc, scope
    ) = 1
),

mapped as (
    select
        deduplicated.* exclude (model_id),
        aliases.model_id,
        {{ token_key_class('deduplicated.source_model_key') }} as key_class
    from deduplicated
    left join {{ ref('model_aliases') }} as aliases
        on aliases.alias = deduplicated.model_alias
        and {{ alias_valid_on('aliases', 'deduplicated.price_date') }}
),

-- each seller's paid standard price for a model on a day, per source: the reference of the suspect rules
seller_prices as (
    select
        price_date,
        model_id,
        provider,
        source,
        median(usd_per_1m_input) as usd_per_1m_input,
        median(usd_per_1m_output) as usd_per_1m_output
    from mapped
    where model_id is not null
        and key_class in ('standard', 'global')
        and usd_per_1m_input > 0
        and usd_per_1m_output > 0
    group by all
),

model_sellers as (
    select
        price_date,
        model_id,
        list(struct_pack(provider := provider, usd_in := usd_per_1m_input, usd_out := usd_per_1m_output))
            as sellers
    from (
        select price_date, model_id, provider, median(usd_per_1m_input) as usd_per_1m_input,
            median(usd_per_1m_output) as usd_per_1m_output
        from seller_prices
        group by all
    )
    group by all
),

compared as (
    select
        mapped.*,
        list_filter(model_sellers.sellers, seller -> seller.provider <> mapped.provider) as other_sellers
    from mapped
    left join model_sellers
        on model_sellers.price_date = mapped.price_date
        and model_sellers.model_id = mapped.model_id
),

medians as (
    select
        compared.* exclude (other_sellers),
        len(other_sellers) as n_other_sellers,
        list_aggregate(list_transform(other_sellers, seller -> seller.usd_in), 'median')
            as other_sellers_median_usd_per_1m_input,
        list_aggregate(list_transform(other_sellers, seller -> seller.usd_out), 'median')
            as other_sellers_median_usd_per_1m_output
    from compared
),

ruled as (
    select
        medians.*,
        case
            when usd_per_1m_input > 0 and usd_per_1m_output > 0 and n_other_sellers >= 2
                and ({{ price_ratio_beyond('usd_per_1m_input', 'other_sellers_median_usd_per_1m_input', 1000) }}
                    or {{ price_ratio_beyond('usd_per_1m_output', 'other_sellers_median_usd_per_1m_output', 1000) }})
                then 'unit_slip'
            -- a small model (its key names at most 20B parameters) priced above 20 USD per 1M: no such model sells
            -- at frontier prices, a per-token price read as per-1M does (watsonx granite-3-8b at 200)
            when try_cast(regexp_extract(lower(source_model_key), '[^0-9.]([0-9]+(\.[0-9]+)?)b([^a-z0-9]|$)', 1)
                    as double) <= 20
                and greatest(usd_per_1m_input, usd_per_1m_output) > 20
                then 'unit_slip'
            when usd_per_1m_input > 0 and usd_per_1m_output > 0 and n_other_sellers >= 2
                and ({{ price_ratio_beyond('usd_per_1m_input', 'other_sellers_median_usd_per_1m_input', 10) }}
                    or {{ price_ratio_beyond('usd_per_1m_output', 'other_sellers_median_usd_per_1m_output', 10) }})
                then 'disagrees_with_other_sellers'
            when model_id is not null and coalesce(mode, 'chat') = 'chat'
                and usd_per_1m_output > 0 and usd_per_1m_output < usd_per_1m_input / 2
                then 'output_below_half_input'
        end as suspect_reason
    from medians
),

confirmations as (
    select ruled.price_date, ruled.source, ruled.provider, ruled.source_model_key
    from ruled
    inner join seller_prices as other_source
        on other_source.price_date = ruled.price_date
        and other_source.model_id = ruled.model_id
        and other_source.provider = ruled.provider
        and other_source.source <> ruled.source
        and abs(other_source.usd_per_1m_input - ruled.usd_per_1m_input) <= 0.02 * ruled.usd_per_1m_input
        and abs(other_source.usd_per_1m_output - ruled.usd_per_1m_output) <= 0.02 * ruled.usd_per_1m_output
    where ruled.suspect_reason is not null
    group by all
)

select
    ruled.price_date,
    ruled.provider,
    ruled.model_id,
    ruled.source_model_key,
    ruled.usd_per_1m_input,
    ruled.usd_per_1m_output,
    ruled.usd_per_1m_cached_input,
    ruled.usd_per_1m_batch_input,
    ruled.usd_per_1m_batch_output,
    ruled.source,
    ruled.observed_at,
    ruled.days_since_observed,
    ruled.usd_per_1m_cache_write,
    ruled.long_context_threshold_tokens,
    ruled.usd_per_1m_input_long_context,
    ruled.usd_per_1m_output_long_context,
    ruled.max_input_tokens,
    ruled.deprecation_date,
    ruled.mode,
    ruled.is_free,
    ruled.has_variable_price,
    ruled.source_provider,
    ruled.key_class,
    ruled.suspect_reason is not null and confirmations.source is null as is_suspect,
    ruled.suspect_reason,
    confirmations.source is not null as is_confirmed_by_other_source,
    cast(ruled.other_sellers_median_usd_per_1m_input as decimal(18, 6)) as other_sellers_median_usd_per_1m_input,
    cast(ruled.other_sellers_median_usd_per_1m_output as decimal(18, 6)) as other_sellers_median_usd_per_1m_output,
    coalesce(ruled.n_other_sellers, 0) as n_other_sellers
from ruled
left join confirmations
    on confirmations.price_date = ruled.price_date
    and confirmations.source = ruled.source
    and confirmations.provider = ruled.provider
    and confirmations.source_model_key = ruled.source_model_key
