with

source as (
    select * from {{ source('qsuite', 'qsuite_executions') }}
),

renamed as (
    select
        execution_id,
        order_id,
        executed_at,
        quantity as executed_quantity,
        price as executed_price,
        currency::text as price_currency,
        trim(venue_mic) as venue_mic,
        venue_transaction_id,
        trading_capacity,
        _extract_run_id as extract_run_id
    from source
)

select * from renamed
