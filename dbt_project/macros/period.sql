{# The reporting period as SQL literals; the end bound is exclusive. #}
{% macro period_start() -%}
    cast('{{ var("period_start") }}' as timestamptz)
{%- endmacro %}

{% macro period_end() -%}
    cast('{{ var("period_end") }}' as timestamptz)
{%- endmacro %}

{#
    True when `column` falls in the reporting period [period_start, period_end).
#}
{% macro in_period(column) -%}
    ({{ column }} >= {{ period_start() }} and {{ column }} < {{ period_end() }})
{%- endmacro %}

{#
    The run scope of an execution: executed in the period, or changed in it.
    A correction or a bust of an earlier trade carries a new updated_at, so it
    is reported (or withdrawn) in the period it changed, not in the period it
    was executed in.
#}
{% macro in_run_scope(executed_at='executed_at', updated_at='updated_at') -%}
    ({{ in_period(executed_at) }} or {{ in_period(updated_at) }})
{%- endmacro %}

{# A timestamptz as ISO 8601 UTC text with microseconds, independent of the
   session time zone (for jsonb payloads that must be byte-stable). #}
{% macro utc_text(column) -%}
    to_char({{ column }} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
{%- endmacro %}
