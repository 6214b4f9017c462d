{{
    config(
        pre_hook="{{ delete_business_date('business_date') }}",
        incremental_strategy='append',
    )
}}

{# The position report of a business date: every position held at its end
   (and every one closed on it), with the instrument and the cost basis in
   the price currency. #}
with

positions as (
    select * from {{ ref('fct_positions_daily') }}
    where business_date = {{ business_date() }}
),

instruments as (
    select * from {{ ref('stg_qsuite__instruments') }}
)

select
    positions.business_date,
    positions.account_id,
    positions.instrument_id,
    instruments.isin,
    instruments.instrument_type,
    positions.net_quantity,
    positions.average_price,
    {{ notional(
        'positions.net_quantity', 'coalesce(positions.average_price, 0)',
        'instruments.price_notation', 'instruments.price_multiplier'
    ) }} as cost_basis,
    positions.currency,
    positions.opening_quantity,
    positions.bought_quantity,
    positions.sold_quantity,
    positions.fills
from positions
left join instruments on positions.instrument_id = instruments.instrument_id
