{{
    config(
        pre_hook="{{ delete_business_date('trading_date') }}",
        incremental_strategy='append',
    )
}}

{# The summary of the daily trading report, per price currency (values in
   different currencies are never added): trades, volume, value and the
   distinct symbols, trading accounts and traders. A trade without a trader (an algo
   or a client's direct access) counts in no trader. #}
select
    trading_date,
    currency,
    count(*)::integer as trades,
    sum(quantity) as volume,
    sum(notional) as traded_value,
    count(distinct instrument_id)::integer as symbols,
    count(distinct account_id)::integer as trading_accounts,
    count(distinct trader_id)::integer as traders
from {{ ref('rpt_daily_trading') }}
where trading_date = {{ business_date() }}
group by 1, 2
