{#
    Execution quality in the manner of SEC Rule 605 over the period being
    built ([period_start, period_end), whatever its length), per instrument,
    order category and order size band, from the daily facts (orders received
    in the period; their fills of the day of receipt). All averages are
    share-weighted over executed quantity; spreads and price improvement are
    per share in the price currency. Price improvement is judged per order:
    an order is improved when its fills' share-weighted improvement is
    positive, at the quote when zero, outside it when negative. Orders with no
    NBBO at receipt (NO_QUOTE) are counted, never measured. The monthly
    report (Rule 605) and the quarterly review (FINRA Rule 5310.09) both use
    it, so the two can never drift apart; `period_column` names the period's
    first day.
#}
{% macro execution_quality_summary(period_column) -%}
    with

    orders as (
        select * from {{ ref('fct_execution_quality_orders') }}
        where
            trading_date >= {{ business_date() }}
            and trading_date < (
                cast('{{ var("period_end") }}' as timestamptz) at time zone 'UTC'
            )::date
    ),

    fills as (
        select * from {{ ref('fct_execution_quality_fills') }}
        where
            trading_date >= {{ business_date() }}
            and trading_date < (
                cast('{{ var("period_end") }}' as timestamptz) at time zone 'UTC'
            )::date
    ),

    order_improvement as (
        select
            order_id,
            sum(quantity) as filled_quantity,
            sum(quantity * price_improvement) / sum(quantity) as improvement
        from fills
        group by 1
    ),

    order_groups as (
        select
            orders.instrument_id,
            orders.order_category,
            orders.size_band,
            min(orders.isin) as isin,
            min(orders.currency) as currency,
            count(*)::integer as covered_orders,
            sum(orders.order_quantity) as covered_quantity,
            (count(*) filter (where orders.executed_quantity > 0))::integer
                as executed_orders,
            sum(orders.executed_quantity) as executed_quantity,
            (count(order_improvement.order_id))::integer as measured_orders,
            (count(*) filter (where order_improvement.improvement > 0))::integer
                as orders_price_improved,
            coalesce(sum(order_improvement.filled_quantity) filter (
                where order_improvement.improvement > 0
            ), 0) as quantity_improved,
            coalesce(sum(order_improvement.filled_quantity) filter (
                where order_improvement.improvement = 0
            ), 0) as quantity_at_quote,
            coalesce(sum(order_improvement.filled_quantity) filter (
                where order_improvement.improvement < 0
            ), 0) as quantity_outside_quote,
            sum(
                order_improvement.filled_quantity * order_improvement.improvement
            ) filter (where order_improvement.improvement > 0) as improvement_amount
        from orders
        left join order_improvement on orders.order_id = order_improvement.order_id
        group by 1, 2, 3
    ),

    fill_groups as (
        select
            instrument_id,
            order_category,
            size_band,
            count(*)::integer as measured_fills,
            sum(quantity * effective_spread)
            / sum(quantity) as avg_effective_spread,
            sum(quantity * quoted_spread) / sum(quantity) as avg_quoted_spread,
            sum(quantity * time_to_execution_ms) / sum(quantity)
                as avg_time_to_execution_ms
        from fills
        group by 1, 2, 3
    )

    select
        {{ business_date() }} as {{ period_column }},
        order_groups.instrument_id,
        order_groups.isin,
        order_groups.currency,
        order_groups.order_category,
        order_groups.size_band,
        order_groups.covered_orders,
        order_groups.covered_quantity,
        order_groups.executed_orders,
        order_groups.executed_quantity,
        coalesce(fill_groups.measured_fills, 0) as measured_fills,
        round(fill_groups.avg_effective_spread, 6) as avg_effective_spread,
        round(fill_groups.avg_quoted_spread, 6) as avg_quoted_spread,
        round(
            100 * fill_groups.avg_effective_spread
            / nullif(fill_groups.avg_quoted_spread, 0),
            2
        ) as effective_over_quoted_pct,
        round(
            fill_groups.avg_time_to_execution_ms, 3
        ) as avg_time_to_execution_ms,
        order_groups.orders_price_improved,
        round(
            100.0 * order_groups.orders_price_improved
            / nullif(order_groups.measured_orders, 0),
            2
        ) as pct_orders_price_improved,
        round(
            order_groups.improvement_amount
            / nullif(order_groups.quantity_improved, 0),
            6
        ) as avg_price_improvement,
        order_groups.quantity_improved,
        order_groups.quantity_at_quote,
        order_groups.quantity_outside_quote
    from order_groups
    left join fill_groups
        on
            order_groups.instrument_id = fill_groups.instrument_id
            and order_groups.order_category = fill_groups.order_category
            and order_groups.size_band = fill_groups.size_band
{%- endmacro %}
