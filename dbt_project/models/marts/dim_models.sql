-- Models with their organisation, commercial lifetime (release to retirement), training cost and throughput proxy.
select
    model_id,
    organization,
    release_date,
    retirement_date,
    case
        when release_date is not null and retirement_date is not null
            then round(date_diff('day', release_date, retirement_date) / 30.4375, 1)
    end as commercial_lifetime_months,
    training_cost_usd,
    throughput_proxy_model_id,
    source_url,
    display_name,
    is_open_weights,
    release_date_source,
    retirement_date_source,
    training_cost_confidence,
    training_cost_source_url
from {{ ref('models') }}
