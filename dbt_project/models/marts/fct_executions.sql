{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_run_scope('executed_at') }}",
        post_hook=[
            "create index if not exists fct_executions_trading_date_idx"
            " on {{ this }} (trading_date)",
            "create index if not exists fct_executions_executed_at_idx"
            " on {{ this }} (executed_at)",
            "create index if not exists fct_executions_execution_id_idx"
            " on {{ this }} (execution_id)",
            "analyze {{ this }}",
        ],
    )
}}

{# One row per execution: the fact table the periodic reports (positions,
   execution quality, large trader) aggregate. Money stays numeric with its
   currency. Keyed by execution_id: a correction replaces the execution's
   row (see delete_run_scope); a busted fill stays with status CANCELLED. #}
with

executions as (
    select * from {{ ref('int_executions__enriched') }}
)

select
    execution_id,
    order_id,
    trading_date,
    executed_at,
    account_id,
    instrument_id,
    trader_id,
    algo_id,
    isin,
    instrument_type,
    side,
    executed_quantity as quantity,
    executed_price as price,
    {{ notional(
        'executed_quantity', 'executed_price', 'price_notation', 'price_multiplier'
    ) }} as notional,
    price_currency as currency,
    venue_mic,
    trading_capacity,
    exec_kind,
    execution_status
from executions
