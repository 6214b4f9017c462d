{{
    config(
        pre_hook="{{ delete_run_scope('executed_at') }}",
        incremental_strategy='append',
    )
}}

{# Reportable executions of the run scope kept out of the report: every
   blocking SQL reason and every error of the rule gate, sorted, with the
   text of the first. No personal data here: source_row carries only the
   execution's ids, times, quantities, price and venue, which is where the
   fix has to be found. A later run reports the execution once the source is
   fixed (the fix bumps updated_at, which brings it back into scope). #}
with

{# One candidate per execution: an MTCH execution has two records (its
   client and market legs) with the same execution and the same SQL reasons;
   its client leg stands for it here. #}
candidates as (
    select * from {{ ref('int_mifir__transactions') }}
    where leg is distinct from 'MARKET'
),

violations as (
    select * from {{ source('regreport', 'rule_violations') }}
    where severity = 'error'
),

executions as (
    select * from {{ ref('stg_qsuite__executions') }}
),

sql_reasons as (
    select * from {{ ref('mifir_quarantine_reasons') }}
),

codes as (
    select
        candidates.execution_id,
        unnest(candidates.reason_codes) as reason_code
    from candidates
    union
    select
        violations.execution_id,
        violations.rule_code as reason_code
    from violations
    inner join candidates
        on violations.execution_id = candidates.execution_id
),

per_execution as (
    select
        execution_id,
        array_agg(reason_code order by reason_code collate "C") as reason_codes
    from codes
    group by 1
),

{# The text of a rule code: the rule and the field it failed on, never the
   value (which may be personal data). The rule catalogue's own message is
   in plugins/regreport/rules/registry.json. #}
rule_texts as (
    select
        execution_id,
        rule_code,
        'Validation rule '
        || rule_code
        || ' failed'
        || coalesce(' on ' || field, '') as reason_text
    from violations
)

{# A trade time outside the run's window is not a trading date to file the
   record under: such a record belongs to the day whose run read it (the
   period's first day), so that day's reconciliation shows it. #}
select
    per_execution.execution_id,
    candidates.order_id,
    case
        when
            per_execution.reason_codes
            && array['TRADE_TIME_AFTER_PERIOD', 'TRADE_TIME_BEFORE_WINDOW']
            then ({{ period_start() }} at time zone 'UTC')::date
        else candidates.trading_date
    end as trading_date,
    candidates.trading_datetime as executed_at,
    per_execution.reason_codes,
    per_execution.reason_codes[1] as reason_code,
    coalesce(sql_reasons.reason_text, rule_texts.reason_text) as reason_text,
    jsonb_build_object(
        'execution_id', executions.execution_id,
        'order_id', executions.order_id,
        'executed_at', {{ utc_text('executions.executed_at') }},
        'updated_at', {{ utc_text('executions.updated_at') }},
        'version', executions.execution_version,
        'status', executions.execution_status,
        'exec_kind', executions.exec_kind,
        'quantity', executions.executed_quantity,
        'price', executions.executed_price,
        'currency', executions.price_currency,
        'accrued_interest', executions.accrued_interest,
        'venue_mic', executions.venue_mic,
        'venue_transaction_id', executions.venue_transaction_id,
        'trading_capacity', executions.trading_capacity
    ) as source_row,
    {# Source rows behind the execution: more than one when the source
       holds its id twice (DUPLICATE_EXECUTION_ID); every copy is counted. #}
    candidates.source_copies as source_rows,
    candidates.extract_run_id
from per_execution
inner join candidates
    on per_execution.execution_id = candidates.execution_id
left join executions
    on per_execution.execution_id = executions.execution_id
left join sql_reasons
    on per_execution.reason_codes[1] = sql_reasons.reason_code
left join rule_texts
    on
        per_execution.execution_id = rule_texts.execution_id
        and per_execution.reason_codes[1] = rule_texts.rule_code
