-- Per model: when the token sources first and last listed it, whether one still lists it, and the deprecation dates
-- they give. This is the data behind dim_models' release and retirement dates where no date is cited.
-- A model first seen within a month of its seller's first appearance in a source was released on or before that
-- (is_first_seen_censored): the sighting dates the start of the history, not the model.
with history as (
    select * from {{ ref('int_token_price_history') }}
),

newest_snapshots as (
    select source, scope, max(observed_at) as newest_observed_at
    from {{ ref('int_snapshots') }}
    group by source, scope
),

seller_starts as (
    select source, provider, min(valid_from) as seller_first_seen_at
    from history
    group by source, provider
),

source_keys as (
    select
        history.source,
        history.provider,
        history.source_model_key,
        history.model_id,
        min(history.valid_from) as first_seen_at,
        max(history.last_seen_at) as last_seen_at,
        arg_max(history.deprecation_date, history.valid_from) as deprecation_date,
        bool_or(history.last_seen_at = newest_snapshots.newest_observed_at) as is_still_listed
    from history
    inner join newest_snapshots
        on newest_snapshots.source = history.source
        and newest_snapshots.scope = history.scope
    where history.model_id is not null
    group by history.source, history.provider, history.source_model_key, history.model_id
),

ended as (
    select
        source_keys.*,
        source_keys.first_seen_at < seller_starts.seller_first_seen_at + interval 1 month as is_first_seen_censored,
        -- a key stops being sold at its deprecation date, else at its last sighting once no longer listed
        case
            when source_keys.deprecation_date is not null then source_keys.deprecation_date
            when not source_keys.is_still_listed then {{ utc_date('source_keys.last_seen_at') }}
        end as end_date,
        case
            when source_keys.deprecation_date is not null then 'deprecation_date'
            when not source_keys.is_still_listed then 'last_seen'
        end as end_date_source,
        min(source_keys.first_seen_at) over (partition by source_keys.model_id) as model_first_seen_at
    from source_keys
    inner join seller_starts
        on seller_starts.source = source_keys.source
        and seller_starts.provider = source_keys.provider
)

select
    model_id,
    {{ utc_date('min(first_seen_at)') }} as first_seen_date,
    bool_and(is_first_seen_censored) filter (where first_seen_at = model_first_seen_at) as is_first_seen_censored,
    {{ utc_date('max(last_seen_at)') }} as last_seen_date,
    bool_or(is_still_listed) as is_still_listed,
    max(deprecation_date) as deprecation_date,
    -- retired once every seller's key has ended (a key still listed without a deprecation date keeps it live)
    case when count(*) = count(end_date) then max(end_date) end as end_date,
    case when count(*) = count(end_date) then arg_max(end_date_source, end_date) end as end_date_source,
    count(distinct source) as n_sources,
    count(distinct provider) as n_sellers,
    count(*) as n_source_keys
from ended
group by model_id
