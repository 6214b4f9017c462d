{{
    config(
        pre_hook="{{ delete_business_date('month_start') }}",
        incremental_strategy='append',
    )
}}

{# Average realized spread of a calendar month per instrument, order category,
   order size band and horizon after execution (var
   execution_quality_horizons_ms): 2 x (price - midpoint at the horizon) for a
   buy, 2 x (midpoint - price) for a sell, share-weighted, per share in the
   price currency. #}
with

fills as (
    select * from {{ ref('fct_execution_quality_fills') }}
    where
        trading_date >= {{ business_date() }}
        and trading_date < (
            cast('{{ var("period_end") }}' as timestamptz) at time zone 'UTC'
        )::date
),

by_horizon as (
    select
        fills.instrument_id,
        fills.order_category,
        fills.size_band,
        fills.quantity,
        horizons.horizon_ms,
        (case fills.side when 'BUY' then 2 else -2 end)
        * (fills.price - horizons.mid_after) as realized_spread
    from fills
    cross join
        lateral unnest(fills.horizons_ms, fills.mids_after)
            as horizons (horizon_ms, mid_after)
    where horizons.mid_after is not null
)

select
    {{ business_date() }} as month_start,
    instrument_id,
    order_category,
    size_band,
    horizon_ms,
    sum(quantity) as executed_quantity,
    round(sum(quantity * realized_spread) / sum(quantity), 6)
        as avg_realized_spread
from by_horizon
group by 2, 3, 4, 5
