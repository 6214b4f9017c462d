{# Further holders of a joint natural-person account (holder_seq >= 2); the
   first holder is the account itself. #}
with

source as (
    select * from {{ source('qsuite', 'qsuite_account_joint_holders') }}
),

renamed as (
    select
        account_id,
        holder_seq,
        nullif(trim(first_name), '') as first_name,
        nullif(trim(surname), '') as surname,
        nationality::text as nationality,
        nullif(upper(trim(national_id)), '') as national_id,
        national_id_type,
        birth_date
    from source
)

select * from renamed
