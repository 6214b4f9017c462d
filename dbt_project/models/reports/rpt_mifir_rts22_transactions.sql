{{
    config(
        pre_hook="{{ delete_run_scope('trading_datetime') }}",
        incremental_strategy='append',
    )
}}

{# The MiFIR RTS 22 transaction report records of the run: one row per
   reportable execution of the run scope that passed every blocking SQL
   check and every error-severity rule of the Python rule gate; two for a
   matched principal (MTCH) execution, its CLIENT and MARKET legs (column
   leg), which pass or stay out together: the SQL reasons and the gate's
   violations are keyed by execution_id. The XML
   renderer reads this table in tx_id order. Columns and meaning:
   docs/reporting/mifir/report-columns.md. #}
with

candidates as (
    select * from {{ ref('int_mifir__transactions') }}
    where not has_blocking_reason
),

violations as (
    select * from {{ source('regreport', 'rule_violations') }}
    where severity = 'error'
),

blocked as (
    select distinct execution_id from violations
),

passed as (
    select candidates.*
    from candidates
    left join blocked on candidates.execution_id = blocked.execution_id
    where blocked.execution_id is null
)

select
    record_type,
    tx_id,
    execution_id,
    leg,
    trading_date,
    instrument_type,
    venue_transaction_id,
    executing_entity_lei,
    investment_firm_ind,
    submitting_entity_lei,
    buyer_id_type,
    buyer_id,
    buyer_id_scheme,
    buyer_first_name,
    buyer_surname,
    buyer_birth_date,
    buyer_branch_country,
    buyer2_id,
    buyer2_id_scheme,
    buyer2_first_name,
    buyer2_surname,
    buyer2_birth_date,
    buyer_decision_maker_type,
    buyer_decision_maker_id,
    buyer_decision_maker_scheme,
    buyer_decision_maker_first_name,
    buyer_decision_maker_surname,
    buyer_decision_maker_birth_date,
    seller_id_type,
    seller_id,
    seller_id_scheme,
    seller_first_name,
    seller_surname,
    seller_birth_date,
    seller_branch_country,
    seller2_id,
    seller2_id_scheme,
    seller2_first_name,
    seller2_surname,
    seller2_birth_date,
    seller_decision_maker_type,
    seller_decision_maker_id,
    seller_decision_maker_scheme,
    seller_decision_maker_first_name,
    seller_decision_maker_surname,
    seller_decision_maker_birth_date,
    transmission_ind,
    transmitting_firm_buyer_lei,
    transmitting_firm_seller_lei,
    trading_datetime,
    trading_capacity,
    quantity_type,
    quantity,
    quantity_currency,
    deriv_notional_change,
    price_type,
    price,
    price_currency,
    net_amount,
    venue,
    country_of_branch,
    upfront_payment,
    upfront_payment_currency,
    complex_trade_id,
    instrument_isin,
    instrument_in_firds,
    instrument_full_name,
    instrument_cfi,
    notional_currency,
    notional_currency_2,
    price_multiplier,
    underlying_isin,
    underlying_index_name,
    underlying_index_term_unit,
    underlying_index_term_value,
    option_type,
    strike_price,
    strike_currency,
    exercise_style,
    maturity_date,
    expiry_date,
    delivery_type,
    investment_decision_type,
    investment_decision_id,
    investment_decision_scheme,
    investment_decision_branch_country,
    executing_person_type,
    executing_person_id,
    executing_person_scheme,
    executing_person_branch_country,
    waiver_ind,
    short_selling_ind,
    otc_post_trade_ind,
    commodity_derivative_ind,
    securities_financing_ind,
    extract_run_id
from passed
