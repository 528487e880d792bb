-- Price moves of more than 5x up or more than 80% down (the var price_move_max_ratio, as flag_price_moves) from the
-- previous observation of the same offer, and suspect token prices (fct_token_prices_daily.suspect_reason: far
-- off the model's other sellers, or an output price below half the input price), one row per offer and reason with the days it was held out.
-- Unconfirmed moves (seen once) are held out of fct_gpu_prices_daily / fct_token_prices_daily; a second
-- observation confirms and releases them, with the flag kept here.
-- Only an offer whose prices span more than that ratio over its history can have such a move: version just those
-- offers (a cheap aggregate instead of versioning every GPU offer again).
with wide_ranging_gpu_offers as (
    select {{ gpu_offer_key() | join(', ') }}
    from {{ ref('stg_gpu_observations') }}
    where not is_removed
    group by all
    having max(usd_per_gpu_hour) > {{ var('price_move_max_ratio') }} * min(usd_per_gpu_hour) or (min(usd_per_gpu_hour) = 0 and max(usd_per_gpu_hour) > 0)
),

gpu_changes as (
    {{ changes_of_offers(ref('stg_gpu_observations'), 'wide_ranging_gpu_offers', gpu_offer_key()) }}
),

gpu_history as (
    {{ gpu_price_history('gpu_changes') }}
)

select
    'gpu' as kind,
    source,
    provider,
    concat_ws(' ', instance_type, region, zone, gpu_name, pricing_type) as offer,
    'usd_per_gpu_hour' as price_column,
    previous_usd_per_gpu_hour as previous_price,
    usd_per_gpu_hour as price,
    cast(usd_per_gpu_hour / nullif(previous_usd_per_gpu_hour, 0) as double) as ratio,
    previous_valid_from,
    valid_from as observed_at,
    last_seen_at,
    n_observations,
    is_confirmed,
    not is_confirmed as is_held_out,
    'price_move' as reason
from gpu_history
where is_anomalous_move

union all

select
    'token',
    source,
    provider,
    source_model_key,
    case
        when {{ price_moved('previous_usd_per_1m_input', 'usd_per_1m_input') }} then 'usd_per_1m_input'
        else 'usd_per_1m_output'
    end,
    case
        when {{ price_moved('previous_usd_per_1m_input', 'usd_per_1m_input') }} then previous_usd_per_1m_input
        else previous_usd_per_1m_output
    end,
    case
        when {{ price_moved('previous_usd_per_1m_input', 'usd_per_1m_input') }} then usd_per_1m_input
        else usd_per_1m_output
    end,
    case
        when {{ price_moved('previous_usd_per_1m_input', 'usd_per_1m_input') }}
            then cast(usd_per_1m_input / nullif(previous_usd_per_1m_input, 0) as double)
        else cast(usd_per_1m_output / nullif(previous_usd_per_1m_output, 0) as double)
    end,
    previous_valid_from,
    valid_from,
    last_seen_at,
    n_observations,
    is_confirmed,
    not is_confirmed,
    'price_move'
from {{ ref('int_token_price_history') }}
where is_anomalous_move

union all

select
    'token',
    source,
    provider,
    source_model_key,
    price_column,
    arg_max(reference_price, price_date),
    arg_max(price, price_date),
    cast(arg_max(price / nullif(reference_price, 0), price_date) as double),
    null,
    min(observed_at),
    max(observed_at),
    count(distinct price_date),
    bool_or(is_confirmed_by_other_source),
    bool_or(is_suspect),
    suspect_reason
from (
    -- the price that breaks the rule, and what it is compared with (the other sellers' median, or the input price)
    select
        *,
        case
            when suspect_reason = 'output_below_half_input' then 'usd_per_1m_output'
            when {{ price_ratio_beyond('usd_per_1m_input', 'other_sellers_median_usd_per_1m_input', 10) }}
                then 'usd_per_1m_input'
            else 'usd_per_1m_output'
        end as price_column,
        case
            when suspect_reason = 'output_below_half_input' then usd_per_1m_input
            when {{ price_ratio_beyond('usd_per_1m_input', 'other_sellers_median_usd_per_1m_input', 10) }}
                then other_sellers_median_usd_per_1m_input
            else other_sellers_median_usd_per_1m_output
        end as reference_price,
        case
            when suspect_reason = 'output_below_half_input' then usd_per_1m_output
            when {{ price_ratio_beyond('usd_per_1m_input', 'other_sellers_median_usd_per_1m_input', 10) }}
                then usd_per_1m_input
            else usd_per_1m_output
        end as price
    from {{ ref('fct_token_prices_daily') }}
    where suspect_reason is not null
)
group by source, provider, source_model_key, price_column, suspect_reason

union all

-- whole live batches held as suspect by the loader (a collapsed file, or most prices moved by one factor)
select
    'batch',
    source,
    cast(null as varchar),
    payload_name,
    case reason when 'offer_drop' then 'offer_count' else 'all_prices' end,
    case reason when 'offer_drop' then cast(current_offers as decimal(18, 6)) end,
    case reason when 'offer_drop' then cast(incoming_offers as decimal(18, 6)) end,
    case reason
        when 'offer_drop' then cast(incoming_offers as double) / nullif(current_offers, 0)
        else factor
    end,
    state_observed_at,
    held_at,
    coalesce(confirmed_at, held_at),
    case when is_confirmed then 2 else 1 end,
    is_confirmed,
    not is_confirmed,
    'batch_' || reason
from {{ ref('stg_suspect_batches') }}
