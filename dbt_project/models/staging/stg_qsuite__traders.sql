with

source as (
    select * from {{ source('qsuite', 'qsuite_traders') }}
),

renamed as (
    select
        trader_id,
        first_name,
        surname,
        birth_date,
        nationality::text as nationality,
        upper(national_id) as national_id,
        national_id_type,
        branch_country::text as branch_country
    from source
)

select * from renamed
