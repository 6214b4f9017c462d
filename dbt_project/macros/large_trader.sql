{#
    The 13h-1 percentages of a row: shares and value against the daily and
    the monthly thresholds (vars large_trader_*), 2 decimals.
#}
{% macro large_trader_pct(value, threshold_var) -%}
    round(100 * {{ value }} / {{ var(threshold_var) }}::numeric, 2)
{%- endmacro %}

{#
    THRESHOLD at 100 % or more of any threshold, WARNING from
    large_trader_warning_pct, else NONE.
#}
{% macro large_trader_alert(max_pct) -%}
    case
        when {{ max_pct }} >= 100 then 'THRESHOLD'
        when {{ max_pct }} >= {{ var('large_trader_warning_pct') }} then 'WARNING'
        else 'NONE'
    end
{%- endmacro %}
