-- The GPU price each scenario is evaluated at: its fixed price (price_date null), and the market price of its
-- GPU on every day with data at its market basis (one scenario becomes a history).
with scenarios as (
    select * from {{ ref('scenarios') }}
)

select scenario_id, cast(null as date) as price_date, 'fixed' as price_basis,
    cast(fixed_usd_per_gpu_hour as double) as usd_per_gpu_hour
from scenarios
where fixed_usd_per_gpu_hour is not null

union all

select scenarios.scenario_id, basis.price_date, 'market_' || scenarios.market_price_basis as price_basis,
    cast(basis.usd_per_gpu_hour as double)
from scenarios
inner join {{ ref('gpu_price_basis') }} as basis
    on basis.gpu_model = scenarios.gpu_model
    and basis.gpu_price_basis = scenarios.market_price_basis
