-- Price moves of more than 5x up or more than 80% down from the previous observation of the same offer.
-- Unconfirmed moves (seen once) are held out of fct_gpu_prices_daily / fct_token_prices_daily; a second
-- observation confirms and releases them, with the flag kept here.
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
    not is_confirmed as is_held_out
from {{ ref('int_gpu_price_history') }}
where is_anomalous_move

union all

select
    'token',
    source,
    provider,
    source_model_key,
    case
        when {{ price_moved('previous_usd_per_1m_input', 'usd_per_1m_input', 5) }} then 'usd_per_1m_input'
        else 'usd_per_1m_output'
    end,
    case
        when {{ price_moved('previous_usd_per_1m_input', 'usd_per_1m_input', 5) }} then previous_usd_per_1m_input
        else previous_usd_per_1m_output
    end,
    case
        when {{ price_moved('previous_usd_per_1m_input', 'usd_per_1m_input', 5) }} then usd_per_1m_input
        else usd_per_1m_output
    end,
    case
        when {{ price_moved('previous_usd_per_1m_input', 'usd_per_1m_input', 5) }}
            then cast(usd_per_1m_input / nullif(previous_usd_per_1m_input, 0) as double)
        else cast(usd_per_1m_output / nullif(previous_usd_per_1m_output, 0) as double)
    end,
    previous_valid_from,
    valid_from,
    last_seen_at,
    n_observations,
    is_confirmed,
    not is_confirmed
from {{ ref('int_token_price_history') }}
where is_anomalous_move
