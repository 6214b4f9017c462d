with

source as (
    select * from {{ source('qsuite', 'qsuite_accounts') }}
),

renamed as (
    select
        account_id,
        account_type,
        is_house,
        nullif(trim(lei), '') as account_lei,
        legal_name,
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
