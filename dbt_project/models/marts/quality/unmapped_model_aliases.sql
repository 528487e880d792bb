-- Source model keys whose normalised alias the model_aliases seed does not map (never guessed).
select
    source,
    provider,
    source_model_key,
    model_alias,
    min(valid_from) as first_seen_at,
    max(last_seen_at) as last_seen_at,
    sum(n_observations) as n_observations
from {{ ref('int_token_price_history') }}
where model_id is null
group by source, provider, source_model_key, model_alias
