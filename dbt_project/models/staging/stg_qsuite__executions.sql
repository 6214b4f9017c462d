with

source as (
    select * from {{ source('qsuite', 'qsuite_executions') }}
),

renamed as (
    select
        execution_id,
        order_id,
        venue_transaction_id,
        nullif(trim(complex_trade_id), '') as complex_trade_id,
        _extract_run_id as extract_run_id,
        currency::text as price_currency,
        trim(venue_mic) as venue_mic,
        trading_capacity,
        exec_kind,
        nullif(trim(counterparty_lei), '') as counterparty_lei,
        member_branch_country::text as member_branch_country,
        nullif(trim(waiver_ind), '') as waiver_ind,
        nullif(trim(otc_post_trade_ind), '') as otc_post_trade_ind,
        status as execution_status,
        quantity as executed_quantity,
        price as executed_price,
        accrued_interest,
        version as execution_version,
        executed_at,
        updated_at,
        {# Source rows with this execution id (the extract lands one copy). #}
        _source_copies as source_copies
    from source
)

select * from renamed
