with

source as (
    select * from {{ source('qsuite', 'qsuite_instruments') }}
),

renamed as (
    select
        instrument_id,
        nullif(trim(isin), '') as isin,
        cfi::text as cfi,
        full_name as instrument_name,
        currency::text as instrument_currency,
        trim(primary_mic) as primary_mic,
        instrument_type,
        price_notation,
        quantity_notation,
        notional_currency::text as notional_currency,
        nullif(trim(underlying_isin), '') as underlying_isin,
        option_type,
        strike_currency::text as strike_currency,
        exercise_style,
        delivery_type,
        tick_size,
        reference_price,
        strike_price,
        price_multiplier,
        in_firds,
        is_sovereign,
        maturity_date,
        expiry_date
    from source
)

select * from renamed
