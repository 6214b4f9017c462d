{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook=[
            "{{ positions_gap_check() }}",
            "{{ delete_business_date('business_date') }}",
        ],
        post_hook=[
            "create index if not exists fct_positions_daily_date_idx"
            " on {{ this }} (business_date)",
            "analyze {{ this }}",
        ],
    )
}}

{#
    Net position and weighted average cost per account and instrument at the
    end of each business date. Incremental: the day starts from the last
    earlier date's open positions (one date of this table, not all history)
    and folds in the day's live fills in execution order
    (macros/positions.sql). Every open position gets a row each date it is
    built, so any date reads as a complete snapshot; a position closed on the
    date keeps that date's row (net 0) and is gone the next.

    Dates must be built in order: rebuilding an earlier date (a correction of
    one of its fills) is followed by rebuilding the dates after it, which the
    positions DAG's backfill does.
#}
with

{# The open positions of the last date built before this one (none on a first
   build). #}
opening as (
    {% if is_incremental() %}
        select
            positions.account_id,
            positions.instrument_id,
            positions.currency,
            positions.net_quantity,
            positions.average_price
        from {{ this }} as positions
        where
            positions.net_quantity <> 0
            and positions.business_date = (
                select max(earlier.business_date) as business_date
                from {{ this }} as earlier
                where earlier.business_date < {{ business_date() }}
            )
    {% else %}
        select
            null::text as account_id,
            null::integer as instrument_id,
            null::text as currency,
            null::numeric as net_quantity,
            null::numeric as average_price
        where false
    {% endif %}
),

fills as (
    select
        account_id,
        instrument_id,
        currency,
        executed_at,
        execution_id,
        side,
        quantity,
        price,
        case side when 'BUY' then quantity else -quantity end as signed_quantity
    from {{ ref('fct_executions') }}
    where
        trading_date = {{ business_date() }}
        and execution_status = 'LIVE'
        and account_id is not null
        and instrument_id is not null
),

{# The opening position is the first "fill" of the day, at its average price:
   folding it into a flat state reproduces it exactly. #}
steps as (
    select
        account_id,
        instrument_id,
        currency,
        0 as step_order,
        null::timestamptz as executed_at,
        null::bigint as execution_id,
        net_quantity as signed_quantity,
        average_price as price
    from opening

    union all

    select
        account_id,
        instrument_id,
        currency,
        1 as step_order,
        executed_at,
        execution_id,
        signed_quantity,
        price
    from fills
),

folded as (
    select
        account_id,
        instrument_id,
        min(currency) as currency,
        intermediate.position_state_v1(
            signed_quantity, price
            order by step_order, executed_at, execution_id
        ) as state
    from steps
    group by 1, 2
),

day_fills as (
    select
        account_id,
        instrument_id,
        count(*) as fills,
        coalesce(
            sum(quantity) filter (where side = 'BUY'), 0
        ) as bought_quantity,
        coalesce(
            sum(quantity) filter (where side = 'SELL'), 0
        ) as sold_quantity
    from fills
    group by 1, 2
)

select
    {{ business_date() }} as business_date,
    folded.account_id,
    folded.instrument_id,
    folded.currency,
    folded.state[1] as net_quantity,
    round(folded.state[2], 8) as average_price,
    coalesce(opening.net_quantity, 0) as opening_quantity,
    coalesce(day_fills.bought_quantity, 0) as bought_quantity,
    coalesce(day_fills.sold_quantity, 0) as sold_quantity,
    coalesce(day_fills.fills, 0)::integer as fills
from folded
left join opening
    on
        folded.account_id = opening.account_id
        and folded.instrument_id = opening.instrument_id
left join day_fills
    on
        folded.account_id = day_fills.account_id
        and folded.instrument_id = day_fills.instrument_id
