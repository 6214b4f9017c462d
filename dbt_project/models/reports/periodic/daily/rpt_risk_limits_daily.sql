{{
    config(
        pre_hook="{{ delete_business_date('business_date') }}",
        incremental_strategy='append',
    )
}}

{# Limit utilisation of a business date: every account that traded or held a
   position, against each limit in force at the end of the date (the latest
   version of each rule, qsuite.compliance_rules; a rule without an account
   applies to every account):

   - MAX_DAILY_NOTIONAL: the date's traded value, buys plus sales;
   - MAX_ORDER_NOTIONAL: the largest value filled on one order that date;
   - MAX_ORDER_QUANTITY: the largest quantity filled on one order;
   - MAX_POSITION_NOTIONAL: the gross cost basis of the positions held.

   Values are converted to the limit's currency with the date's reference
   rates (EUR per unit; no rate: NO_FX_RATE, which a test refuses). BREACH
   above the limit, WARNING from 80 % of it. #}
with

rules as (
    select distinct on (rule_id)
        rule_id,
        account_id,
        rule_type,
        limit_currency,
        threshold,
        valid_from
    from {{ ref('stg_qsuite__compliance_rules') }}
    where
        valid_from < {{ period_end() }}
        and rule_type in (
            'MAX_DAILY_NOTIONAL',
            'MAX_ORDER_NOTIONAL',
            'MAX_ORDER_QUANTITY',
            'MAX_POSITION_NOTIONAL'
        )
    order by rule_id asc, valid_from desc  -- noqa: AM06
),

rates as (
    select
        currency,
        eur_per_unit
    from {{ ref('stg_qsuite__fx_rates') }}
    where rate_date = {{ business_date() }}
    union all
    select
        'EUR' as currency,
        1 as eur_per_unit
),

fills as (
    select
        fills.account_id,
        fills.order_id,
        fills.quantity,
        abs(fills.notional) * rates.eur_per_unit as value_eur,
        rates.eur_per_unit is null as missing_rate
    from {{ ref('fct_executions') }} as fills
    left join rates on fills.currency = rates.currency
    where
        fills.trading_date = {{ business_date() }}
        and fills.execution_status = 'LIVE'
        and fills.exec_kind = 'TRADE'
),

per_order as (
    select
        account_id,
        order_id,
        sum(quantity) as quantity,
        sum(value_eur) as value_eur,
        bool_or(missing_rate) as missing_rate
    from fills
    group by 1, 2
),

trading as (
    select
        account_id,
        sum(value_eur) as day_value_eur,
        max(value_eur) as max_order_value_eur,
        max(quantity) as max_order_quantity,
        bool_or(missing_rate) as missing_rate
    from per_order
    group by 1
),

holdings as (
    select
        positions.account_id,
        sum(
            abs(positions.cost_basis) * rates.eur_per_unit
        ) as position_value_eur,
        bool_or(rates.eur_per_unit is null) as missing_rate
    from {{ ref('rpt_positions') }} as positions
    left join rates on positions.currency = rates.currency
    where positions.business_date = {{ business_date() }}
    group by 1
),

accounts as (
    select
        coalesce(trading.account_id, holdings.account_id) as account_id,
        coalesce(trading.day_value_eur, 0) as day_value_eur,
        coalesce(trading.max_order_value_eur, 0) as max_order_value_eur,
        coalesce(trading.max_order_quantity, 0) as max_order_quantity,
        coalesce(holdings.position_value_eur, 0) as position_value_eur,
        coalesce(trading.missing_rate, false) as trading_missing_rate,
        coalesce(holdings.missing_rate, false) as holdings_missing_rate
    from trading
    full outer join holdings on trading.account_id = holdings.account_id
),

measured as (
    select
        accounts.account_id,
        rules.rule_id,
        rules.rule_type,
        rules.limit_currency,
        rules.threshold,
        rules.valid_from,
        limit_rates.eur_per_unit as limit_eur_per_unit,
        case rules.rule_type
            when 'MAX_ORDER_QUANTITY' then accounts.max_order_quantity
            when 'MAX_DAILY_NOTIONAL' then accounts.day_value_eur
            when 'MAX_ORDER_NOTIONAL' then accounts.max_order_value_eur
            else accounts.position_value_eur
        end as observed_base,
        case rules.rule_type
            when 'MAX_ORDER_QUANTITY' then false
            when 'MAX_POSITION_NOTIONAL' then accounts.holdings_missing_rate
            else accounts.trading_missing_rate
        end as missing_rate
    from accounts
    inner join rules
        on
            accounts.account_id = rules.account_id
            or rules.account_id is null
    left join rates as limit_rates
        on rules.limit_currency = limit_rates.currency
),

observed as (
    select
        *,
        case
            when rule_type = 'MAX_ORDER_QUANTITY' then observed_base
            when missing_rate or limit_eur_per_unit is null then null
            else round(observed_base / limit_eur_per_unit, 2)
        end as observed
    from measured
)

select
    {{ business_date() }} as business_date,
    account_id,
    rule_id,
    rule_type,
    limit_currency,
    threshold,
    observed,
    round(100 * observed / nullif(threshold, 0), 2) as utilisation_pct,
    case
        when observed is null then 'NO_FX_RATE'
        when observed > threshold then 'BREACH'
        when observed >= 0.8 * threshold then 'WARNING'
        else 'OK'
    end as status,
    valid_from as rule_valid_from
from observed
