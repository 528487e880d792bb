-- Change-only GPU price history: one row per offer per price version, with valid_from / valid_to, and a flag
-- on versions whose price moved more than 5x (or fell more than 80%) from the offer's previous version.
-- A view over the change log: the versions are the stored changes, not a second copy of them.
{{ config(materialized='view') }}
{% set key_columns = ['source', 'scope', 'provider', 'region', 'zone', 'instance_type', 'gpu_name', 'gpu_count',
                      'pricing_type'] %}
with changes as (
    select * from {{ ref('stg_gpu_observations') }}
),

versions as (
    {{ versions_from_changes(
        'changes',
        key_columns=key_columns,
        value_columns=['gpu_model', 'usd_per_hour', 'usd_per_gpu_hour', 'source_gpu_count', 'gpu_count_disagrees'],
        preferred_last='usd_per_hour desc nulls first, usd_per_gpu_hour desc nulls first'
    ) }}
)

{{ flag_price_moves('versions', key_columns, ['usd_per_gpu_hour']) }}
