{{
    config(
        pre_hook="{{ delete_business_date('month_start') }}",
        incremental_strategy='append',
    )
}}

{# SEC Rule 13h-1 for a calendar month (the period starts on its first day):
   per discretion group, the month's NMS shares and dollar value against the
   monthly thresholds, the days at a daily threshold, the highest daily
   percentage, the alert level and unidentified large traders. #}
with

activity as (
    select * from {{ ref('fct_large_trader_activity_daily') }}
    where
        business_date >= {{ business_date() }}
        and business_date < (
            cast('{{ var("period_end") }}' as timestamptz) at time zone 'UTC'
        )::date
),

daily as (
    select
        *,
        greatest(
            {{ large_trader_pct(
                'nms_shares', 'large_trader_daily_shares'
            ) }},
            {{ large_trader_pct(
                'nms_value_usd', 'large_trader_daily_value_usd'
            ) }}
        ) as pct_daily
    from activity
),

groups as (
    select
        discretion_group_id,
        min(large_trader_id) as large_trader_id,
        count(distinct business_date)::integer as trading_days,
        sum(nms_shares) as month_shares,
        sum(nms_value_usd) as month_value_usd,
        max(pct_daily) as max_pct_daily,
        (count(*) filter (where pct_daily >= 100))::integer
            as days_at_daily_threshold
    from daily
    group by 1
),

measured as (
    select
        *,
        {{ large_trader_pct(
            'month_shares', 'large_trader_monthly_shares'
        ) }} as pct_monthly_shares,
        {{ large_trader_pct(
            'month_value_usd', 'large_trader_monthly_value_usd'
        ) }} as pct_monthly_value
    from groups
),

rated as (
    select
        *,
        greatest(
            max_pct_daily, pct_monthly_shares, pct_monthly_value
        ) as max_pct
    from measured
)

select
    {{ business_date() }} as month_start,
    discretion_group_id,
    large_trader_id,
    trading_days,
    month_shares,
    month_value_usd,
    pct_monthly_shares,
    pct_monthly_value,
    max_pct_daily,
    days_at_daily_threshold,
    {{ large_trader_alert('max_pct') }} as alert_level,
    (max_pct >= 100 and large_trader_id is null) as unidentified_large_trader
from rated
