"""Positions and the daily trading report on a hand-made QSuite source, against hand-worked rows.

A scratch database holds a tiny QSuite source (schema ``qsuite``); the real extract lands each
day in ``raw`` and the real ``dbt build --select +tag:periodic`` builds the day. Every expected
figure is worked out by hand in the comments next to the fills that produce it.

Day 1 (2026-04-01), all EUR unless said, one order per fill:

=====  =======  =====  ==========  ======  =================  ===============================
fill   account  instr  side        qty     price              note
=====  =======  =====  ==========  ======  =================  ===============================
E1     A1       SHR    BUY         100     10.00              T1
E2     A1       SHR    BUY         50      13.00              T1
E3     A1       SHR    SELL        30      12.00              T2
E4     A2       BND    SELL        10000   99.50 (percent)    T2, nominal
E5     A2       FUT    BUY         5       200.00             algo, no trader; multiplier 10
E6     A1       SHR    BUY         10      11.00              busted (CANCELLED)
E7     A1       SHR    SELL        20      11.50              internal transfer, not a trade
E8     A2       USD    BUY         10      50.25 USD          T2
=====  =======  =====  ==========  ======  =================  ===============================

Day 2 (2026-04-02): F1 A1 SHR SELL 150 @ 12.00 (T1); F2 A1 SHR BUY 30 @ 11.00 (T1);
F3 A2 BND BUY 10000 @ 100.00 (T2); F4 A2 USD BUY 20 @ 50.26 (T2). FUT is not traded.

NMS securities for SEC Rule 13h-1 (USD share NMS on XNAS, option OPT on XCBO with multiplier
100; the USD share above trades on XETR and is not NMS). A3 and A4 are one discretion group G1
without an LTID; A5 is alone with an LTID. Thresholds are set small for the test (vars): 1,000
shares / $100,000 a day, 3,000 shares / $250,000 a month, warning from 80 %.

- Day 1: N1 A3 NMS BUY 600 @ 100.00 (T1); N2 A4 NMS SELL 300 @ 101.00 (T2); N3 A5 OPT BUY 2
  @ 5.00 (algo); N4 A3 NMS BUY 100 @ 100.00 busted.
- Day 2: N5 A3 NMS BUY 500 @ 102.00 (T1); N6 A4 NMS BUY 600 @ 102.50 (T1).

Execution quality (Rule 605 style) on day 1, a CHF share EQS traded by A6 (see `_EQ_SQL`):
NBBO Q1 10:00:00 9.98 / 10.02 (mid 10.00), Q2 10:00:10 9.99 / 10.01 (mid 10.00), Q3 10:01:00
10.05 / 10.09 (mid 10.07), Q4 10:06:00 9.90 / 9.94 (mid 9.92); orders O1 market buy 100
(10:00:05, filled 100 @ 10.01 at 10:00:05.5), O2 sell limit 9.98 x 200 (10:00:06, marketable:
filled 120 @ 9.98 at 10:00:07 and 80 @ 9.99 at 10:00:08), O3 buy limit 10.00 x 50 (10:00:20,
not marketable, executable at Q4, filled 50 @ 9.95 at 10:06:30), O4 buy limit 9.00 x 10
(10:00:30, never filled), O5 market sell 30 (09:59:00, before any quote; filled 30 @ 9.97).

Risk limits (`_RISK_SQL`): A1 daily notional 2,000 EUR, raised to 2,500 from day 2; A2 order
notional 10,000 USD and gross position 15,000 EUR; a firm-wide order quantity of 5,000; a
limit that starts after both days. EUR per USD 0.90 on day 1, 0.80 on day 2; CHF 1.10.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from regreport.extract import extract_period

if TYPE_CHECKING:
    from collections.abc import Iterator

    from regreport.config import Settings

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DBT_DIR = REPO / "dbt_project"
DBT = REPO / ".venv" / "bin" / "dbt"
SCHEMA_SQL = REPO / "plugins" / "regreport" / "sql" / "qsuite_schema.sql"
DB = "regreport_dbt_periodic"
DAY1 = date(2026, 4, 1)
DAY2 = date(2026, 4, 2)
DAY3 = date(2026, 4, 3)
DAY6 = date(2026, 4, 6)

_REFERENCE_SQL = """
insert into qsuite.firm values (1, 'QSUITEFIRM0000000017', 'QSuite Securities AG', 'DE', true);
insert into qsuite.venues values ('XETR', 'XETR', 'Xetra', 'DE', null);
insert into qsuite.accounts (account_id, account_type, lei, legal_name, opened_at,
    discretion_group_id, large_trader_id) values
    ('A1', 'LEGAL', 'CLIENTFUND0000000092', 'Fund One', '2020-01-01Z', null, null),
    ('A2', 'LEGAL', 'CLIENTFUND0000000092', 'Fund Two', '2020-01-01Z', null, null),
    ('A3', 'LEGAL', 'CLIENTFUND0000000092', 'Managed One', '2020-01-01Z', 'G1', null),
    ('A4', 'LEGAL', 'CLIENTFUND0000000092', 'Managed Two', '2020-01-01Z', 'G1', ' '),
    ('A5', 'LEGAL', 'CLIENTFUND0000000092', 'Registered', '2020-01-01Z', null,
     '12345678-0001'),
    ('A6', 'LEGAL', 'CLIENTFUND0000000092', 'Measured', '2020-01-01Z', null, null);
insert into qsuite.traders values
    ('T1', 'Marie', 'Dupont', '1980-05-17', 'FR', 'FR19800517MARIEDUPON', 'CONCAT', 'DE'),
    ('T2', 'Anna', 'Schmidt', '1985-07-01', 'DE', 'DE19850701ANNA#SCHMI', 'CONCAT', 'DE');
insert into qsuite.algos values ('ALG1', 'VWAP');
insert into qsuite.instruments
    (instrument_id, isin, cfi, full_name, currency, primary_mic, instrument_type, tick_size,
     reference_price, price_notation, quantity_notation, notional_currency, price_multiplier)
values
    (1, 'DE0007164600', 'ESVUFR', 'Share', 'EUR', 'XETR', 'SHARE', 0.01, 10, 'MONE', 'UNIT',
     null, null),
    (2, 'DE0001102580', 'DBFTFB', 'Bund', 'EUR', 'XETR', 'BOND', 0.01, 100, 'PERC', 'NOML',
     'EUR', null),
    (3, 'DE000F0TTE95', 'FFICSX', 'Future', 'EUR', 'XETR', 'FUTURE', 0.5, 200, 'MONE', 'UNIT',
     null, 10),
    (4, 'US0378331005', 'ESVUFR', 'US share', 'USD', 'XETR', 'SHARE', 0.01, 50, 'MONE', 'UNIT',
     null, null),
    (5, 'US5949181045', 'ESVUFR', 'NMS share', 'USD', 'XNAS', 'SHARE', 0.01, 100, 'MONE', 'UNIT',
     null, null),
    (6, 'US00000OPT11', 'OCASPS', 'NMS option', 'USD', 'XCBO', 'OPTION', 0.05, 5, 'MONE', 'UNIT',
     null, 100),
    (7, 'CH0012005267', 'ESVUFR', 'CHF share', 'CHF', 'XETR', 'SHARE', 0.01, 10, 'MONE', 'UNIT',
     null, null);
"""

_EQ_SQL = """
insert into qsuite.quotes values
    (7, '2026-04-01 10:00:00Z', 9.98, 1000, 10.02, 1000, 'CHF'),
    (7, '2026-04-01 10:00:10Z', 9.99, 1000, 10.01, 1000, 'CHF'),
    (7, '2026-04-01 10:01:00Z', 10.05, 1000, 10.09, 1000, 'CHF'),
    (7, '2026-04-01 10:06:00Z', 9.90, 1000, 9.94, 1000, 'CHF');
insert into qsuite.orders (order_id, account_id, instrument_id, trader_id, side, order_type,
    limit_price, quantity, time_in_force, status, created_at, updated_at) values
    (51, 'A6', 7, 'T1', 'BUY', 'MARKET', null, 100, 'DAY', 'FILLED', '2026-04-01 10:00:05Z',
     '2026-04-01 10:00:05Z'),
    (52, 'A6', 7, 'T1', 'SELL', 'LIMIT', 9.98, 200, 'DAY', 'FILLED', '2026-04-01 10:00:06Z',
     '2026-04-01 10:00:06Z'),
    (53, 'A6', 7, 'T1', 'BUY', 'LIMIT', 10.00, 50, 'DAY', 'FILLED', '2026-04-01 10:00:20Z',
     '2026-04-01 10:00:20Z'),
    (54, 'A6', 7, 'T1', 'BUY', 'LIMIT', 9.00, 10, 'DAY', 'NEW', '2026-04-01 10:00:30Z',
     '2026-04-01 10:00:30Z'),
    (55, 'A6', 7, 'T1', 'SELL', 'MARKET', null, 30, 'DAY', 'FILLED', '2026-04-01 09:59:00Z',
     '2026-04-01 09:59:00Z');
insert into qsuite.executions (execution_id, order_id, executed_at, quantity, price, currency,
    venue_mic, trading_capacity, updated_at) values
    (61, 51, '2026-04-01 10:00:05.5Z', 100, 10.01, 'CHF', 'XETR', 'AOTC', '2026-04-01 10:00:05.5Z'),
    (62, 52, '2026-04-01 10:00:07Z', 120, 9.98, 'CHF', 'XETR', 'AOTC', '2026-04-01 10:00:07Z'),
    (63, 52, '2026-04-01 10:00:08Z', 80, 9.99, 'CHF', 'XETR', 'AOTC', '2026-04-01 10:00:08Z'),
    (64, 53, '2026-04-01 10:06:30Z', 50, 9.95, 'CHF', 'XETR', 'AOTC', '2026-04-01 10:06:30Z'),
    (65, 55, '2026-04-01 09:59:01Z', 30, 9.97, 'CHF', 'XETR', 'AOTC', '2026-04-01 09:59:01Z');
"""

_RISK_SQL = """
insert into qsuite.compliance_rules values
    ('R-A1-DAY', 'A1', 'MAX_DAILY_NOTIONAL', 2000, 'EUR', '2020-01-01Z'),
    ('R-A1-DAY', 'A1', 'MAX_DAILY_NOTIONAL', 2500, 'EUR', '2026-04-02Z'),
    ('R-A1-LATER', 'A1', 'MAX_POSITION_NOTIONAL', 1, 'EUR', '2026-04-03Z'),
    ('R-A2-ORD', 'A2', 'MAX_ORDER_NOTIONAL', 10000, 'USD', '2020-01-01Z'),
    ('R-A2-POS', 'A2', 'MAX_POSITION_NOTIONAL', 15000, 'EUR', '2020-01-01Z'),
    ('FIRM-QTY', null, 'MAX_ORDER_QUANTITY', 5000, null, '2020-01-01Z'),
    ('FIRM-COLLAR', null, 'PRICE_COLLAR_PCT', 5, null, '2020-01-01Z');
insert into qsuite.fx_rates values
    ('2026-04-01', 'USD', 0.90), ('2026-04-02', 'USD', 0.80),
    ('2026-04-01', 'CHF', 1.10), ('2026-04-02', 'CHF', 1.10);
"""

#: (id, account, instrument, side, qty, price, currency, trader, algo, hh:mm, status, kind)
_FILLS: dict[date, list[tuple[Any, ...]]] = {
    DAY1: [
        (1, "A1", 1, "BUY", "100", "10.00", "EUR", "T1", None, "09:00", "LIVE", "TRADE"),
        (2, "A1", 1, "BUY", "50", "13.00", "EUR", "T1", None, "10:00", "LIVE", "TRADE"),
        (3, "A1", 1, "SELL", "30", "12.00", "EUR", "T2", None, "11:00", "LIVE", "TRADE"),
        (4, "A2", 2, "SELL", "10000", "99.50", "EUR", "T2", None, "11:30", "LIVE", "TRADE"),
        (5, "A2", 3, "BUY", "5", "200.00", "EUR", None, "ALG1", "12:00", "LIVE", "TRADE"),
        (6, "A1", 1, "BUY", "10", "11.00", "EUR", "T1", None, "12:30", "CANCELLED", "TRADE"),
        (7, "A1", 1, "SELL", "20", "11.50", "EUR", "T1", None, "13:00", "LIVE",
         "INTERNAL_TRANSFER"),
        (8, "A2", 4, "BUY", "10", "50.25", "USD", "T2", None, "14:00", "LIVE", "TRADE"),
        (21, "A3", 5, "BUY", "600", "100.00", "USD", "T1", None, "14:30", "LIVE", "TRADE"),
        (22, "A4", 5, "SELL", "300", "101.00", "USD", "T2", None, "15:00", "LIVE", "TRADE"),
        (23, "A5", 6, "BUY", "2", "5.00", "USD", None, "ALG1", "15:30", "LIVE", "TRADE"),
        (24, "A3", 5, "BUY", "100", "100.00", "USD", "T1", None, "16:00", "CANCELLED", "TRADE"),
    ],
    # Only for the gap check: landed (fct_executions) but its positions never built.
    DAY3: [
        (31, "A1", 1, "BUY", "1", "10.00", "EUR", "T1", None, "09:00", "LIVE", "TRADE"),
    ],
    DAY6: [],
    DAY2: [
        (11, "A1", 1, "SELL", "150", "12.00", "EUR", "T1", None, "09:00", "LIVE", "TRADE"),
        (12, "A1", 1, "BUY", "30", "11.00", "EUR", "T1", None, "10:00", "LIVE", "TRADE"),
        (13, "A2", 2, "BUY", "10000", "100.00", "EUR", "T2", None, "11:00", "LIVE", "TRADE"),
        (14, "A2", 4, "BUY", "20", "50.26", "USD", "T2", None, "12:00", "LIVE", "TRADE"),
        (25, "A3", 5, "BUY", "500", "102.00", "USD", "T1", None, "13:00", "LIVE", "TRADE"),
        (26, "A4", 5, "BUY", "600", "102.50", "USD", "T1", None, "14:00", "LIVE", "TRADE"),
    ],
}  # fmt: skip


def _insert_fills(conn: psycopg.Connection[Any], day: date) -> None:
    for fid, account, instrument, side, qty, price, ccy, trader, algo, hhmm, status, kind in _FILLS[
        day
    ]:
        at = datetime.combine(day, time.fromisoformat(hhmm), tzinfo=UTC)
        conn.execute(
            """insert into qsuite.orders (order_id, account_id, instrument_id, trader_id,
                   algo_id, side, order_type, quantity, time_in_force, status, created_at,
                   updated_at)
               values (%s, %s, %s, %s, %s, %s, 'MARKET', %s, 'DAY', 'FILLED', %s, %s)""",
            (fid, account, instrument, trader, algo, side, qty, at, at),
        )
        conn.execute(
            """insert into qsuite.executions (execution_id, order_id, executed_at, quantity,
                   price, currency, venue_mic, trading_capacity, exec_kind, status, updated_at)
               values (%s, %s, %s, %s, %s, %s, 'XETR', 'AOTC', %s, %s, %s)""",
            (fid, fid, at, qty, price, ccy, kind, status, at),
        )


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start, start + timedelta(days=1)


#: Small 13h-1 thresholds, so a handful of fills reach them.
THRESHOLDS = {
    "large_trader_daily_shares": 1000,
    "large_trader_daily_value_usd": 100000,
    "large_trader_monthly_shares": 3000,
    "large_trader_monthly_value_usd": 250000,
    "large_trader_warning_pct": 80,
}


def _build(
    day: date,
    dsn: str,
    settings: Settings,
    work: Path,
    *,
    month: bool = False,
    quarter: bool = False,
    select: str | None = None,
    fails: bool = False,
) -> str:
    """Land the day with the real extract, then build the daily models for it (or, with
    `month`, the monthly models for the day's calendar month)."""
    start, end = _bounds(day)
    if month:
        start = datetime(day.year, day.month, 1, tzinfo=UTC)
        end = datetime(day.year + day.month // 12, day.month % 12 + 1, 1, tzinfo=UTC)
    elif quarter:
        first = (day.month - 1) // 3 * 3 + 1
        start = datetime(day.year, first, 1, tzinfo=UTC)
        end = datetime(day.year + (first + 3 > 12), (first + 2) % 12 + 1, 1, tzinfo=UTC)
    else:
        extract_period(dsn, dsn, start, end, f"test-{day}")
    env = {
        **os.environ,
        "REGREPORT_PG_HOST": settings.pg_host,
        "REGREPORT_PG_PORT": str(settings.pg_port),
        "REGREPORT_PG_USER": settings.pg_user,
        "REGREPORT_PG_PASSWORD": settings.pg_password,
        "REGREPORT_WAREHOUSE_DB": DB,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    period = {"period_start": start.isoformat(), "period_end": end.isoformat(), **THRESHOLDS}
    result = subprocess.run(
        [str(DBT), "build", "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
         "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
         "--select", select or ("tag:monthly" if month else
                                "tag:quarterly" if quarter else "+tag:daily"),
         "--vars", json.dumps(period)],
        cwd=DBT_DIR, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if fails:
        assert result.returncode != 0, "dbt build should have failed"
    else:
        assert result.returncode == 0, f"dbt build failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _rows(dsn: str, query: str) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute(query).fetchall()  # type: ignore[arg-type]


POSITIONS = (
    "select business_date, account_id, instrument_id, net_quantity, average_price, cost_basis,"
    " currency, opening_quantity, bought_quantity, sold_quantity, fills"
    " from reports.rpt_positions order by business_date, account_id, instrument_id"
)
LARGE_DAILY = (
    "select * from reports.rpt_large_trader_daily order by business_date, discretion_group_id"
)
LARGE_MONTHLY = (
    "select * from reports.rpt_large_trader_monthly order by month_start, discretion_group_id"
)
RISK = (
    "select business_date, account_id, rule_id, rule_type, limit_currency, threshold, observed,"
    " utilisation_pct, status from reports.rpt_risk_limits_daily"
    " where account_id in ('A1', 'A2') order by business_date, account_id, rule_id"
)
EQ = (
    "select * from reports.rpt_execution_quality_monthly where instrument_id = 7"
    " order by order_category, size_band"
)
EQ_QUARTER = (
    "select * from reports.rpt_execution_quality_quarterly where instrument_id = 7"
    " order by order_category, size_band"
)
EQ_REALIZED = (
    "select order_category, size_band, horizon_ms, executed_quantity, avg_realized_spread"
    " from reports.rpt_execution_quality_realized_monthly where instrument_id = 7"
    " order by order_category, size_band, horizon_ms"
)
SUMMARY = (
    "select trading_date, currency, trades, volume, traded_value, symbols, trading_accounts,"
    " traders"
    " from reports.rpt_daily_trading_summary order by trading_date, currency"
)


@pytest.fixture(scope="module")
def built(
    pg_services: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """Day 1, day 2, day 2 again (idempotence), then day 1 again (must not touch day 2)."""
    settings = pg_services
    admin = settings.dsn("postgres")
    dsn = settings.dsn(DB)
    work = tmp_path_factory.mktemp("dbt-periodic")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(DB)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(DB)))
    try:
        with psycopg.connect(dsn) as conn:
            conn.execute(SCHEMA_SQL.read_text())  # type: ignore[arg-type]
            conn.execute(_REFERENCE_SQL)  # type: ignore[arg-type]
            for day in (DAY1, DAY2, DAY3):
                _insert_fills(conn, day)
            conn.execute(_EQ_SQL)  # type: ignore[arg-type]
            conn.execute(_RISK_SQL)  # type: ignore[arg-type]
        _build(DAY1, dsn, settings, work)
        _build(DAY2, dsn, settings, work)
        _build(DAY2, dsn, settings, work, month=True)
        eq_month = _rows(dsn, EQ)
        # A May day of the same quarter: O1 again as order 151, filled at 10.03 one second
        # after receipt (copied into the daily facts as the daily DAG would have built them).
        with psycopg.connect(dsn) as conn:
            _copy_fact(
                conn,
                "fct_execution_quality_orders",
                "order_id",
                51,
                {"order_id": 151, "trading_date": MAY},
            )
            _copy_fact(conn, "fct_execution_quality_fills", "execution_id", 61,
                       {"execution_id": 161, "order_id": 151, "trading_date": MAY,
                        "price": Decimal("10.03"), "effective_spread": Decimal("0.06"),
                        "price_improvement": Decimal("-0.01"),
                        "time_to_execution_ms": Decimal("1500")})  # fmt: skip
        _build(DAY2, dsn, settings, work, quarter=True)
        first = {
            "positions": _rows(dsn, POSITIONS),
            "summary": _rows(dsn, SUMMARY),
            "trades": _rows(dsn, "select * from reports.rpt_daily_trading order by execution_id"),
            "large_daily": _rows(dsn, LARGE_DAILY),
            "large_monthly": _rows(dsn, LARGE_MONTHLY),
            "eq": eq_month,
            "eq_quarter": _rows(dsn, EQ_QUARTER),
            "risk": _rows(dsn, RISK),
            "eq_realized": _rows(dsn, EQ_REALIZED),
        }
        _build(DAY2, dsn, settings, work)
        _build(DAY1, dsn, settings, work)
        again = {"positions_again": _rows(dsn, POSITIONS), "summary_again": _rows(dsn, SUMMARY)}
        # The 3rd lands (the MiFIR DAG builds fct_executions every day) but its positions are
        # never built: building the 6th must fail, naming the 3rd.
        _build(DAY3, dsn, settings, work, select="+fct_executions")
        gap = _build(DAY6, dsn, settings, work, fails=True)
        yield {
            **first,
            **again,
            "gap": gap,
            "positions_after_gap": _rows(dsn, POSITIONS),
        }
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(DB))
            )


MAY = date(2026, 5, 4)


def _copy_fact(
    conn: psycopg.Connection[Any], table: str, key: str, value: int, changes: dict[str, Any]
) -> None:
    """Insert a copy of one fact row with some columns changed."""
    columns = [
        r[0]
        for r in conn.execute(
            """select column_name from information_schema.columns
               where table_schema = 'marts' and table_name = %s order by ordinal_position""",
            (table,),
        )
    ]
    missing = set(changes) - set(columns)
    assert not missing, f"{table} has no column {missing}"
    picked = sql.SQL(", ").join(
        sql.Placeholder(c) if c in changes else sql.Identifier(c) for c in columns
    )
    conn.execute(
        sql.SQL("insert into {t} ({cols}) select {picked} from {t} where {key} = %(key)s").format(
            t=sql.Identifier("marts", table),
            cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
            picked=picked,
            key=sql.Identifier(key),
        ),
        {**changes, "key": value},
    )


def _d(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _position(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["account_id"],
        row["instrument_id"],
        row["net_quantity"],
        row["average_price"],
        row["cost_basis"],
        row["currency"],
        row["opening_quantity"],
        row["bought_quantity"],
        row["sold_quantity"],
        row["fills"],
    )


def _positions(built: dict[str, Any], day: date) -> list[tuple[Any, ...]]:
    """The positions of A1 and A2 (A3-A5 trade the 13h-1 scenario)."""
    return [
        _position(r)
        for r in built["positions"]
        if r["business_date"] == day and r["account_id"] in ("A1", "A2")
    ]


def test_positions_day_one(built: dict[str, Any]) -> None:
    rows = _positions(built, DAY1)
    assert rows == [
        # A1 SHR: +100 @ 10 -> 100 @ 10; +50 @ 13 -> 150 @ (100*10 + 50*13) / 150 = 11;
        # -30 -> 120 @ 11; the internal transfer -20 -> 100 @ 11 (it moves the position);
        # the busted E6 is ignored. Cost 100 x 11 = 1100. Bought 150, sold 30 + 20.
        ("A1", 1, _d("100"), _d("11"), _d("1100"), "EUR", 0, _d("150"), _d("50"), 4),
        # A2 BND: short 10000 nominal @ 99.50 %: cost -10000 x 99.50 / 100 = -9950.
        ("A2", 2, _d("-10000"), _d("99.5"), _d("-9950"), "EUR", 0, 0, _d("10000"), 1),
        # A2 FUT: 5 @ 200, multiplier 10: cost 5 x 200 x 10 = 10000.
        ("A2", 3, _d("5"), _d("200"), _d("10000"), "EUR", 0, _d("5"), 0, 1),
        # A2 USD share: 10 @ 50.25 = 502.5 USD.
        ("A2", 4, _d("10"), _d("50.25"), _d("502.5"), "USD", 0, _d("10"), 0, 1),
    ]


def test_positions_day_two_from_day_one(built: dict[str, Any]) -> None:
    rows = _positions(built, DAY2)
    assert rows == [
        # A1 SHR: 100 @ 11, sell 150 @ 12 flips: -50, the 50 units beyond open at 12;
        # buy 30 reduces the short: -20, still @ 12. Cost -20 x 12 = -240.
        ("A1", 1, _d("-20"), _d("12"), _d("-240"), "EUR", _d("100"), _d("30"), _d("150"), 2),
        # A2 BND: -10000 + 10000 = 0: closed on the date, kept with no average price.
        ("A2", 2, _d("0"), None, _d("0"), "EUR", _d("-10000"), _d("10000"), 0, 1),
        # A2 FUT: not traded, carried: 5 @ 200.
        ("A2", 3, _d("5"), _d("200"), _d("10000"), "EUR", _d("5"), 0, 0, 0),
        # A2 USD: 10 @ 50.25 + 20 @ 50.26 = 30 @ (502.5 + 1005.2) / 30 = 1507.7 / 30
        # = 50.256666... -> 50.25666667 (8 decimals); cost 30 x 50.25666667 = 1507.7000001
        # -> 1507.700000 (6 decimals).
        ("A2", 4, _d("30"), _d("50.25666667"), _d("1507.7"), "USD", _d("10"), _d("20"), 0, 1),
    ]


def test_daily_trading_lines(built: dict[str, Any]) -> None:
    trades = built["trades"]
    # Not E6 (busted) nor E7 (internal transfer).
    assert [t["execution_id"] for t in trades] == [1, 2, 3, 4, 5, 8, 11, 12, 13, 14, 21, 22, 23,
                                                   25, 26, 61, 62, 63, 64, 65]  # fmt: skip
    notional = {t["execution_id"]: t["notional"] for t in trades}
    # Shares qty x price; the bond nominal x price / 100; the future x its multiplier.
    assert (notional[1], notional[3]) == (Decimal("1000"), Decimal("360"))
    assert (notional[4], notional[5]) == (Decimal("9950"), Decimal("10000"))
    assert notional[14] == Decimal("1005.2")
    assert {t["execution_id"]: t["trader_id"] for t in trades}[5] is None


def test_daily_trading_summary(built: dict[str, Any]) -> None:
    rows = [tuple(r.values()) for r in built["summary"]]
    assert rows == [
        # CHF day 1 (the execution-quality fills of A6, all by T1): 100 + 120 + 80 + 50 + 30
        # = 380 units; 1001 + 1197.6 + 799.2 + 497.5 + 299.1 = 3794.4 CHF.
        (DAY1, "CHF", 5, _d("380"), _d("3794.4"), 1, 1, 1),
        # EUR day 1: E1-E5: 100 + 50 + 30 + 10000 + 5 = 10185 units;
        # 1000 + 650 + 360 + 9950 + 10000 = 21960 EUR; 3 symbols, 2 accounts,
        # traders T1 and T2 (E5 was an algo's).
        (DAY1, "EUR", 5, _d("10185"), _d("21960"), 3, 2, 2),
        # USD day 1: E8 (10 x 50.25 = 502.5), N1 (600 x 100 = 60000), N2 (300 x 101 = 30300),
        # N3 (2 x 5 x multiplier 100 = 1000); N4 busted. 10 + 600 + 300 + 2 = 912 units,
        # 91802.5 USD; USD share, NMS share, option; A2-A5; T2 and T1 (N3 an algo's).
        (DAY1, "USD", 4, _d("912"), _d("91802.5"), 3, 4, 2),
        # EUR day 2: F1-F3: 150 + 30 + 10000 = 10180; 1800 + 330 + 10000 = 12130;
        # SHR and BND; A1 and A2; T1 and T2.
        (DAY2, "EUR", 3, _d("10180"), _d("12130"), 2, 2, 2),
        # USD day 2: F4 (20 x 50.26 = 1005.2), N5 (500 x 102 = 51000), N6 (600 x 102.50
        # = 61500): 1120 units, 113505.2 USD; USD share and NMS share; A2-A4; T2 and T1.
        (DAY2, "USD", 3, _d("1120"), _d("113505.2"), 2, 3, 2),
    ]


def test_rebuilding_a_day_is_idempotent(built: dict[str, Any]) -> None:
    """Day 2 built twice and day 1 rebuilt after it: every row as before."""
    assert built["positions_again"] == built["positions"]
    assert built["summary_again"] == built["summary"]


def _large(row: dict[str, Any], *names: str) -> tuple[Any, ...]:
    return tuple(row[n] for n in names)


DAILY_COLUMNS = (
    "business_date", "discretion_group_id", "large_trader_id", "daily_shares", "daily_value_usd",
    "month_to_date_shares", "month_to_date_value_usd", "pct_daily_shares", "pct_daily_value",
    "pct_monthly_shares", "pct_monthly_value", "alert_level", "unidentified_large_trader",
)  # fmt: skip


def test_large_trader_daily(built: dict[str, Any]) -> None:
    rows = [_large(r, *DAILY_COLUMNS) for r in built["large_daily"]]
    assert rows == [
        # Day 1, A5: an option, no shares; 1000 USD = 1.00 % / 0.40 %: NONE.
        (DAY1, "A5", "12345678-0001", _d("0"), _d("1000"), _d("0"), _d("1000"),
         _d("0.00"), _d("1.00"), _d("0.00"), _d("0.40"), "NONE", False),
        # Day 1, G1 = A3 + A4: N1 600 + N2 300 = 900 shares (90.00 % of 1,000);
        # 60000 + 30300 = 90300 USD (90.30 % of 100,000); month to date the same: 900 / 3000
        # = 30.00 %, 90300 / 250000 = 36.12 %. Highest 90.30 >= 80: WARNING.
        (DAY1, "G1", None, _d("900"), _d("90300"), _d("900"), _d("90300"),
         _d("90.00"), _d("90.30"), _d("30.00"), _d("36.12"), "WARNING", False),
        # Day 2, A5: nothing traded, still listed for its month to date.
        (DAY2, "A5", "12345678-0001", _d("0"), _d("0"), _d("0"), _d("1000"),
         _d("0.00"), _d("0.00"), _d("0.00"), _d("0.40"), "NONE", False),
        # Day 2, G1: N5 500 + N6 600 = 1100 shares (110.00 %); 51000 + 61500 = 112500 USD
        # (112.50 %); month 2000 shares (66.67 %), 202800 USD (81.12 %). THRESHOLD, and G1
        # has no LTID (A4's blank one is none): an unidentified large trader.
        (DAY2, "G1", None, _d("1100"), _d("112500"), _d("2000"), _d("202800"),
         _d("110.00"), _d("112.50"), _d("66.67"), _d("81.12"), "THRESHOLD", True),
    ]  # fmt: skip


def test_large_trader_monthly(built: dict[str, Any]) -> None:
    names = ("month_start", "discretion_group_id", "trading_days", "month_shares",
             "month_value_usd", "pct_monthly_shares", "pct_monthly_value", "max_pct_daily",
             "days_at_daily_threshold", "alert_level", "unidentified_large_trader")  # fmt: skip
    rows = [_large(r, *names) for r in built["large_monthly"]]
    april = date(2026, 4, 1)
    assert rows == [
        # A5: 1 day, 1000 USD: 0.40 %; its daily high 1.00 %.
        (april, "A5", 1, _d("0"), _d("1000"), _d("0.00"), _d("0.40"), _d("1.00"), 0,
         "NONE", False),
        # G1: 2 days; 2000 shares (66.67 %), 202800 USD (81.12 %); daily highs 90.30 and
        # 112.50: one day at a daily threshold; THRESHOLD without an LTID.
        (april, "G1", 2, _d("2000"), _d("202800"), _d("66.67"), _d("81.12"), _d("112.50"), 1,
         "THRESHOLD", True),
    ]  # fmt: skip


def test_a_day_after_a_day_never_built_is_refused(built: dict[str, Any]) -> None:
    assert (
        "positions of 2026-04-03 were never built, but it has fills: build every date from"
        " 2026-04-03 in order (backfill) before 2026-04-06"
    ) in built["gap"]
    assert built["positions_after_gap"] == built["positions"]  # nothing of the 6th written


EQ_COLUMNS = (
    "order_category", "size_band", "covered_orders", "covered_quantity", "executed_orders",
    "executed_quantity", "measured_fills", "avg_effective_spread", "avg_quoted_spread",
    "effective_over_quoted_pct", "avg_time_to_execution_ms", "orders_price_improved",
    "pct_orders_price_improved", "avg_price_improvement", "quantity_improved",
    "quantity_at_quote", "quantity_outside_quote",
)  # fmt: skip


def test_execution_quality_monthly(built: dict[str, Any]) -> None:
    rows = [_large(r, *EQ_COLUMNS) for r in built["eq"]]
    assert rows == [
        # O1 market buy 100, receipt Q1 (mid 10.00, spread 0.04), notional 100 x 10.00 = 1000.
        # Fill 10.01: effective 2 x (10.01 - 10.00) = 0.02; E/Q 0.02 / 0.04 = 50 %; 500 ms;
        # improvement 10.02 - 10.01 = 0.01 per share: improved.
        ("MARKET", "1000-5000", 1, _d("100"), 1, _d("100"), 1, _d("0.02"), _d("0.04"),
         _d("50.00"), _d("500.000"), 1, _d("100.00"), _d("0.01"), _d("100"), 0, 0),
        # O2 sell limit 9.98 (<= bid 9.98: marketable), 200 x 10.00 = 2000. Fills 120 @ 9.98
        # (effective 2 x (10.00 - 9.98) = 0.04, improvement 0) and 80 @ 9.99 (0.02, 0.01):
        # effective (120 x 0.04 + 80 x 0.02) / 200 = 0.032, E/Q 80 %; time (120 x 1000
        # + 80 x 2000) / 200 = 1400 ms; order improvement (80 x 0.01) / 200 = 0.004 > 0.
        ("MARKETABLE_LIMIT", "1000-5000", 1, _d("200"), 1, _d("200"), 2, _d("0.032"),
         _d("0.04"), _d("80.00"), _d("1400.000"), 1, _d("100.00"), _d("0.004"), _d("200"), 0,
         0),
        # O4 buy limit 9.00 x 10 (notional 10 x 10.00 = 100): never filled.
        ("NON_MARKETABLE_LIMIT", "0-250", 1, _d("10"), 0, 0, 0, None, None, None, None, 0,
         None, None, 0, 0, 0),
        # O3 buy limit 10.00 x 50 (< offer 10.01 at receipt; 500): executable at Q4 (offer 9.94)
        # at 10:06:00, filled 50 @ 9.95 at 10:06:30: effective 2 x (9.95 - 9.92) = 0.06, E/Q
        # 150 %, 30,000 ms; improvement 9.94 - 9.95 = -0.01: outside the quote.
        ("NON_MARKETABLE_LIMIT", "250-1000", 1, _d("50"), 1, _d("50"), 1, _d("0.06"),
         _d("0.04"), _d("150.00"), _d("30000.000"), 0, _d("0.00"), None, 0, 0, _d("50")),
        # O5 market sell at 09:59, before any quote: counted (and its fill), never measured.
        ("NO_QUOTE", "NO_QUOTE", 1, _d("30"), 1, _d("30"), 0, None, None, None, None, 0, None,
         None, 0, 0, 0),
    ]  # fmt: skip


def test_execution_quality_quarterly(built: dict[str, Any]) -> None:
    """The quarter is computed from the daily facts of all its months, not from the months'
    rounded averages; a category seen in one month only is the same as in that month."""
    rows = {
        (r["order_category"], r["size_band"]): _large(r, *EQ_COLUMNS) for r in built["eq_quarter"]
    }
    assert {r["quarter_start"] for r in built["eq_quarter"]} == {DAY1}  # Q2 starts 1 April
    month = {(r["order_category"], r["size_band"]): _large(r, *EQ_COLUMNS) for r in built["eq"]}
    assert rows.keys() == month.keys()
    for key in rows.keys() - {("MARKET", "1000-5000")}:
        assert rows[key] == month[key], key
    # MARKET 1000-5000: O1 (April: 100 @ 10.01, effective 0.02, 500 ms, improved by 0.01) and
    # its May copy (100 @ 10.03: effective 2 x (10.03 - 10.00) = 0.06, 1,500 ms, improvement
    # 10.02 - 10.03 = -0.01: outside the quote). Effective (100 x 0.02 + 100 x 0.06) / 200 =
    # 0.04, quoted 0.04, E/Q 100 %; time (100 x 500 + 100 x 1500) / 200 = 1,000 ms; one of two
    # orders improved: 50 %, by 0.01 a share on 100 shares.
    assert rows[("MARKET", "1000-5000")] == (
        "MARKET", "1000-5000", 2, _d("200"), 2, _d("200"), 2, _d("0.04"), _d("0.04"),
        _d("100.00"), _d("1000.000"), 1, _d("50.00"), _d("0.01"), _d("100"), 0, _d("100"),
    )  # fmt: skip


def test_execution_quality_realized_spreads(built: dict[str, Any]) -> None:
    rows = [tuple(r.values()) for r in built["eq_realized"]]
    # Horizons 50 ms, 1 s and 15 s after each fill still see Q1 or Q2 (mid 10.00); 1 min and
    # 5 min see Q3 (mid 10.07), except O3's fill at 10:06:30, after the last quote Q4 (9.92).
    assert rows == [
        # O1 buy @ 10.01: 2 x (10.01 - 10.00) = 0.02; then 2 x (10.01 - 10.07) = -0.12.
        ("MARKET", "1000-5000", 50, _d("100"), _d("0.02")),
        ("MARKET", "1000-5000", 1000, _d("100"), _d("0.02")),
        ("MARKET", "1000-5000", 15000, _d("100"), _d("0.02")),
        ("MARKET", "1000-5000", 60000, _d("100"), _d("-0.12")),
        ("MARKET", "1000-5000", 300000, _d("100"), _d("-0.12")),
        # O2 sells 120 @ 9.98 and 80 @ 9.99: (120 x 0.04 + 80 x 0.02) / 200 = 0.032; then
        # 2 x (10.07 - 9.98) = 0.18 and 2 x (10.07 - 9.99) = 0.16: (21.6 + 12.8) / 200 = 0.172.
        ("MARKETABLE_LIMIT", "1000-5000", 50, _d("200"), _d("0.032")),
        ("MARKETABLE_LIMIT", "1000-5000", 1000, _d("200"), _d("0.032")),
        ("MARKETABLE_LIMIT", "1000-5000", 15000, _d("200"), _d("0.032")),
        ("MARKETABLE_LIMIT", "1000-5000", 60000, _d("200"), _d("0.172")),
        ("MARKETABLE_LIMIT", "1000-5000", 300000, _d("200"), _d("0.172")),
        # O3 buy @ 9.95 after the day's last quote (9.92): 0.06 at every horizon.
        ("NON_MARKETABLE_LIMIT", "250-1000", 50, _d("50"), _d("0.06")),
        ("NON_MARKETABLE_LIMIT", "250-1000", 1000, _d("50"), _d("0.06")),
        ("NON_MARKETABLE_LIMIT", "250-1000", 15000, _d("50"), _d("0.06")),
        ("NON_MARKETABLE_LIMIT", "250-1000", 60000, _d("50"), _d("0.06")),
        ("NON_MARKETABLE_LIMIT", "250-1000", 300000, _d("50"), _d("0.06")),
    ]


def test_risk_limits(built: dict[str, Any]) -> None:
    rows = [tuple(r.values()) for r in built["risk"]]
    assert rows == [
        # A1 day 1: trades E1 1000 + E2 650 + E3 360 = 2010 EUR (not the internal transfer,
        # not the busted fill) against 2,000: 100.50 %, a breach. Largest order 100 units.
        (DAY1, "A1", "FIRM-QTY", "MAX_ORDER_QUANTITY", None, _d("5000"), _d("100"),
         _d("2.00"), "OK"),
        (DAY1, "A1", "R-A1-DAY", "MAX_DAILY_NOTIONAL", "EUR", _d("2000"), _d("2010.00"),
         _d("100.50"), "BREACH"),
        # A2 day 1: the bond order is 10,000 nominal (200 % of 5,000); the largest order value
        # is the future's 10,000 EUR = 10000 / 0.90 = 11111.11 USD (111.11 %); gross position
        # |-9950| + 10000 + 502.5 USD x 0.90 = 20402.25 EUR (136.015 -> 136.02 %).
        (DAY1, "A2", "FIRM-QTY", "MAX_ORDER_QUANTITY", None, _d("5000"), _d("10000"),
         _d("200.00"), "BREACH"),
        (DAY1, "A2", "R-A2-ORD", "MAX_ORDER_NOTIONAL", "USD", _d("10000"), _d("11111.11"),
         _d("111.11"), "BREACH"),
        (DAY1, "A2", "R-A2-POS", "MAX_POSITION_NOTIONAL", "EUR", _d("15000"), _d("20402.25"),
         _d("136.02"), "BREACH"),
        # A1 day 2: 1800 + 330 = 2130 EUR against the new version, 2,500: 85.20 %, a warning;
        # the limit starting on the 3rd is not in force yet.
        (DAY2, "A1", "FIRM-QTY", "MAX_ORDER_QUANTITY", None, _d("5000"), _d("150"),
         _d("3.00"), "OK"),
        (DAY2, "A1", "R-A1-DAY", "MAX_DAILY_NOTIONAL", "EUR", _d("2500"), _d("2130.00"),
         _d("85.20"), "WARNING"),
        # A2 day 2: the bond order 10,000 EUR = 10000 / 0.80 = 12500 USD (125 %); gross
        # position 0 + 10000 + 1507.7 USD x 0.80 = 11206.16 EUR (74.71 %).
        (DAY2, "A2", "FIRM-QTY", "MAX_ORDER_QUANTITY", None, _d("5000"), _d("10000"),
         _d("200.00"), "BREACH"),
        (DAY2, "A2", "R-A2-ORD", "MAX_ORDER_NOTIONAL", "USD", _d("10000"), _d("12500.00"),
         _d("125.00"), "BREACH"),
        (DAY2, "A2", "R-A2-POS", "MAX_POSITION_NOTIONAL", "EUR", _d("15000"), _d("11206.16"),
         _d("74.71"), "OK"),
    ]  # fmt: skip
