{#-
  What kind of offer a source model key is: the seller's `standard` commercial key, a
  `global` deployment (Azure global / global-standard, Bedrock global. profiles), or an offer that is not the
  seller's default price for the model and never enters fct_model_prices_daily or the margins:
  `regional` (data-zone or region-pinned keys: azure/eu/, azure/us/, Bedrock us./eu./apac. profiles and
  bedrock/<region>/ keys), `government` (GovCloud / us-gov), `long_context` (-long variants), `fine_tune`,
  `provisioned` (provisioned-throughput / reserved capacity), `batch` (OpenRouter :batch, the batch tier of the base
  model) and `free` (OpenRouter :free).
-#}
{% macro token_key_class(key_column) -%}
case
    when lower({{ key_column }}) like '%:free' then 'free'
    when lower({{ key_column }}) like '%:batch' then 'batch'
    when regexp_matches(lower({{ key_column }}), '(^|[/.])us-gov|(^|[/.])gov[-/.]|govcloud') then 'government'
    when regexp_matches(lower({{ key_column }}), '[-:]long$') then 'long_context'
    when regexp_matches(lower({{ key_column }}), '(^|[/:])ft[:-]|fine-?tun') then 'fine_tune'
    when regexp_matches(lower({{ key_column }}), 'provisioned|(^|[/-])ptu([/-]|$)') then 'provisioned'
    when regexp_matches(lower({{ key_column }}), '^azure(_ai)?/(eu|us|apac|uk|jp|au|ca)/')
        or regexp_matches(lower({{ key_column }}), '^(bedrock[a-z_]*/)?(us|eu|apac|jp|au|ca)\.')
        or regexp_matches(lower({{ key_column }}), '^[a-z_]+/[a-z]{2}-[a-z]+-[0-9]+/')
        then 'regional'
    when regexp_matches(lower({{ key_column }}), '^azure(_ai)?/global(-standard)?/|^(bedrock[a-z_]*/)?global\.')
        then 'global'
    else 'standard'
end
{%- endmacro %}

{#- Precedence of key classes within one seller's series (lower first); other classes never lead a series. -#}
{% macro series_key_rank(key_class_column) -%}
case {{ key_class_column }} when 'standard' then 1 when 'global' then 2 end
{%- endmacro %}
