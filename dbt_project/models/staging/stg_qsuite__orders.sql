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
        decision_trader_id,
        nullif(trim(transmitted_by_lei), '') as transmitted_by_lei,
        side,
        order_type,
        time_in_force,
        status as order_status,
        short_selling_ind,
        limit_price,
        quantity as order_quantity,
        client_executes,
        created_at as order_created_at,
        updated_at as order_updated_at
    from source
)

select * from renamed
