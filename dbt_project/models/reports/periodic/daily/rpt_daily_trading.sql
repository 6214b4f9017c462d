{{
    config(
        pre_hook="{{ delete_business_date('trading_date') }}",
        incremental_strategy='append',
    )
}}

{# The daily trading report: one line per live trade of the business date
   (busted fills and internal transfers between a client's own accounts are
   not trades). Money stays in the price currency. #}
select
    trading_date,
    execution_id,
    order_id,
    executed_at,
    account_id,
    trader_id,
    algo_id,
    instrument_id,
    isin,
    side,
    quantity,
    price,
    notional,
    currency,
    venue_mic,
    trading_capacity
from {{ ref('fct_executions') }}
where
    trading_date = {{ business_date() }}
    and execution_status = 'LIVE'
    and exec_kind = 'TRADE'
