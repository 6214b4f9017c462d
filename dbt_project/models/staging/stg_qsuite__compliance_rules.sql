with

source as (
    select * from {{ source('qsuite', 'qsuite_compliance_rules') }}
),

renamed as (
    select
        rule_id,
        account_id,
        rule_type,
        currency::text as limit_currency,
        threshold,
        valid_from
    from source
)

select * from renamed
