{#-
  Deterministic part of model identity: turns a source's own model key into the alias looked up in the
  model_aliases seed. It only strips decoration (routing prefixes, Bedrock region/vendor prefixes and version
  suffixes, variant suffixes, date suffixes); whether "-instruct" or "-turbo" variants are the same model is
  decided in the seed. Keep in step with pipelines/model_keys.py (tests/test_model_keys.py compares them).
-#}
{% macro normalize_model_key(column) -%}
{%- set steps = [
    ('^.*/', ''),
    ('-v[0-9]+:0$', ''),
    (':[a-z0-9._-]*$', ''),
    ('^(us|eu|apac|global|jp|au|ca)\\.', ''),
    ('^(anthropic|meta|amazon|mistral|cohere|ai21|deepseek|openai|qwen|writer|moonshotai|google|xai)\\.', ''),
    ('[-@]20[0-9]{2}-?[0-9]{2}-?[0-9]{2}$', ''),
    ('-(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])$', ''),
] -%}
{%- set ns = namespace(expression='lower(trim(' ~ column ~ '))') -%}
{%- for pattern, replacement in steps -%}
    {%- set ns.expression = "regexp_replace(" ~ ns.expression ~ ", '" ~ pattern ~ "', '" ~ replacement ~ "')" -%}
{%- endfor -%}
{{ ns.expression }}
{%- endmacro %}
