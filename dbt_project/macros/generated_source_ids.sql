{#-
  GENERATED from seeds/reference/sources.csv by python -m pipelines.dbt_sources (make manifest): do not edit.
  The source ids of each kind, in the seed's order; source_ids() is every kind's. --vars can replace a list
  (e.g. '{"gpu_sources": [...]}': bench/dbt_bench.py points them at its synthetic sources).
-#}
{% macro gpu_source_ids() %}{{ return(var('gpu_sources', ['skypilot', 'gpu_trackers', 'aws', 'azure', 'gcp', 'lambda', 'runpod', 'vast'])) }}{% endmacro %}
{% macro token_source_ids() %}{{ return(var('token_sources', ['litellm', 'openrouter'])) }}{% endmacro %}
{% macro source_ids() %}{{ return(gpu_source_ids() + token_source_ids()) }}{% endmacro %}
