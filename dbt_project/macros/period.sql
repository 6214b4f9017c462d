{# The reporting period as SQL literals; the end bound is exclusive. #}
{% macro period_start() -%}
    cast('{{ var("period_start") }}' as timestamptz)
{%- endmacro %}

{% macro period_end() -%}
    cast('{{ var("period_end") }}' as timestamptz)
{%- endmacro %}
