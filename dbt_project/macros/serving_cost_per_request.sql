{#- Serving cost of one request in USD: replica cost per second (P * g / 3600) over requests per second (T / O). -#}
{% macro serving_cost_per_request(usd_per_gpu_hour, gpus_per_replica, output_tokens_per_second, output_tokens) -%}
    ({{ usd_per_gpu_hour }} * {{ gpus_per_replica }} / 3600.0) / ({{ output_tokens_per_second }} / {{ output_tokens }})
{%- endmacro %}
