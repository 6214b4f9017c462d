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
        tick_size
    from source
)

select * from renamed
