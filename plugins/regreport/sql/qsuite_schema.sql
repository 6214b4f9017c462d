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
    opened_at        timestamptz not null
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
    instrument_type  text not null,
    tick_size        numeric(18, 6) not null,
    reference_price  numeric(18, 6) not null
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
    trading_capacity text not null check (trading_capacity in ('DEAL', 'MTCH', 'AOTC'))
);
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
