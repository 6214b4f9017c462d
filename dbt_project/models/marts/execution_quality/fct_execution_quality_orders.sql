{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_business_date('trading_date') }}",
        post_hook=[
            "create index if not exists fct_execution_quality_orders_date_idx"
            " on {{ this }} (trading_date)",
            "analyze {{ this }}",
        ],
    )
}}

{#
    Orders received on the business date in the measured instrument types,
    classified in the manner of SEC Rule 605, with the NBBO they are measured
    against:

    - MARKET; MARKETABLE_LIMIT (a buy limit at or above the offer, a sell at
      or below the bid, at receipt), MARKETABLE_IOC (the same, immediate or
      cancel); NON_MARKETABLE_LIMIT otherwise.
    - The reference time is receipt, except for a non-marketable limit order:
      the first quote after receipt at which it could trade (offer at or below
      a buy limit, bid at or above a sell limit), looked for among the next
      var execution_quality_executable_scan quotes up to its first fill, else
      its first fill (a passive fill). Only filled orders get one.
    - The size band is the order's quantity x the NBBO midpoint at receipt
      (bands: var execution_quality_size_bands).
    - NO_QUOTE: no usable NBBO at receipt that day; counted, never measured.

    Fills of the date only: an order filled on a later day is measured on
    none (Rule 605 groups by the month of receipt; GTC orders that fill later
    are left out, and counted as not executed).
#}
with

orders as (
    select
        orders.order_id,
        orders.instrument_id,
        orders.side,
        orders.order_type,
        orders.time_in_force,
        orders.limit_price,
        orders.order_quantity,
        orders.order_created_at as received_at,
        instruments.isin,
        instruments.instrument_currency as currency
    from {{ ref('stg_qsuite__orders') }} as orders
    inner join {{ ref('stg_qsuite__instruments') }} as instruments
        on orders.instrument_id = instruments.instrument_id
    where
        {{ in_period('orders.order_created_at') }}
        and instruments.instrument_type in (
            {%- for kind in var('execution_quality_instrument_types') %}
                '{{ kind }}'{{ ',' if not loop.last }}
            {%- endfor %}
        )
),

first_fills as (
    select
        order_id,
        min(executed_at) as first_fill_at,
        sum(quantity) as executed_quantity
    from {{ ref('fct_executions') }}
    where
        trading_date = {{ business_date() }}
        and execution_status = 'LIVE'
        and exec_kind = 'TRADE'
    group by 1
),

at_receipt as (
    select
        orders.*,
        first_fills.first_fill_at,
        coalesce(first_fills.executed_quantity, 0) as executed_quantity,
        receipt_quote.bid_price as receipt_bid,
        receipt_quote.ask_price as receipt_ask,
        receipt_quote.mid_price as receipt_mid
    from orders
    left join first_fills on orders.order_id = first_fills.order_id
    left join lateral (
        select
            quotes.bid_price,
            quotes.ask_price,
            quotes.mid_price
        from {{ ref('fct_nbbo_daily') }} as quotes
        where
            quotes.instrument_id = orders.instrument_id
            and quotes.trading_date = {{ business_date() }}
            and quotes.quoted_at <= orders.received_at
        order by quotes.quoted_at desc  -- noqa: AM06
        limit 1
    ) as receipt_quote on true
),

classified as (
    select
        *,
        case
            when receipt_mid is null then 'NO_QUOTE'
            when order_type = 'MARKET' then 'MARKET'
            when
                (side = 'BUY' and limit_price >= receipt_ask)
                or (side = 'SELL' and limit_price <= receipt_bid)
                then
                    case
                        when time_in_force = 'IOC' then 'MARKETABLE_IOC'
                        else 'MARKETABLE_LIMIT'
                    end
            else 'NON_MARKETABLE_LIMIT'
        end as order_category,
        order_quantity * receipt_mid as receipt_notional
    from at_receipt
),

{# A non-marketable limit order is measured from when it could first trade:
   the first executable quote up to its first fill, else the fill itself. #}
executable as (
    select
        classified.order_id,
        least(
            coalesce(first_executable.quoted_at, classified.first_fill_at),
            classified.first_fill_at
        ) as executable_at
    from classified
    left join lateral (
        select min(next_quotes.quoted_at) as quoted_at
        from (
            select
                quotes.quoted_at,
                quotes.bid_price,
                quotes.ask_price
            from {{ ref('fct_nbbo_daily') }} as quotes
            where
                quotes.instrument_id = classified.instrument_id
                and quotes.trading_date = {{ business_date() }}
                and quotes.quoted_at > classified.received_at
                and quotes.quoted_at <= classified.first_fill_at
            order by quotes.quoted_at  -- noqa: AM06
            limit {{ var('execution_quality_executable_scan') }}
        ) as next_quotes
        where
            (
                classified.side = 'BUY'
                and next_quotes.ask_price <= classified.limit_price
            )
            or (
                classified.side = 'SELL'
                and next_quotes.bid_price >= classified.limit_price
            )
    ) as first_executable on true
    where
        classified.order_category = 'NON_MARKETABLE_LIMIT'
        and classified.first_fill_at is not null
),

referenced as (
    select
        classified.*,
        coalesce(
            executable.executable_at, classified.received_at
        ) as reference_at
    from classified
    left join executable on classified.order_id = executable.order_id
),

with_reference_quote as (
    select
        referenced.*,
        reference_quote.bid_price as reference_bid,
        reference_quote.ask_price as reference_ask,
        reference_quote.mid_price as reference_mid
    from referenced
    left join lateral (
        select
            quotes.bid_price,
            quotes.ask_price,
            quotes.mid_price
        from {{ ref('fct_nbbo_daily') }} as quotes
        where
            quotes.instrument_id = referenced.instrument_id
            and quotes.trading_date = {{ business_date() }}
            and quotes.quoted_at <= referenced.reference_at
        order by quotes.quoted_at desc  -- noqa: AM06
        limit 1
    ) as reference_quote on true
)

select
    {{ business_date() }} as trading_date,
    order_id,
    instrument_id,
    isin,
    currency,
    side,
    order_category,
    {{ size_band('receipt_notional') }} as size_band,
    order_quantity,
    executed_quantity,
    received_at,
    reference_at,
    reference_bid,
    reference_ask,
    reference_mid
from with_reference_quote
