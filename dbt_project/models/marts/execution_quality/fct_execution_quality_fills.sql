{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_business_date('trading_date') }}",
        post_hook=[
            "create index if not exists fct_execution_quality_fills_date_idx"
            " on {{ this }} (trading_date)",
            "analyze {{ this }}",
        ],
    )
}}

{#
    One row per live fill of a measured order received on the business date
    (fct_execution_quality_orders), with the per-share figures of SEC Rule 605
    against the order's reference NBBO:

    - effective spread: 2 x (price - midpoint) for a buy, 2 x (midpoint -
      price) for a sell;
    - price improvement: offer - price for a buy, price - bid for a sell
      (positive: improved; 0: at the quote; negative: outside the quote);
    - quoted spread: offer - bid;
    - time to execution: from the reference time (receipt, or when a
      non-marketable limit order became executable), in milliseconds;
    - the NBBO midpoint in force each realized-spread horizon after the fill
      (var execution_quality_horizons_ms); after the day's last quote, that
      last quote's (the final NBBO of the day).
#}
with

orders as (
    select * from {{ ref('fct_execution_quality_orders') }}
    where
        trading_date = {{ business_date() }}
        and order_category <> 'NO_QUOTE'
),

fills as (
    select
        execution_id,
        order_id,
        executed_at,
        quantity,
        price
    from {{ ref('fct_executions') }}
    where
        trading_date = {{ business_date() }}
        and execution_status = 'LIVE'
        and exec_kind = 'TRADE'
),

measured as (
    select
        fills.execution_id,
        fills.order_id,
        orders.instrument_id,
        orders.currency,
        orders.order_category,
        orders.size_band,
        orders.side,
        fills.quantity,
        fills.price,
        fills.executed_at,
        orders.reference_at,
        orders.reference_mid,
        case orders.side when 'BUY' then 1 else -1 end as side_sign,
        case orders.side
            when 'BUY' then orders.reference_ask - fills.price
            else fills.price - orders.reference_bid
        end as price_improvement,
        orders.reference_ask - orders.reference_bid as quoted_spread
    from fills
    inner join orders on fills.order_id = orders.order_id
)

select
    {{ business_date() }} as trading_date,
    execution_id,
    order_id,
    instrument_id,
    currency,
    order_category,
    size_band,
    side,
    quantity,
    price,
    executed_at,
    reference_mid,
    2 * side_sign * (price - reference_mid) as effective_spread,
    price_improvement,
    quoted_spread,
    extract(epoch from executed_at - reference_at)
    * 1000 as time_to_execution_ms,
    array[{{ var('execution_quality_horizons_ms') | join(', ') }}]::integer[]
        as horizons_ms,
    array[
        {%- for horizon in var('execution_quality_horizons_ms') %}
            (
                select quotes.mid_price
                from {{ ref('fct_nbbo_daily') }} as quotes
                where
                    quotes.instrument_id = measured.instrument_id
                    and quotes.trading_date = {{ business_date() }}
                    and quotes.quoted_at <= measured.executed_at
                    + interval '{{ horizon }} milliseconds'
                order by quotes.quoted_at desc  -- noqa: AM06
                limit 1
            ){{ ',' if not loop.last }}
        {%- endfor %}
    ] as mids_after
from measured
