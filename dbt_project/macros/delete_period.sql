{#
    Pre-hook for period-keyed incremental models: remove the period's rows
    before the append, so a rerun replaces the period exactly, even when the
    period now has fewer rows (or none) than before.
#}
{% macro delete_period(column) -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where {{ in_period(column) }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#
    Pre-hook for the execution-keyed incremental models: remove the period's
    rows and the row of every execution in the run scope (wherever it was
    executed), before the append. A correction of an earlier trade thus
    replaces that trade's row instead of adding a second one; a rerun gives
    the same rows; and building another period touches only the executions of
    that period's scope.

    The scope is read from the raw extract directly (the same predicate as
    int_executions__enriched), so the delete does not depend on the order in
    which models are selected.
#}
{% macro delete_run_scope(period_column) -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where {{ in_period(period_column) }};
        {#- A join, not "or execution_id in (subquery)": with a day's scope
            larger than work_mem that subquery is not hashed and is rescanned
            for every row of a table that grows every day. #}
        delete from {{ this }} as target
        using {{ source('qsuite', 'qsuite_executions') }} as scope
        where
            target.execution_id = scope.execution_id
            and {{ in_run_scope('scope.executed_at', 'scope.updated_at') }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
