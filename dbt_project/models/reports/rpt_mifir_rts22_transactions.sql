{{
    config(
        pre_hook="{{ delete_period('trading_datetime') }}",
        incremental_strategy='append',
    )
}}

{# The MiFIR RTS 22 transaction report records of the period: one row per
   reportable execution that passed every blocking check. The XML renderer
   reads this table in tx_id order. #}
with

transactions as (
    select * from {{ ref('int_mifir__transactions') }}
    where reason_code is null
)

select
    tx_id,
    execution_id,
    trading_date,
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
    seller_id_type,
    seller_id,
    seller_id_scheme,
    seller_first_name,
    seller_surname,
    seller_birth_date,
    seller_branch_country,
    transmission_ind,
    trading_datetime,
    trading_capacity,
    quantity::numeric(18, 4) as quantity,
    price::numeric(18, 6) as price,
    price_currency,
    venue,
    venue_transaction_id,
    instrument_isin,
    executing_person_type,
    executing_person_id,
    executing_person_scheme,
    executing_person_branch_country,
    investment_decision_type,
    investment_decision_id,
    investment_decision_scheme,
    investment_decision_branch_country,
    securities_financing_ind,
    extract_run_id
from transactions
