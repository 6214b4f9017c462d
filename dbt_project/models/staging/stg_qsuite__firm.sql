with

source as (
    select * from {{ source('qsuite', 'qsuite_firm') }}
),

renamed as (
    select
        firm_id,
        trim(lei) as firm_lei,
        name as firm_name,
        country_code::text as firm_country_code,
        is_investment_firm
    from source
)

select * from renamed
