{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_period('executed_at') }}",
    )
}}

{# One row per execution: the fact table the periodic reports (positions,
   execution quality, large trader) aggregate. Money stays numeric with its
   currency. #}
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
    side,
    executed_quantity as quantity,
    executed_price as price,
    executed_quantity * executed_price as notional,
    price_currency as currency,
    venue_mic,
    trading_capacity
from executions
