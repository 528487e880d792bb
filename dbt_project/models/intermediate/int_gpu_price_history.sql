-- Change-only GPU price history: one row per offer per price version, with valid_from / valid_to, and a flag
-- on versions whose price moved more than 5x (or fell more than 80%) from the offer's previous version.
{% set key_columns = ['source', 'scope', 'provider', 'region', 'zone', 'instance_type', 'gpu_name', 'gpu_count',
                      'pricing_type'] %}
with versions as (
    {{ price_versions(
        ref('int_gpu_offer_observations'),
        key_columns=key_columns,
        value_columns=['gpu_model', 'usd_per_hour', 'usd_per_gpu_hour', 'source_gpu_count', 'gpu_count_disagrees',
                       'is_date_estimated']
    ) }}
)

{{ flag_price_moves('versions', key_columns, ['usd_per_gpu_hour']) }}
