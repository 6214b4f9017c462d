with

source as (
    select * from {{ source('qsuite', 'qsuite_quotes') }}
),

renamed as (
    select
        instrument_id,
        quoted_at,
        bid_price,
        bid_size,
        ask_price,
        ask_size,
        currency::text as quote_currency
    from source
)

select * from renamed
