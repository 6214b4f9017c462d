{{
    config(
        pre_hook="{{ delete_business_date('business_date') }}",
        incremental_strategy='append',
    )
}}

{# SEC Rule 13h-1 monitoring of a business date: every discretion group that
   traded NMS securities in the calendar month so far, with the date's and
   the month-to-date shares and dollar value against the identifying
   activity level, the alert level, and whether it is an unidentified large
   trader (at a threshold, no LTID). #}
with

activity as (
    select * from {{ ref('fct_large_trader_activity_daily') }}
    where
        business_date >= date_trunc('month', {{ business_date() }})::date
        and business_date <= {{ business_date() }}
),

groups as (
    select
        discretion_group_id,
        min(large_trader_id) as large_trader_id,
        coalesce(sum(nms_shares) filter (
            where business_date = {{ business_date() }}
        ), 0) as daily_shares,
        coalesce(sum(nms_value_usd) filter (
            where business_date = {{ business_date() }}
        ), 0) as daily_value_usd,
        sum(nms_shares) as month_to_date_shares,
        sum(nms_value_usd) as month_to_date_value_usd
    from activity
    group by 1
),

measured as (
    select
        *,
        {{ large_trader_pct(
            'daily_shares', 'large_trader_daily_shares'
        ) }} as pct_daily_shares,
        {{ large_trader_pct(
            'daily_value_usd', 'large_trader_daily_value_usd'
        ) }} as pct_daily_value,
        {{ large_trader_pct(
            'month_to_date_shares', 'large_trader_monthly_shares'
        ) }} as pct_monthly_shares,
        {{ large_trader_pct(
            'month_to_date_value_usd', 'large_trader_monthly_value_usd'
        ) }} as pct_monthly_value
    from groups
),

rated as (
    select
        *,
        greatest(
            pct_daily_shares,
            pct_daily_value,
            pct_monthly_shares,
            pct_monthly_value
        ) as max_pct
    from measured
)

select
    {{ business_date() }} as business_date,
    discretion_group_id,
    large_trader_id,
    daily_shares,
    daily_value_usd,
    month_to_date_shares,
    month_to_date_value_usd,
    pct_daily_shares,
    pct_daily_value,
    pct_monthly_shares,
    pct_monthly_value,
    {{ large_trader_alert('max_pct') }} as alert_level,
    (max_pct >= 100 and large_trader_id is null) as unidentified_large_trader
from rated
