with

source as (
    select * from {{ source('qsuite', 'qsuite_algos') }}
),

renamed as (
    select
        algo_id,
        name as algo_name
    from source
)

select * from renamed
