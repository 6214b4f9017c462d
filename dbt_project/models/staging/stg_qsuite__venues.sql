with

source as (
    select * from {{ source('qsuite', 'qsuite_venues') }}
),

renamed as (
    select
        trim(mic) as venue_mic,
        trim(operating_mic) as operating_mic,
        name as venue_name,
        country_code::text as venue_country_code,
        nullif(trim(ccp_lei), '') as ccp_lei
    from source
)

select * from renamed
