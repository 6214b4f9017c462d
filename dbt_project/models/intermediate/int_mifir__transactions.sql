{#
    RTS 22 fields for every execution of the period (Commission Delegated
    Regulation (EU) 2017/590, Annex I Table 2), plus the first blocking reason
    that keeps an execution out of the report. One row per source execution,
    so the reconciliation source = reported + quarantined holds by
    construction and is checked again before anything is rendered.
#}
with

executions as (
    select * from {{ ref('int_executions__enriched') }}
),

firm as (
    select * from {{ ref('stg_qsuite__firm') }}
),

algos as (
    select * from {{ ref('stg_qsuite__algos') }}
),

{# Field 7/16: the client side is the account owner, or the firm itself when
   it deals on own account from a house account. #}
client_side as (
    select
        executions.*,
        firm.firm_lei,
        firm.is_investment_firm,
        case
            when executions.is_house then 'LEI'
            when executions.account_type = 'LEGAL' then 'LEI'
            when executions.account_type = 'NATURAL' then 'PERSON'
        end as client_id_type,
        case
            when executions.is_house then firm.firm_lei
            when executions.account_type = 'LEGAL' then executions.account_lei
            when
                executions.account_type = 'NATURAL'
                then executions.account_national_id
        end as client_id,
        case
            when
                executions.account_type = 'NATURAL'
                and not executions.is_house
                then executions.account_national_id_type
        end as client_id_scheme,
        {# Field 8/17 applies to clients only: the branch that took the
           order. #}
        case
            when not executions.is_house then executions.account_branch_country
        end as client_branch_country,
        {# On a venue the counterparty is not disclosed: the CCP's LEI where the
           venue clears through one, otherwise the venue's MIC (fields 7/16). #}
        case
            when executions.venue_ccp_lei is not null then 'LEI' else 'MIC'
        end as counterparty_id_type,
        coalesce(
            executions.venue_ccp_lei, executions.venue_mic
        ) as counterparty_id,
        algos.algo_id is not null as has_algo
    from executions
    left join firm on true
    left join algos on executions.algo_id = algos.algo_id
),

checked as (
    select
        *,
        case
            when firm_lei is null then 'FIRM_LEI_MISSING'
            when not has_order then 'ORDER_NOT_FOUND'
            when not has_account then 'ACCOUNT_NOT_FOUND'
            when isin is null then 'INSTRUMENT_ISIN_MISSING'
            when not has_venue then 'VENUE_UNKNOWN'
            when client_id is null then 'CLIENT_ID_MISSING'
            when
                client_id_type = 'PERSON'
                and (
                    account_first_name is null
                    or account_surname is null
                    or account_birth_date is null
                    or client_id_scheme is null
                )
                then 'CLIENT_PERSON_DETAILS_MISSING'
            when not has_algo and trader_national_id is null
                then 'EXECUTOR_MISSING'
            when executed_quantity <= 0 then 'QUANTITY_NOT_POSITIVE'
        end as reason_code
    from client_side
)

select
    execution_id,
    order_id,
    trading_date,
    extract_run_id,
    reason_code,
    'QS' || execution_id::text as tx_id,
    firm_lei as executing_entity_lei,
    is_investment_firm as investment_firm_ind,
    firm_lei as submitting_entity_lei,
    case when side = 'BUY' then client_id_type else counterparty_id_type end
        as buyer_id_type,
    case when side = 'BUY' then client_id else counterparty_id end as buyer_id,
    case when side = 'BUY' then client_id_scheme end as buyer_id_scheme,
    case
        when side = 'BUY' and client_id_type = 'PERSON' then account_first_name
    end as buyer_first_name,
    case
        when side = 'BUY' and client_id_type = 'PERSON' then account_surname
    end as buyer_surname,
    case
        when side = 'BUY' and client_id_type = 'PERSON' then account_birth_date
    end as buyer_birth_date,
    case when side = 'BUY' then client_branch_country end
        as buyer_branch_country,
    case when side = 'SELL' then client_id_type else counterparty_id_type end
        as seller_id_type,
    case when side = 'SELL' then client_id else counterparty_id end
        as seller_id,
    case when side = 'SELL' then client_id_scheme end as seller_id_scheme,
    case
        when side = 'SELL' and client_id_type = 'PERSON' then account_first_name
    end as seller_first_name,
    case
        when side = 'SELL' and client_id_type = 'PERSON' then account_surname
    end as seller_surname,
    case
        when side = 'SELL' and client_id_type = 'PERSON' then account_birth_date
    end as seller_birth_date,
    case when side = 'SELL' then client_branch_country end
        as seller_branch_country,
    false as transmission_ind,
    executed_at as trading_datetime,
    trading_capacity,
    executed_quantity as quantity,
    executed_price as price,
    price_currency,
    venue_mic as venue,
    upper(venue_transaction_id) as venue_transaction_id,
    isin as instrument_isin,
    {# Field 59: the algorithm, or else the trader, who executed. #}
    case when has_algo then 'ALGO' else 'PERSON' end as executing_person_type,
    case when has_algo then algo_id else trader_national_id end
        as executing_person_id,
    case when not has_algo then trader_national_id_type end
        as executing_person_scheme,
    case when not has_algo then trader_branch_country end
        as executing_person_branch_country,
    {# Field 57: only when the firm decides, i.e. dealing on own account. #}
    case
        when is_house and has_algo then 'ALGO'
        when is_house then 'PERSON'
    end as investment_decision_type,
    case
        when is_house and has_algo then algo_id
        when is_house then trader_national_id
    end as investment_decision_id,
    case
        when is_house and not has_algo then trader_national_id_type
    end as investment_decision_scheme,
    case
        when is_house and not has_algo then trader_branch_country
    end as investment_decision_branch_country,
    false as securities_financing_ind
from checked
