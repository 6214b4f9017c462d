{#
    Pre-hook for period-keyed incremental models: remove the period's rows
    before the append, so a rerun replaces the period exactly, even when the
    period now has fewer rows (or none) than before.
#}
{% macro delete_period(column) -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where
            {{ column }} >= {{ period_start() }}
            and {{ column }} < {{ period_end() }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
