{{
    config(
        materialized='table',
    )
}}

{#
    Every RTS 22 field (Commission Delegated Regulation (EU) 2017/590, Annex
    I Table 2) of every reportable execution of the run scope, and every
    blocking reason that keeps it out of the report (reason_codes, in check
    order; reason_code is the first). These are the candidates the Python
    rule gate evaluates; the report models then combine both verdicts. A
    table, not a view: the gate and both report models read it.

    One record per execution, except matched principal (MTCH): two records
    with the same execution_id (column leg), the CLIENT leg (the firm vs the
    client, off venue) and the MARKET leg (the firm vs the venue or OTC
    counterparty). This follows ESMA's transaction reporting guidelines
    (ESMA/2016/1452, Part I, trading capacity; recalled, not re-checked
    against the text: the search corpus held no copy). The blocking reasons
    are the execution's, so both legs carry the same reason_codes and the
    execution is quarantined whole.
#}
with

executions as (
    select * from {{ ref('int_executions__enriched') }}
),

eligibility as (
    select * from {{ ref('int_mifir__eligibility') }}
),

firm as (
    select * from {{ ref('stg_qsuite__firm') }}
),

algos as (
    select * from {{ ref('stg_qsuite__algos') }}
),

reportable as (
    select executions.*
    from executions
    inner join eligibility
        on executions.execution_id = eligibility.execution_id
    where eligibility.is_reportable
),

with_firm as (
    select
        reportable.*,
        firm.firm_lei,
        firm.is_investment_firm,
        algos.algo_id is not null as has_algo,
        reportable.venue_mic = 'XOFF' as is_off_venue,
        reportable.instrument_type in ('OPTION', 'FUTURE') as is_derivative,
        {# The firm takes the investment decision on its own account and
           under a discretionary mandate (fields 12/21 and 57). #}
        coalesce(
            reportable.is_house or reportable.mandate = 'DISCRETIONARY', false
        ) as is_firm_decision
    from reportable
    left join firm on true
    left join algos on reportable.algo_id = algos.algo_id
),

parties as (
    select
        *,
        {# Fields 7/16: the client is on the order's side; the firm itself
           when it deals on own account from a house account. #}
        case
            when is_house then 'LEI'
            when account_type = 'LEGAL' then 'LEI'
            when account_type = 'NATURAL' then 'PERSON'
        end as client_id_type,
        case
            when is_house then firm_lei
            when account_type = 'LEGAL' then account_lei
            when account_type = 'NATURAL' then account_national_id
        end as client_id,
        case
            when account_type = 'NATURAL' and not is_house
                then account_national_id_type
        end as client_id_scheme,
        {# Field 8/17 applies to clients only: the branch that took the
           order. #}
        case
            when not is_house then account_branch_country
        end as client_branch_country,
        {# Fields 12-15/21-24: who decides for the client. The firm under
           a discretionary mandate; the holder of a power of attorney (a
           legal entity by LEI or a person); nobody when the client decides
           itself or the firm deals on own account. #}
        case
            when is_house then null
            when mandate = 'DISCRETIONARY' then 'LEI'
            when mandate = 'POWER_OF_ATTORNEY' and poa_lei is not null
                then 'LEI'
            when mandate = 'POWER_OF_ATTORNEY' then 'PERSON'
        end as decision_maker_type,
        {# The other side: on a venue the counterparty is not disclosed, so
           the CCP's LEI where the venue clears through one, else the
           venue's MIC; off venue (XOFF) the counterparty's LEI. #}
        case
            when is_off_venue then 'LEI'
            when venue_ccp_lei is not null then 'LEI'
            else 'MIC'
        end as counterparty_id_type,
        case
            when is_off_venue then counterparty_lei
            else coalesce(venue_ccp_lei, venue_mic)
        end as counterparty_id,
        {# Field 57/58: the decision trader, else the algorithm when no
           person is named; only when the firm decides. #}
        case
            when not is_firm_decision then null
            when has_decision_trader then 'PERSON'
            when decision_trader_id is null and has_algo then 'ALGO'
        end as investment_decision_type,
        {# Field 59/60: the client itself (NORE) under direct electronic
           access, else the algorithm, else the trader. #}
        case
            when client_executes then 'CLIENT'
            when has_algo then 'ALGO'
            when trader_national_id is not null then 'PERSON'
        end as executing_person_type,
        {# Field 62 applies to sells of shares and sovereign debt, where the
           client or the firm is the seller (the order's side). #}
        coalesce(
            side = 'SELL'
            and (
                instrument_type = 'SHARE'
                or (instrument_type = 'BOND' and is_sovereign)
            ),
            false
        ) as is_short_sale_relevant
    from with_firm
),

fields as (
    select
        *,
        case
            when client_id_type = 'PERSON' then account_first_name
        end as client_first_name,
        case
            when client_id_type = 'PERSON' then account_surname
        end as client_surname,
        case
            when client_id_type = 'PERSON' then account_birth_date
        end as client_birth_date,
        case
            when decision_maker_type is null then null
            when mandate = 'DISCRETIONARY' then firm_lei
            when decision_maker_type = 'LEI' then poa_lei
            else poa_national_id
        end as decision_maker_id,
        case
            when decision_maker_type = 'PERSON' then poa_national_id_type
        end as decision_maker_scheme,
        case
            when decision_maker_type = 'PERSON' then poa_first_name
        end as decision_maker_first_name,
        case
            when decision_maker_type = 'PERSON' then poa_surname
        end as decision_maker_surname,
        case
            when decision_maker_type = 'PERSON' then poa_birth_date
        end as decision_maker_birth_date,
        case
            when investment_decision_type = 'PERSON'
                then decision_trader_national_id
            when investment_decision_type = 'ALGO' then algo_id
        end as investment_decision_id,
        case
            when investment_decision_type = 'PERSON'
                then decision_trader_national_id_type
        end as investment_decision_scheme,
        case
            when investment_decision_type = 'PERSON'
                then decision_trader_branch_country
        end as investment_decision_branch_country,
        case
            when executing_person_type = 'CLIENT' then 'NORE'
            when executing_person_type = 'ALGO' then algo_id
            when executing_person_type = 'PERSON' then trader_national_id
        end as executing_person_id,
        case
            when executing_person_type = 'PERSON' then trader_national_id_type
        end as executing_person_scheme,
        case
            when executing_person_type = 'PERSON' then trader_branch_country
        end as executing_person_branch_country,
        {# Field 35, debt instruments only: the cash paid or received,
           quantity x price (a percentage of nominal for PERC) plus the
           accrued interest. numeric throughout: exact, then rounded. #}
        case
            when instrument_type = 'BOND'
                then round(
                    executed_quantity
                    * executed_price
                    / case when price_notation = 'PERC' then 100 else 1 end
                    + accrued_interest,
                    2
                )
        end as net_amount_exact
    from parties
),

checked as (
    select
        *,
        array_remove(
            array[
                case
                    when source_copies > 1 then 'DUPLICATE_EXECUTION_ID'
                end,
                {# The trade time places the record in a reporting period. A
                   time after the period (or after the source last recorded
                   the fill: a local or future time) would be reported again,
                   as a new trade, on a later day; one far before the period
                   is not a plausible late correction. #}
                case
                    when
                        executed_at >= {{ period_end() }}
                        or executed_at > updated_at
                        then 'TRADE_TIME_AFTER_PERIOD'
                end,
                case
                    when
                        executed_at < {{ period_start() }} - make_interval(
                            days => {{ var('late_correction_days') }}
                        )
                        then 'TRADE_TIME_BEFORE_WINDOW'
                end,
                case when firm_lei is null then 'FIRM_LEI_MISSING' end,
                case when not has_order then 'ORDER_NOT_FOUND' end,
                case
                    when has_order and not has_account
                        then 'ACCOUNT_NOT_FOUND'
                end,
                case
                    when has_order and isin is null
                        then 'INSTRUMENT_ISIN_MISSING'
                end,
                case
                    when not has_venue and not is_off_venue
                        then 'VENUE_UNKNOWN'
                end,
                case
                    when is_off_venue and counterparty_lei is null
                        then 'COUNTERPARTY_LEI_MISSING'
                end,
                case
                    when has_account and client_id is null
                        then 'CLIENT_ID_MISSING'
                end,
                case
                    when
                        client_id_type = 'PERSON'
                        and (
                            account_first_name is null
                            or account_surname is null
                            or account_birth_date is null
                            or client_id_scheme is null
                        )
                        then 'CLIENT_PERSON_DETAILS_MISSING'
                end,
                case
                    when
                        second_holder_seq is not null
                        and (
                            second_holder_first_name is null
                            or second_holder_surname is null
                            or second_holder_birth_date is null
                            or second_holder_national_id is null
                            or second_holder_national_id_type is null
                        )
                        then 'JOINT_HOLDER_DETAILS_MISSING'
                end,
                case
                    when further_holder_count > 1
                        then 'TOO_MANY_JOINT_HOLDERS'
                end,
                case
                    when
                        decision_maker_type = 'PERSON'
                        and (
                            poa_national_id is null
                            or poa_national_id_type is null
                            or poa_first_name is null
                            or poa_surname is null
                            or poa_birth_date is null
                        )
                        then 'POA_DETAILS_MISSING'
                end,
                case
                    when
                        has_account
                        and is_firm_decision
                        and investment_decision_type is null
                        then 'INVESTMENT_DECISION_MISSING'
                end,
                case
                    when has_order and executing_person_type is null
                        then 'EXECUTOR_MISSING'
                end,
                case
                    when executed_quantity <= 0 then 'QUANTITY_NOT_POSITIVE'
                end,
                case
                    when
                        quantity_notation = 'NOML'
                        and notional_currency is null
                        then 'QUANTITY_CURRENCY_MISSING'
                end,
                case
                    when instrument_type = 'BOND' and accrued_interest is null
                        then 'ACCRUED_INTEREST_MISSING'
                end,
                case
                    when
                        instrument_type = 'BOND'
                        and not in_firds
                        and maturity_date is null
                        then 'BOND_MATURITY_DATE_MISSING'
                end,
                case
                    when
                        instrument_type = 'OPTION'
                        and not in_firds
                        and (
                            underlying_isin is null
                            or expiry_date is null
                            or strike_price is null
                            or strike_currency is null
                            or option_type is null
                            or exercise_style is null
                            or delivery_type is null
                            or price_multiplier is null
                        )
                        then 'OPTION_DETAILS_MISSING'
                end,
                case
                    when
                        instrument_type = 'FUTURE'
                        and not in_firds
                        and (
                            underlying_isin is null
                            or expiry_date is null
                            or delivery_type is null
                            or price_multiplier is null
                        )
                        then 'FUTURE_DETAILS_MISSING'
                end,
                case
                    when is_short_sale_relevant and short_selling_ind is null
                        then 'SHORT_SELLING_IND_MISSING'
                end
            ]::text[],
            null
        ) as reason_codes
    from fields
),

{# MTCH: the CLIENT and the MARKET leg; any other capacity: one record
   (leg null). #}
legs as (
    select * from (values ('CLIENT'), ('MARKET')) as legs (leg_name)
),

records as (
    select
        checked.*,
        case when checked.trading_capacity = 'MTCH' then legs.leg_name end
            as leg
    from checked
    inner join legs
        on checked.trading_capacity = 'MTCH' or legs.leg_name = 'CLIENT'
),

{# The party on the order's side ("near") and on the other side ("far").
   Near: the client (or the firm on own account), but the firm itself on
   an MTCH market leg, which then has no client detail, client decision
   maker or transmitter. Far: the venue counterparty, but the firm itself
   on an MTCH client leg. Both legs of a matched principal trade thus show
   the firm as buyer or seller (RR-CAP-004). #}
sides as (
    select
        *,
        coalesce(leg = 'MARKET', false) as is_market_leg,
        coalesce(leg = 'CLIENT', false) as is_client_leg,
        case when leg = 'MARKET' then 'LEI' else client_id_type end
            as near_id_type,
        case when leg = 'MARKET' then firm_lei else client_id end as near_id,
        case when leg = 'CLIENT' then 'LEI' else counterparty_id_type end
            as far_id_type,
        case when leg = 'CLIENT' then firm_lei else counterparty_id end
            as far_id
    from records
),

near as (
    select
        *,
        case when not is_market_leg then client_id_scheme end as near_id_scheme,
        case when not is_market_leg then client_first_name end
            as near_first_name,
        case when not is_market_leg then client_surname end as near_surname,
        case when not is_market_leg then client_birth_date end
            as near_birth_date,
        case when not is_market_leg then client_branch_country end
            as near_branch_country,
        case when not is_market_leg then second_holder_national_id end
            as near2_id,
        case when not is_market_leg then second_holder_national_id_type end
            as near2_id_scheme,
        case when not is_market_leg then second_holder_first_name end
            as near2_first_name,
        case when not is_market_leg then second_holder_surname end
            as near2_surname,
        case when not is_market_leg then second_holder_birth_date end
            as near2_birth_date,
        case when not is_market_leg then decision_maker_type end
            as near_dm_type,
        case when not is_market_leg then decision_maker_id end as near_dm_id,
        case when not is_market_leg then decision_maker_scheme end
            as near_dm_scheme,
        case when not is_market_leg then decision_maker_first_name end
            as near_dm_first_name,
        case when not is_market_leg then decision_maker_surname end
            as near_dm_surname,
        case when not is_market_leg then decision_maker_birth_date end
            as near_dm_birth_date,
        case when not is_market_leg then transmitted_by_lei end
            as near_transmitting_lei
    from sides
)

select
    'NEWT' as record_type,
    'QS'
    || execution_id::text
    || case when is_market_leg then 'M' else '' end as tx_id,
    execution_id,
    leg,
    order_id,
    instrument_type,
    case
        when not is_off_venue and not is_client_leg
            then upper(venue_transaction_id)
    end as venue_transaction_id,
    firm_lei as executing_entity_lei,
    firm_lei as submitting_entity_lei,
    {# Buyer (fields 7-15). #}
    case
        when side = 'BUY' then near_id_type else far_id_type
    end as buyer_id_type,
    case when side = 'BUY' then near_id else far_id end as buyer_id,
    case when side = 'BUY' then near_id_scheme end as buyer_id_scheme,
    case when side = 'BUY' then near_first_name end as buyer_first_name,
    case when side = 'BUY' then near_surname end as buyer_surname,
    case
        when side = 'BUY' then near_branch_country
    end as buyer_branch_country,
    case
        when side = 'BUY' then near2_id
    end as buyer2_id,
    case
        when side = 'BUY' then near2_id_scheme
    end as buyer2_id_scheme,
    case
        when side = 'BUY' then near2_first_name
    end as buyer2_first_name,
    case when side = 'BUY' then near2_surname end as buyer2_surname,
    case
        when side = 'BUY' then near_dm_type
    end as buyer_decision_maker_type,
    case
        when side = 'BUY' then near_dm_id
    end as buyer_decision_maker_id,
    case
        when side = 'BUY' then near_dm_scheme
    end as buyer_decision_maker_scheme,
    case
        when side = 'BUY' then near_dm_first_name
    end as buyer_decision_maker_first_name,
    case
        when side = 'BUY' then near_dm_surname
    end as buyer_decision_maker_surname,
    {# Seller (fields 16-24). #}
    case
        when side = 'SELL' then near_id_type else far_id_type
    end as seller_id_type,
    case
        when side = 'SELL' then near_id else far_id
    end as seller_id,
    case when side = 'SELL' then near_id_scheme end as seller_id_scheme,
    case when side = 'SELL' then near_first_name end as seller_first_name,
    case when side = 'SELL' then near_surname end as seller_surname,
    case
        when side = 'SELL' then near_branch_country
    end as seller_branch_country,
    case
        when side = 'SELL' then near2_id
    end as seller2_id,
    case
        when side = 'SELL' then near2_id_scheme
    end as seller2_id_scheme,
    case
        when side = 'SELL' then near2_first_name
    end as seller2_first_name,
    case
        when side = 'SELL' then near2_surname
    end as seller2_surname,
    case
        when side = 'SELL' then near_dm_type
    end as seller_decision_maker_type,
    case
        when side = 'SELL' then near_dm_id
    end as seller_decision_maker_id,
    case
        when side = 'SELL' then near_dm_scheme
    end as seller_decision_maker_scheme,
    case
        when side = 'SELL' then near_dm_first_name
    end as seller_decision_maker_first_name,
    case
        when side = 'SELL' then near_dm_surname
    end as seller_decision_maker_surname,
    {# Fields 26/27: the firm that transmitted the order to us (RTS 22
       Art. 4), on the client's side. #}
    case
        when side = 'BUY' then near_transmitting_lei
    end as transmitting_firm_buyer_lei,
    case
        when side = 'SELL' then near_transmitting_lei
    end as transmitting_firm_seller_lei,
    trading_capacity,
    {# Fields 30-31: nominal for bonds quoted in nominal, else units. #}
    case
        when quantity_notation = 'NOML' then 'NMNL' else 'UNIT'
    end as quantity_type,
    case
        when quantity_notation = 'NOML' then notional_currency
    end as quantity_currency,
    null::text as deriv_notional_change,
    {# Fields 33-34: a percentage of nominal for bonds, else money. #}
    case when price_notation = 'PERC' then 'PCTG' else 'MNTRY' end
        as price_type,
    case
        when coalesce(price_notation, 'MONE') <> 'PERC' then price_currency
    end as price_currency,
    {# Fields 36/37/61: the client leg is a trade between the firm and its
       client off venue: XOFF, no venue member branch, no waiver. #}
    case when is_client_leg then 'XOFF' else venue_mic end as venue,
    case
        when not is_client_leg then member_branch_country
    end as country_of_branch,
    null::text as upfront_payment_currency,
    complex_trade_id,
    isin as instrument_isin,
    {# Fields 42-56: the instrument's description, only when FIRDS does
       not know it (FinInstrm/Othr). #}
    case when not in_firds then instrument_name end as instrument_full_name,
    case when not in_firds then instrument_cfi end as instrument_cfi,
    case
        when not in_firds
            then coalesce(notional_currency, instrument_currency)
    end as notional_currency,
    null::text as notional_currency_2,
    case
        when not in_firds and is_derivative then underlying_isin
    end as underlying_isin,
    null::text as underlying_index_name,
    null::text as underlying_index_term_unit,
    case
        when not in_firds and instrument_type = 'OPTION' then option_type
    end as option_type,
    case
        when not in_firds and instrument_type = 'OPTION' then strike_currency
    end as strike_currency,
    case
        when not in_firds and instrument_type = 'OPTION' then exercise_style
    end as exercise_style,
    case
        when not in_firds and is_derivative then delivery_type
    end as delivery_type,
    {# Fields 57-60: decision and execution within the firm. #}
    investment_decision_type,
    investment_decision_id,
    investment_decision_scheme,
    investment_decision_branch_country,
    executing_person_type,
    executing_person_id,
    executing_person_scheme,
    executing_person_branch_country,
    case when not is_client_leg then waiver_ind end as waiver_ind,
    {# Field 62: the seller's short selling flag; on an MTCH market leg the
       seller is the firm, whose sale is covered by its simultaneous
       purchase from the client, so it is not a short sale: SELL. #}
    case
        when is_short_sale_relevant and is_market_leg then 'SELL'
        when is_short_sale_relevant then short_selling_ind
    end as short_selling_ind,
    {# Field 63: on the client leg only when the execution itself was off
       venue (on venue the execution carries no OTC flag). #}
    case
        when not is_client_leg or is_off_venue then otc_post_trade_ind
    end as otc_post_trade_ind,
    extract_run_id,
    reason_codes,
    reason_codes[1] as reason_code,
    executed_quantity::numeric(18, 4) as quantity,
    executed_price::numeric(18, 6) as price,
    net_amount_exact::numeric(18, 2) as net_amount,
    null::numeric(18, 2) as upfront_payment,
    {# Cast the whole case: a branch's typmod is lost next to a bare null. #}
    (
        case when not in_firds and is_derivative then price_multiplier end
    )::numeric(18, 6) as price_multiplier,
    null::integer as underlying_index_term_value,
    (
        case
            when not in_firds and instrument_type = 'OPTION' then strike_price
        end
    )::numeric(18, 6) as strike_price,
    is_investment_firm as investment_firm_ind,
    false as transmission_ind,
    in_firds as instrument_in_firds,
    null::boolean as commodity_derivative_ind,
    false as securities_financing_ind,
    cardinality(reason_codes) > 0 as has_blocking_reason,
    trading_date,
    case when side = 'BUY' then near_birth_date end as buyer_birth_date,
    case
        when side = 'BUY' then near2_birth_date
    end as buyer2_birth_date,
    case
        when side = 'BUY' then near_dm_birth_date
    end as buyer_decision_maker_birth_date,
    case when side = 'SELL' then near_birth_date end as seller_birth_date,
    case
        when side = 'SELL' then near2_birth_date
    end as seller2_birth_date,
    case
        when side = 'SELL' then near_dm_birth_date
    end as seller_decision_maker_birth_date,
    case
        when not in_firds and instrument_type = 'BOND' then maturity_date
    end as maturity_date,
    case
        when not in_firds and is_derivative then expiry_date
    end as expiry_date,
    executed_at as trading_datetime,
    updated_at,
    source_copies,
    {# Not report fields: inputs of the rule gate's cross-checks, price
       currency against the instrument's (RR-CCY-004) and net amount against
       quantity x price + accrued interest (RR-VAL-017). The report model
       selects its columns by name and leaves these out. #}
    instrument_currency,
    accrued_interest
from near
