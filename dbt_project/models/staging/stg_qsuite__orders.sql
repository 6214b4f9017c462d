with

source as (
    select * from {{ source('qsuite', 'qsuite_orders') }}
),

renamed as (
    select
        order_id,
        account_id,
        instrument_id,
        trader_id,
        algo_id,
        side,
        order_type,
        limit_price,
        quantity as order_quantity,
        time_in_force,
        status as order_status,
        created_at as order_created_at,
        updated_at as order_updated_at
    from source
)

select * from renamed
