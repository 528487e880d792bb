-- One price series per (seller, model, source) and day: the offer a careful analyst would quote, chosen from the
-- seller's keys for the model by a documented precedence, and kept until it disappears.
--   1. only the seller's commercial keys lead a series: key_class `standard` before `global` (macro
--      token_key_class); data-zone / regional, government, -long, fine-tune, provisioned, :batch and :free keys stay
--      in fct_token_prices_daily as offers of their own;
--   2. among those, the key the source listed first: a key that appears later (a dated snapshot, a data-zone copy)
--      never displaces the one in use, so the series changes offer only when the chosen key disappears (a rename,
--      e.g. together_ai Meta-Llama-3.1-405B-Instruct-Turbo -> Llama-3.1-405B-Instruct), recorded in is_key_switch;
--   3. then the key name.
-- Batch prices come from the chosen key, else from the seller's :batch key of the model that day (OpenRouter).
-- The standard/cached prices carry the chosen key's suspect flag (fct_token_prices_daily); margins skip suspects.
{{ incremental_by_day(token_source_ids()) }}
with prices as (
    select * from {{ ref('fct_token_prices_daily') }}
    where model_id is not null
        and price_date >= {{ incremental_start_day(token_source_ids()) }}
),

-- the key's first version starts at its first change that is not a removal (read from the change log, which is
-- cheaper than the history view)
key_first_seen as (
    select source, provider, source_model_key, min(observed_at) as key_first_seen_at
    from {{ ref('stg_token_observations') }}
    where not is_removed
    group by source, provider, source_model_key
),

candidates as (
    select
        prices.*,
        key_first_seen.key_first_seen_at,
        {{ series_key_rank('prices.key_class') }} as key_rank
    from prices
    inner join key_first_seen
        on key_first_seen.source = prices.source
        and key_first_seen.provider = prices.provider
        and key_first_seen.source_model_key = prices.source_model_key
    where {{ series_key_rank('prices.key_class') }} is not null
),

chosen as (
    select
        *,
        count(*) over same_day as n_keys
    from candidates
    window same_day as (partition by price_date, source, provider, model_id)
    qualify row_number() over (
        partition by price_date, source, provider, model_id
        order by key_rank, key_first_seen_at, source_model_key
    ) = 1
),

batch_keys as (
    select price_date, source, provider, model_id,
        arg_min(source_model_key, source_model_key) as batch_source_model_key,
        arg_min(usd_per_1m_input, source_model_key) as usd_per_1m_batch_input,
        arg_min(usd_per_1m_output, source_model_key) as usd_per_1m_batch_output
    from prices
    where key_class = 'batch'
    group by all
),

{% if is_incremental() %}
-- each series' last day before the window, so a switch on its first day in the window is recorded
previous_day as (
    select source, provider, model_id, source_model_key
    from {{ this }}
    where price_date < {{ incremental_start_day(token_source_ids()) }}
    qualify row_number() over (partition by source, provider, model_id order by price_date desc) = 1
),
{% endif %}

series as (
    select
        chosen.*,
        coalesce(
            lag(chosen.source_model_key) over series_order,
            {% if is_incremental() %}previous_day.source_model_key{% else %}null{% endif %}
        ) as previous_source_model_key
    from chosen
    {% if is_incremental() %}
    left join previous_day
        on previous_day.source = chosen.source
        and previous_day.provider = chosen.provider
        and previous_day.model_id = chosen.model_id
    {% endif %}
    window series_order as (partition by chosen.source, chosen.provider, chosen.model_id order by chosen.price_date)
)

select
    series.price_date,
    series.provider,
    series.model_id,
    series.source,
    series.source_model_key,
    series.usd_per_1m_input,
    series.usd_per_1m_output,
    series.usd_per_1m_cached_input,
    series.usd_per_1m_cache_write,
    coalesce(series.usd_per_1m_batch_input, batch_keys.usd_per_1m_batch_input) as usd_per_1m_batch_input,
    coalesce(series.usd_per_1m_batch_output, batch_keys.usd_per_1m_batch_output) as usd_per_1m_batch_output,
    series.long_context_threshold_tokens,
    series.usd_per_1m_input_long_context,
    series.usd_per_1m_output_long_context,
    series.is_free,
    series.has_variable_price,
    series.observed_at,
    series.days_since_observed,
    series.key_first_seen_at,
    series.n_keys,
    series.key_class,
    case
        when series.usd_per_1m_batch_input is not null then series.source_model_key
        else batch_keys.batch_source_model_key
    end as batch_source_model_key,
    series.previous_source_model_key,
    coalesce(series.previous_source_model_key <> series.source_model_key, false) as is_key_switch,
    series.is_suspect,
    series.suspect_reason,
    series.max_input_tokens,
    series.deprecation_date
from series
left join batch_keys
    on batch_keys.price_date = series.price_date
    and batch_keys.source = series.source
    and batch_keys.provider = series.provider
    and batch_keys.model_id = series.model_id
