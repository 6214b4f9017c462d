{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_business_date('business_date') }}",
        post_hook=[
            "create index if not exists fct_large_trader_activity_daily_date_idx"
            " on {{ this }} (business_date)",
            "analyze {{ this }}",
        ],
    )
}}

{#
    SEC Rule 13h-1: a business date's transactions in NMS securities per group
    of accounts under the same investment discretion, purchases plus sales.
    NMS securities are shares, ETFs and listed options whose primary market is
    a US national securities exchange (seed nms_venues). Shares count units of
    shares and ETFs; options add their fair market value (premium x
    multiplier) only. Busted fills and internal transfers are not
    transactions. Values are US dollars: an NMS trade in another currency is
    counted in non_usd_trades, which a test requires to be 0.
#}
with

trades as (
    select
        executions.trading_date,
        account_refs.discretion_group_id,
        account_refs.large_trader_id,
        instruments.instrument_type,
        executions.quantity,
        executions.notional,
        executions.currency
    from {{ ref('fct_executions') }} as executions
    inner join {{ ref('stg_qsuite__accounts') }} as account_refs
        on executions.account_id = account_refs.account_id
    inner join {{ ref('stg_qsuite__instruments') }} as instruments
        on executions.instrument_id = instruments.instrument_id
    inner join {{ ref('nms_venues') }} as nms
        on instruments.primary_mic = nms.mic
    where
        executions.trading_date = {{ business_date() }}
        and executions.execution_status = 'LIVE'
        and executions.exec_kind = 'TRADE'
        and instruments.instrument_type in ('SHARE', 'ETF', 'OPTION')
)

select
    {{ business_date() }} as business_date,
    discretion_group_id,
    min(large_trader_id) as large_trader_id,
    count(distinct large_trader_id)::integer as large_trader_ids,
    count(*)::integer as trades,
    coalesce(
        sum(quantity) filter (where instrument_type in ('SHARE', 'ETF')), 0
    ) as nms_shares,
    coalesce(sum(notional) filter (where currency = 'USD'), 0) as nms_value_usd,
    count(*) filter (where currency <> 'USD')::integer as non_usd_trades
from trades
group by 2
