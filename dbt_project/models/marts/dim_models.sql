-- Models with their organisation, commercial lifetime (release to retirement), training cost and throughput proxy.
-- Dates cited in the models seed (lifetimes seed, Epoch) win; where it has none, the price history gives them:
-- release = first seen (unless that sighting only bounds it: is_first_seen_censored), retirement = the sources'
-- deprecation date, or the last sighting once no source lists the model (see int_model_sightings).
with seeded as (
    select * from {{ ref('models') }}
),

sightings as (
    select * from {{ ref('int_model_sightings') }}
),

retired as (
    select
        seeded.*,
        coalesce(seeded.retirement_date, sightings.end_date) as resolved_retirement_date,
        case
            when seeded.retirement_date is not null then coalesce(seeded.retirement_date_source, 'lifetimes_seed')
            else sightings.end_date_source
        end as resolved_retirement_date_source,
        sightings.first_seen_date,
        sightings.last_seen_date,
        sightings.is_first_seen_censored,
        sightings.is_still_listed,
        sightings.deprecation_date,
        -- a first sighting after a cited retirement dates nothing
        case
            when not sightings.is_first_seen_censored
                and sightings.first_seen_date <= coalesce(seeded.retirement_date, sightings.first_seen_date)
                then sightings.first_seen_date
        end as first_seen_release_date
    from seeded
    left join sightings on sightings.model_id = seeded.model_id
),

dated as (
    select
        *,
        coalesce(release_date, first_seen_release_date) as resolved_release_date,
        case
            when release_date is not null then release_date_source
            when first_seen_release_date is not null then 'first_seen'
        end as resolved_release_date_source
    from retired
)

select
    model_id,
    organization,
    resolved_release_date as release_date,
    resolved_retirement_date as retirement_date,
    case
        when resolved_release_date is not null and resolved_retirement_date is not null
            then round(date_diff('day', resolved_release_date, resolved_retirement_date) / 30.4375, 1)
    end as commercial_lifetime_months,
    training_cost_usd,
    throughput_proxy_model_id,
    source_url,
    display_name,
    is_open_weights,
    resolved_release_date_source as release_date_source,
    resolved_retirement_date_source as retirement_date_source,
    training_cost_confidence,
    training_cost_source_url,
    first_seen_date,
    last_seen_date,
    is_first_seen_censored,
    is_still_listed,
    deprecation_date,
    throughput_proxy_classes
from dated
