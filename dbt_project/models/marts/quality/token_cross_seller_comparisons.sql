-- One seller's token price vs the median of the same model's other sellers on the same day (kind
-- token_cross_seller), from the suspect-price rule of fct_token_prices_daily: every day of each key the rule ever
-- flagged as 'disagrees_with_other_sellers' (the unflagged days tell price_discrepancies when it resolved), not
-- every difference between sellers. Side b is the median of several rows, so it has no observation time.
-- Empty (no reference to those columns) unless the dbt var enable_cross_seller_discrepancies is true, so the model,
-- its Dagster asset and the unit test of price_discrepancies exist either way.
{% if var('enable_cross_seller_discrepancies', false) %}
with prices as (
    select *
    from {{ ref('fct_token_prices_daily') }}
    where other_sellers_median_usd_per_1m_input is not null
        or other_sellers_median_usd_per_1m_output is not null
),

flagged_keys as (
    select distinct source, provider, source_model_key
    from prices
    where is_suspect and suspect_reason in ('disagrees_with_other_sellers', 'unit_slip')
),

rows_of_flagged_keys as (
    select
        prices.*,
        coalesce(prices.is_suspect and prices.suspect_reason in ('disagrees_with_other_sellers', 'unit_slip'), false) as is_flagged
    from prices
    inner join flagged_keys
        on flagged_keys.source = prices.source
        and flagged_keys.provider = prices.provider
        and flagged_keys.source_model_key = prices.source_model_key
)

{% for column in ['usd_per_1m_input', 'usd_per_1m_output'] %}
select
    price_date,
    'token_cross_seller' as kind,
    provider,
    model_id,
    cast(null as varchar) as instance_type,
    cast(null as varchar) as region,
    cast(null as varchar) as pricing_type,
    '{{ column }}' as price_column,
    source as source_a,
    source_model_key as subject_a,
    cast({{ column }} as decimal(18, 6)) as value_a,
    observed_at as observed_at_a,
    source as source_b,
    'median of the other sellers of ' || coalesce(model_id, source_model_key) as subject_b,
    cast(other_sellers_median_{{ column }} as decimal(18, 6)) as value_b,
    cast(null as timestamptz) as observed_at_b,
    is_flagged
from rows_of_flagged_keys
where {{ column }} is not null and other_sellers_median_{{ column }} is not null
{% if not loop.last %}union all{% endif %}
{% endfor %}
{% else %}
select
    cast(null as date) as price_date,
    cast(null as varchar) as kind,
    cast(null as varchar) as provider,
    cast(null as varchar) as model_id,
    cast(null as varchar) as instance_type,
    cast(null as varchar) as region,
    cast(null as varchar) as pricing_type,
    cast(null as varchar) as price_column,
    cast(null as varchar) as source_a,
    cast(null as varchar) as subject_a,
    cast(null as decimal(18, 6)) as value_a,
    cast(null as timestamptz) as observed_at_a,
    cast(null as varchar) as source_b,
    cast(null as varchar) as subject_b,
    cast(null as decimal(18, 6)) as value_b,
    cast(null as timestamptz) as observed_at_b,
    cast(null as boolean) as is_flagged
where false
{% endif %}
