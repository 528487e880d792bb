-- Change-only GPU price history: one row per offer per price version, with valid_from / valid_to.
{{ price_versions(
    ref('int_gpu_offer_observations'),
    key_columns=['source', 'scope', 'provider', 'region', 'zone', 'instance_type', 'gpu_name', 'gpu_count',
                 'pricing_type'],
    value_columns=['gpu_model', 'usd_per_hour', 'usd_per_gpu_hour', 'source_gpu_count', 'gpu_count_disagrees',
                   'is_date_estimated']
) }}
