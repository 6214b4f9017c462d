{#
    The reportability decision for every execution of the run scope, stored
    with its reason (RTS 22 Art. 2 and 15(1)(g)/(h): neither over- nor
    under-reporting). One row per scope execution, so a period reconciles as
    source = reported + quarantined + not reportable. The first matching
    reason wins: an instrument out of scope is never reportable, whatever
    happened to the fill.
#}
with

executions as (
    select * from {{ ref('int_executions__enriched') }}
),

reasons as (
    select * from {{ ref('mifir_not_reportable_reasons') }}
),

decided as (
    select
        execution_id,
        order_id,
        extract_run_id,
        instrument_type,
        exec_kind,
        execution_status,
        {# An execution id the source holds twice cannot be judged from either
           copy: it is left reportable, so that int_mifir__transactions
           quarantines it (DUPLICATE_EXECUTION_ID) for a person to resolve. #}
        case
            when source_copies > 1 then null
            when instrument_type = 'FX_SPOT' then 'INSTRUMENT_OUT_OF_SCOPE'
            when exec_kind = 'INTERNAL_TRANSFER' then 'NOT_A_TRANSACTION'
            when execution_status = 'CANCELLED' then 'EXECUTION_CANCELLED'
        end as not_reportable_reason,
        trading_date,
        executed_at,
        updated_at
    from executions
)

select
    decided.execution_id,
    decided.order_id,
    decided.extract_run_id,
    decided.instrument_type,
    decided.exec_kind,
    decided.execution_status,
    decided.not_reportable_reason,
    reasons.reason_text as not_reportable_text,
    reasons.legal_ref as not_reportable_legal_ref,
    decided.not_reportable_reason is null as is_reportable,
    decided.trading_date,
    decided.executed_at,
    decided.updated_at
from decided
left join reasons on decided.not_reportable_reason = reasons.reason_code
