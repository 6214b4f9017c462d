{#
    Every execution of the reporting period with its order, account,
    instrument, venue and the people or algorithm behind it. Left joins keep
    executions whose references are missing: those are quarantined downstream,
    never dropped.
#}
with

executions as (
    select * from {{ ref('stg_qsuite__executions') }}
    where
        executed_at >= {{ period_start() }}
        and executed_at < {{ period_end() }}
),

orders as (
    select * from {{ ref('stg_qsuite__orders') }}
),

accounts as (
    select * from {{ ref('stg_qsuite__accounts') }}
),

instruments as (
    select * from {{ ref('stg_qsuite__instruments') }}
),

venues as (
    select * from {{ ref('stg_qsuite__venues') }}
),

traders as (
    select * from {{ ref('stg_qsuite__traders') }}
),

joined as (
    select
        executions.execution_id,
        executions.order_id,
        executions.executed_at,
        (executions.executed_at at time zone 'UTC')::date as trading_date,
        executions.executed_quantity,
        executions.executed_price,
        executions.price_currency,
        executions.venue_mic,
        executions.venue_transaction_id,
        executions.trading_capacity,
        executions.extract_run_id,
        orders.order_id is not null as has_order,
        orders.side,
        orders.account_id,
        orders.instrument_id,
        orders.trader_id,
        orders.algo_id,
        accounts.account_id is not null as has_account,
        accounts.account_type,
        accounts.is_house,
        accounts.account_lei,
        accounts.first_name as account_first_name,
        accounts.surname as account_surname,
        accounts.birth_date as account_birth_date,
        accounts.national_id as account_national_id,
        accounts.national_id_type as account_national_id_type,
        accounts.branch_country as account_branch_country,
        instruments.isin,
        instruments.instrument_currency,
        venues.venue_mic is not null as has_venue,
        venues.ccp_lei as venue_ccp_lei,
        traders.national_id as trader_national_id,
        traders.national_id_type as trader_national_id_type,
        traders.branch_country as trader_branch_country
    from executions
    left join orders on executions.order_id = orders.order_id
    left join accounts on orders.account_id = accounts.account_id
    left join instruments on orders.instrument_id = instruments.instrument_id
    left join venues on executions.venue_mic = venues.venue_mic
    left join traders on orders.trader_id = traders.trader_id
)

select * from joined
