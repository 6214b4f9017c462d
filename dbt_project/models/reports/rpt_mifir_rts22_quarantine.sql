{{
    config(
        pre_hook="{{ delete_period('executed_at') }}",
        incremental_strategy='append',
    )
}}

{# Executions of the period kept out of the report, with the reason. No
   personal data here: the row points at the source execution, which is
   where the fix has to be made. A later run reports the execution once the
   source is fixed. #}
with

quarantined as (
    select * from {{ ref('int_mifir__transactions') }}
    where reason_code is not null
),

reasons as (
    select * from {{ ref('mifir_quarantine_reasons') }}
)

select
    quarantined.execution_id,
    quarantined.order_id,
    quarantined.trading_date,
    quarantined.trading_datetime as executed_at,
    quarantined.reason_code,
    reasons.reason_text,
    quarantined.extract_run_id
from quarantined
left join reasons on quarantined.reason_code = reasons.reason_code
