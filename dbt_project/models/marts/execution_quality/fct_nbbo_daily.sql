{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_business_date('trading_date') }}",
        post_hook=[
            "create index if not exists fct_nbbo_daily_day_lookup_idx"
            " on {{ this }} (trading_date, instrument_id, quoted_at)",
            "drop index if exists {{ this.schema }}.fct_nbbo_daily_lookup_idx",
            "drop index if exists {{ this.schema }}.fct_nbbo_daily_date_idx",
            "analyze {{ this }}",
        ],
    )
}}

{#
    The national best bid and offer of a business date, indexed for "the
    quote in force at time t" lookups (date first: a new day's quotes go to
    the end of the index, not into every instrument's part of it, so a day
    costs the same to load whatever the history). Crossed quotes (ask below bid) and
    one-sided ones are left out: they give no midpoint (Rule 605 measures
    against a usable NBBO).
#}
select
    (quoted_at at time zone 'UTC')::date as trading_date,
    instrument_id,
    quoted_at,
    bid_price,
    ask_price,
    (bid_price + ask_price) / 2 as mid_price
from {{ ref('stg_qsuite__quotes') }}
where
    {{ in_period('quoted_at') }}
    and bid_price > 0
    and ask_price >= bid_price
