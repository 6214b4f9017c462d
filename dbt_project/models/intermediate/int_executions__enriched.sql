{#
    Every execution of the run scope (executed in the period, or changed in
    it: see macros/period.sql) with its order, account, joint holder,
    instrument, venue and the people or algorithm behind it. Left joins keep
    executions whose references are missing: those are quarantined
    downstream, never dropped.
#}
with

executions as (
    select * from {{ ref('stg_qsuite__executions') }}
    where {{ in_run_scope() }}
),


accounts as (
    select * from {{ ref('stg_qsuite__accounts') }}
),

{# RTS 22 fields 7/16 carry one more AcctOwnr per further holder; the
   report has room for the second holder (buyer2_*/seller2_*), and an account
   with more further holders is quarantined (TOO_MANY_JOINT_HOLDERS), never
   reported with holders missing. #}
joint_holders as (
    select
        *,
        row_number() over (
            partition by account_id order by holder_seq
        ) as holder_rank,
        count(*) over (partition by account_id) as further_holder_count
    from {{ ref('stg_qsuite__account_joint_holders') }}
),

second_holders as (
    select * from joint_holders
    where holder_rank = 1
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
        orders.account_id,
        orders.instrument_id,
        orders.trader_id,
        orders.algo_id,
        orders.decision_trader_id,
        executions.venue_transaction_id,
        executions.complex_trade_id,
        executions.extract_run_id,
        executions.price_currency,
        executions.venue_mic,
        executions.trading_capacity,
        executions.exec_kind,
        executions.execution_status,
        executions.counterparty_lei,
        executions.member_branch_country,
        executions.waiver_ind,
        executions.otc_post_trade_ind,
        orders.side,
        orders.transmitted_by_lei,
        orders.short_selling_ind,
        accounts.account_type,
        accounts.mandate,
        accounts.account_lei,
        accounts.first_name as account_first_name,
        accounts.surname as account_surname,
        accounts.national_id as account_national_id,
        accounts.national_id_type as account_national_id_type,
        accounts.branch_country as account_branch_country,
        accounts.poa_lei,
        accounts.poa_first_name,
        accounts.poa_surname,
        accounts.poa_national_id,
        accounts.poa_national_id_type,
        second_holders.holder_seq as second_holder_seq,
        second_holders.further_holder_count,
        second_holders.first_name as second_holder_first_name,
        second_holders.surname as second_holder_surname,
        second_holders.national_id as second_holder_national_id,
        second_holders.national_id_type as second_holder_national_id_type,
        instruments.isin,
        instruments.instrument_type,
        instruments.cfi as instrument_cfi,
        instruments.instrument_name,
        instruments.instrument_currency,
        instruments.price_notation,
        instruments.quantity_notation,
        instruments.notional_currency,
        instruments.underlying_isin,
        instruments.option_type,
        instruments.strike_currency,
        instruments.exercise_style,
        instruments.delivery_type,
        venues.ccp_lei as venue_ccp_lei,
        traders.national_id as trader_national_id,
        traders.national_id_type as trader_national_id_type,
        traders.branch_country as trader_branch_country,
        decision_traders.national_id as decision_trader_national_id,
        decision_traders.national_id_type as decision_trader_national_id_type,
        decision_traders.branch_country as decision_trader_branch_country,
        executions.executed_quantity,
        executions.executed_price,
        executions.accrued_interest,
        instruments.strike_price,
        instruments.price_multiplier,
        executions.execution_version,
        orders.order_id is not null as has_order,
        accounts.account_id is not null as has_account,
        instruments.instrument_id is not null as has_instrument,
        venues.venue_mic is not null as has_venue,
        decision_traders.trader_id is not null as has_decision_trader,
        accounts.is_house,
        orders.client_executes,
        instruments.in_firds,
        instruments.is_sovereign,
        (executions.executed_at at time zone 'UTC')::date as trading_date,
        accounts.birth_date as account_birth_date,
        accounts.poa_birth_date,
        second_holders.birth_date as second_holder_birth_date,
        instruments.maturity_date,
        instruments.expiry_date,
        executions.executed_at,
        executions.updated_at,
        executions.source_copies
    {#- Each execution looks up its order by key. A plain join hashes every
        order ever landed (raw keeps all history), so the daily build would
        grow with history; `offset 0` keeps the lookup a per-row index probe. #}
    from executions
    left join lateral (
        select by_key.*
        from {{ ref('stg_qsuite__orders') }} as by_key
        where by_key.order_id = executions.order_id
        offset 0  -- noqa: AM09
    ) as orders on true
    left join accounts on orders.account_id = accounts.account_id
    left join second_holders
        on
            accounts.account_id = second_holders.account_id
            and accounts.account_type = 'NATURAL'
            and not accounts.is_house
    left join instruments on orders.instrument_id = instruments.instrument_id
    left join venues on executions.venue_mic = venues.venue_mic
    left join traders on orders.trader_id = traders.trader_id
    left join traders as decision_traders
        on orders.decision_trader_id = decision_traders.trader_id
)

select * from joined
