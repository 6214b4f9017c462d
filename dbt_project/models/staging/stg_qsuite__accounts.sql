with

source as (
    select * from {{ source('qsuite', 'qsuite_accounts') }}
),

renamed as (
    select
        account_id,
        account_type,
        mandate,
        nullif(trim(lei), '') as account_lei,
        legal_name,
        nullif(trim(first_name), '') as first_name,
        nullif(trim(surname), '') as surname,
        nationality::text as nationality,
        nullif(upper(trim(national_id)), '') as national_id,
        national_id_type,
        branch_country::text as branch_country,
        nullif(trim(poa_lei), '') as poa_lei,
        nullif(trim(poa_first_name), '') as poa_first_name,
        nullif(trim(poa_surname), '') as poa_surname,
        nullif(upper(trim(poa_national_id)), '') as poa_national_id,
        poa_national_id_type,
        is_house,
        birth_date,
        poa_birth_date,
        opened_at,
        {# SEC 13h-1: an account with no group is its own group. #}
        coalesce(
            nullif(trim(discretion_group_id), ''), account_id
        ) as discretion_group_id,
        nullif(trim(large_trader_id), '') as large_trader_id
    from source
)

select * from renamed
