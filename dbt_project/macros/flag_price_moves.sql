{#-
  Flags a price version whose price moved more than `max_ratio` times up (or fell more than 1 - 1/max_ratio)
  from the previous version of the same offer, in any of `price_columns` (`max_ratio` defaults to the var
  price_move_max_ratio, 5, which price_anomalies reads too). Such a move is held out of the daily marts until a
  second observation confirms it (n_observations >= 2); the flag stays on the version either way.
  Real cuts move this much too (Bedrock Llama 3.1 405B output 16.00 -> 2.40), which is why confirmation, not
  the size of the move, decides.
-#}
{% macro flag_price_moves(versions_relation, key_columns, price_columns, max_ratio=none) -%}
select
    *,
    (
        {%- for column in price_columns %}
        {{ price_moved('previous_' ~ column, column, max_ratio) }}{% if not loop.last %} or{% endif %}
        {%- endfor %}
    ) as is_anomalous_move,
    n_observations >= 2 as is_confirmed
from (
    select
        *,
        {%- for column in price_columns %}
        lag({{ column }}) over offer as previous_{{ column }},
        {%- endfor %}
        lag(valid_from) over offer as previous_valid_from
    from {{ versions_relation }}
    window offer as (partition by {{ key_columns | join(', ') }} order by valid_from)
) as compared
{%- endmacro %}

{#- `current` is more than `max_ratio` (default: the var price_move_max_ratio) times `previous`, or below 1/max_ratio
    of it (a price from 0 moved too). -#}
{% macro price_moved(previous, current, max_ratio=none) -%}
{%- set max_ratio = max_ratio if max_ratio is not none else var('price_move_max_ratio') -%}
coalesce(
    case
        when {{ previous }} is null or {{ current }} is null then false
        when {{ previous }} = 0 then {{ current }} > 0
        else {{ current }} > {{ previous }} * {{ max_ratio }} or {{ current }} < {{ previous }} / {{ max_ratio }}
    end, false)
{%- endmacro %}
