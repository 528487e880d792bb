select * from {{ ref('gpus') }}
