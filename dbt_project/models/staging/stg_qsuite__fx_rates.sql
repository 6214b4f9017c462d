with

source as (
    select * from {{ source('qsuite', 'qsuite_fx_rates') }}
),

renamed as (
    select
        rate_date,
        currency::text as currency,
        eur_per_unit
    from source
)

select * from renamed
