-- QSuite: the firm's trading database, the system RegReport reports from.
-- Timestamps are timestamptz to the microsecond; money is numeric with a currency column.
create schema if not exists qsuite;

-- The reporting firm (executing and submitting entity).
create table if not exists qsuite.firm (
    firm_id          smallint primary key,
    lei              char(20) not null,
    name             text not null,
    country_code     char(2) not null,
    is_investment_firm boolean not null default true
);

-- Trading venues the firm reaches; ccp_lei is the central counterparty where the venue uses one.
create table if not exists qsuite.venues (
    mic              char(4) primary key,
    operating_mic    char(4) not null,
    name             text not null,
    country_code     char(2) not null,
    ccp_lei          char(20)
);

-- Clients and the firm's own (house) accounts.
-- account_type: LEGAL (identified by LEI) or NATURAL (a person, identified by national id).
create table if not exists qsuite.accounts (
    account_id       text primary key,
    account_type     text not null check (account_type in ('LEGAL', 'NATURAL')),
    is_house         boolean not null default false,
    lei              char(20),
    legal_name       text,
    first_name       text,
    surname          text,
    birth_date       date,
    nationality      char(2),
    national_id      text,
    national_id_type text check (national_id_type in ('NIDN', 'CCPT', 'CONCAT')),
    branch_country   char(2),
    -- EXECUTION_ONLY: the client decides. DISCRETIONARY: the firm decides under a
    -- discretionary mandate (RTS 22 fields 12/21 = the firm's LEI, field 57 = who decided).
    -- POWER_OF_ATTORNEY: a third party (poa_*) decides for the client (fields 12-15/21-24).
    mandate          text not null default 'EXECUTION_ONLY'
                     check (mandate in ('EXECUTION_ONLY', 'DISCRETIONARY', 'POWER_OF_ATTORNEY')),
    poa_lei          char(20),
    poa_first_name   text,
    poa_surname      text,
    poa_birth_date   date,
    poa_national_id  text,
    poa_national_id_type text check (poa_national_id_type in ('NIDN', 'CCPT', 'CONCAT')),
    opened_at        timestamptz not null,
    -- SEC Rule 13h-1: accounts under the same person's investment discretion share a group
    -- (null: the account is its own group), and that person's Large Trader ID, if registered.
    discretion_group_id text,
    large_trader_id  text
);

-- Further holders of joint NATURAL accounts (the first holder is on qsuite.accounts).
-- RTS 22 fields 7/16 list every holder (AcctOwnr is 1..n).
create table if not exists qsuite.account_joint_holders (
    account_id       text not null references qsuite.accounts (account_id),
    holder_seq       smallint not null check (holder_seq >= 2),
    first_name       text not null,
    surname          text not null,
    birth_date       date not null,
    nationality      char(2) not null,
    national_id      text not null,
    national_id_type text not null check (national_id_type in ('NIDN', 'CCPT', 'CONCAT')),
    primary key (account_id, holder_seq)
);

-- People who execute or decide inside the firm.
create table if not exists qsuite.traders (
    trader_id        text primary key,
    first_name       text not null,
    surname          text not null,
    birth_date       date not null,
    nationality      char(2) not null,
    national_id      text not null,
    national_id_type text not null check (national_id_type in ('NIDN', 'CCPT', 'CONCAT')),
    branch_country   char(2) not null
);

-- Execution algorithms (RTS 22 field 59 "Algo").
create table if not exists qsuite.algos (
    algo_id          text primary key,
    name             text not null
);

create table if not exists qsuite.instruments (
    instrument_id    integer primary key,
    isin             char(12),
    cfi              char(6) not null,
    full_name        text not null,
    currency         char(3) not null,
    primary_mic      char(4) not null,
    -- SHARE, ETF, BOND, OPTION, FUTURE are in MiFIR scope; FX_SPOT is not (spot FX is
    -- not a financial instrument under MiFID II Annex I Section C).
    instrument_type  text not null
                     check (instrument_type in ('SHARE', 'ETF', 'BOND', 'OPTION', 'FUTURE', 'FX_SPOT')),
    tick_size        numeric(18, 6) not null,
    reference_price  numeric(18, 6) not null,
    -- Known to ESMA FIRDS (admitted to trading or traded on an EU venue): the report then
    -- carries the ISIN only (field 41); otherwise the full description (fields 42-56).
    in_firds         boolean not null default true,
    -- MONE: price per unit in price currency; PERC: percentage of nominal (bonds).
    price_notation   text not null default 'MONE' check (price_notation in ('MONE', 'PERC')),
    -- UNIT: number of units/contracts; NOML: nominal value in notional_currency (bonds).
    quantity_notation text not null default 'UNIT' check (quantity_notation in ('UNIT', 'NOML')),
    notional_currency char(3),
    is_sovereign     boolean not null default false,
    maturity_date    date,
    expiry_date      date,
    underlying_isin  char(12),
    option_type      text check (option_type in ('CALL', 'PUTO')),
    strike_price     numeric(18, 6),
    strike_currency  char(3),
    exercise_style   text check (exercise_style in ('EURO', 'AMER')),
    delivery_type    text check (delivery_type in ('PHYS', 'CASH')),
    price_multiplier numeric(18, 6)
);

create table if not exists qsuite.orders (
    order_id         bigint primary key,
    account_id       text not null references qsuite.accounts (account_id),
    instrument_id    integer not null references qsuite.instruments (instrument_id),
    trader_id        text references qsuite.traders (trader_id),
    algo_id          text references qsuite.algos (algo_id),
    side             text not null check (side in ('BUY', 'SELL')),
    order_type       text not null check (order_type in ('LIMIT', 'MARKET')),
    limit_price      numeric(18, 6),
    quantity         numeric(18, 4) not null check (quantity > 0),
    time_in_force    text not null check (time_in_force in ('DAY', 'IOC', 'GTC')),
    status           text not null check (status in ('NEW', 'PARTIALLY_FILLED', 'FILLED', 'CANCELLED')),
    -- Who took the investment decision inside the firm (field 57) when the firm decides
    -- (house or discretionary accounts); null with an algo_id means the algo decided.
    decision_trader_id text references qsuite.traders (trader_id),
    -- The client executed the order itself (direct electronic access): field 59 = NORE.
    client_executes  boolean not null default false,
    -- LEI of the investment firm that transmitted this order to us under RTS 22 Art. 4
    -- (fields 26/27).
    transmitted_by_lei char(20),
    -- Short selling indicator of a sell order in a share or sovereign debt (field 62).
    short_selling_ind text check (short_selling_ind in ('SESH', 'SSEX', 'SELL', 'UNDI')),
    created_at       timestamptz not null,
    updated_at       timestamptz not null
);
create index if not exists orders_created_at_idx on qsuite.orders (created_at);

-- One row per fill. trading_capacity is RTS 22 field 29 (DEAL, MTCH, AOTC).
create table if not exists qsuite.executions (
    execution_id     bigint primary key,
    order_id         bigint not null references qsuite.orders (order_id),
    executed_at      timestamptz not null,
    quantity         numeric(18, 4) not null,
    price            numeric(18, 6) not null,
    currency         char(3) not null,
    venue_mic        char(4) not null,
    venue_transaction_id text,
    trading_capacity text not null check (trading_capacity in ('DEAL', 'MTCH', 'AOTC')),
    -- TRADE is a transaction in the RTS 22 Art. 2 sense; INTERNAL_TRANSFER (a move between
    -- accounts of the same beneficial owner, Art. 2(5)) is not reportable.
    exec_kind        text not null default 'TRADE' check (exec_kind in ('TRADE', 'INTERNAL_TRANSFER')),
    -- Off-venue (XOFF) fills: the LEI of the counterparty (fields 7/16).
    counterparty_lei char(20),
    -- The firm's branch that is the venue member, when not the head office (field 37).
    member_branch_country char(2),
    -- Bonds: accrued interest paid or received, in price currency; net amount (field 35) is
    -- quantity x price / 100 + accrued interest.
    accrued_interest numeric(18, 2),
    complex_trade_id text,
    -- Pre-trade waiver(s) of the venue (field 61), space-separated codes.
    waiver_ind       text,
    -- OTC post-trade indicator(s) (field 63), space-separated codes.
    otc_post_trade_ind text,
    -- LIVE, or CANCELLED when the fill was busted; every change bumps updated_at and version.
    status           text not null default 'LIVE' check (status in ('LIVE', 'CANCELLED')),
    version          integer not null default 1,
    updated_at       timestamptz not null
);
create index if not exists executions_updated_at_idx on qsuite.executions (updated_at);
create index if not exists executions_executed_at_idx on qsuite.executions (executed_at);
create index if not exists executions_order_id_idx on qsuite.executions (order_id);

-- National best bid and offer snapshots.
create table if not exists qsuite.quotes (
    instrument_id    integer not null references qsuite.instruments (instrument_id),
    quoted_at        timestamptz not null,
    bid_price        numeric(18, 6) not null,
    bid_size         numeric(18, 4) not null,
    ask_price        numeric(18, 6) not null,
    ask_size         numeric(18, 4) not null,
    currency         char(3) not null,
    primary key (instrument_id, quoted_at)
);
create index if not exists quotes_quoted_at_idx on qsuite.quotes (quoted_at);

-- Pre-trade limits per account (SEC 15c3-5); versioned by valid_from.
create table if not exists qsuite.compliance_rules (
    rule_id          text not null,
    account_id       text references qsuite.accounts (account_id),
    rule_type        text not null,
    threshold        numeric(24, 6) not null,
    currency         char(3),
    valid_from       timestamptz not null,
    primary key (rule_id, valid_from)
);

-- Reference exchange rates (EUR per unit of the currency, the ECB convention) by date: the
-- risk report values trades and positions in a limit's currency with them.
create table if not exists qsuite.fx_rates (
    rate_date        date not null,
    currency         char(3) not null,
    eur_per_unit     numeric(18, 8) not null check (eur_per_unit > 0),
    primary key (rate_date, currency)
);
