"""The rule gate against a real PostgreSQL: scope, candidates, replacement and speed.

A scratch warehouse holds a hand-made `intermediate.int_mifir__transactions` with the record
contract's columns plus `reason_code` and `updated_at`. The run window is 2026-03-02 (one UTC
day).
"""

from __future__ import annotations

import time as clock
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from psycopg import sql

from regreport.gate import GateResult, run_gate
from regreport.rules import CATALOGUE

if TYPE_CHECKING:
    from collections.abc import Iterator

    from regreport.config import Settings

pytestmark = pytest.mark.integration

DB = "h4_gate_wh"
FIRM_LEI = "529900T8BM49AURSDO55"
START, END = date(2026, 3, 2), date(2026, 3, 3)
IN_WINDOW = datetime(2026, 3, 2, 10, 15, tzinfo=UTC)
BEFORE = datetime(2026, 2, 27, 9, 0, tzinfo=UTC)

#: A record that passes every rule (a share in FIRDS, the firm buys from a French client).
VALID: dict[str, Any] = {
    "execution_id": 1,
    "tx_id": "QS1",
    "trading_date": date(2026, 3, 2),
    "trading_datetime": IN_WINDOW,
    "updated_at": IN_WINDOW,
    "reason_code": None,
    "executing_entity_lei": FIRM_LEI,
    "submitting_entity_lei": FIRM_LEI,
    "investment_firm_ind": True,
    "instrument_type": "SHARE",
    "instrument_in_firds": True,
    "buyer_id_type": "LEI",
    "buyer_id": FIRM_LEI,
    "seller_id_type": "PERSON",
    "seller_id": "FR19800101JEAN#DUPON",  # FR + 19800101 + JEAN# + DUPON
    "seller_id_scheme": "CONCAT",
    "seller_first_name": "Jean",
    "seller_surname": "Dupont",
    "seller_birth_date": date(1980, 1, 1),
    "seller_branch_country": "FR",
    "trading_capacity": "DEAL",
    "quantity_type": "UNIT",
    "quantity": Decimal("100"),
    "price_type": "MNTRY",
    "price": Decimal("187.25"),
    "price_currency": "EUR",
    "venue": "XPAR",
    "venue_transaction_id": "XP1",
    "instrument_isin": "US0378331005",
    "executing_person_type": "ALGO",
    "executing_person_id": "ALGO1",
    "investment_decision_type": "ALGO",
    "investment_decision_id": "ALGO1",
    "securities_financing_ind": False,
    "extract_run_id": "R0",
}
#: Columns the rules read that VALID leaves NULL (text unless typed here).
NULL_COLUMNS = {
    "buyer_id_scheme": "text",
    "buyer_first_name": "text",
    "buyer_surname": "text",
    "buyer_birth_date": "date",
    "buyer_branch_country": "text",
    "net_amount": "numeric(18, 2)",
    "strike_price": "numeric(18, 6)",
    "expiry_date": "date",
    "maturity_date": "date",
    "short_selling_ind": "text",
}


def _sql_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint"
    if isinstance(value, Decimal):
        return "numeric(18, 6)"
    if isinstance(value, datetime):
        return "timestamptz"
    if isinstance(value, date):
        return "date"
    return "text"


def _insert(conn: psycopg.Connection[Any], row: dict[str, Any]) -> None:
    conn.execute(
        sql.SQL("insert into intermediate.int_mifir__transactions ({}) values ({})").format(
            sql.SQL(", ").join(map(sql.Identifier, row)),
            sql.SQL(", ").join(map(sql.Placeholder, row)),
        ),
        row,
    )


@pytest.fixture
def conn(pg_services: Settings) -> Iterator[psycopg.Connection[Any]]:
    """A fresh scratch warehouse with an empty intermediate table; dropped afterwards."""
    admin = pg_services.dsn("postgres")
    drop = sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(DB))
    with psycopg.connect(admin, autocommit=True) as setup:
        setup.execute(drop)
        setup.execute(sql.SQL("create database {}").format(sql.Identifier(DB)))
    columns = {name: _sql_type(value) for name, value in VALID.items()}
    columns["reason_code"] = "text"
    columns |= NULL_COLUMNS
    try:
        with psycopg.connect(pg_services.dsn(DB)) as connection:
            connection.execute("create schema intermediate")
            connection.execute(
                sql.SQL("create table intermediate.int_mifir__transactions ({})").format(
                    sql.SQL(", ").join(
                        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind))
                        for name, kind in columns.items()
                    )
                )
            )
            connection.commit()
            yield connection
    finally:
        with psycopg.connect(admin, autocommit=True) as setup:
            setup.execute(drop)


def _violations(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return conn.execute(
        "select execution_id, rule_code, severity, field, trading_date, extract_run_id"
        " from regreport.rule_violations order by execution_id, rule_code"
    ).fetchall()


def _seed(conn: psycopg.Connection[Any]) -> None:
    _insert(conn, VALID)
    # 2: bad ISIN check digit (last digit 5 -> 6).
    _insert(conn, {**VALID, "execution_id": 2, "instrument_isin": "US0378331006"})
    # 3: already blocked by dbt: not a candidate, even though its ISIN is bad too.
    _insert(
        conn,
        {
            **VALID,
            "execution_id": 3,
            "reason_code": "ORDER_NOT_FOUND",
            "instrument_isin": "US0378331006",
        },
    )
    # 4: traded before the window, corrected inside it: in scope, judged on its own trade date
    # (no RR-TS-002), with a wrong submitting-entity LEI check digit (55 -> 56).
    _insert(
        conn,
        {
            **VALID,
            "execution_id": 4,
            "trading_date": BEFORE.date(),
            "trading_datetime": BEFORE,
            "submitting_entity_lei": "529900T8BM49AURSDO56",
        },
    )
    # 5: traded and last updated before the window: out of scope although the ISIN is bad.
    _insert(
        conn,
        {
            **VALID,
            "execution_id": 5,
            "trading_date": BEFORE.date(),
            "trading_datetime": BEFORE,
            "updated_at": BEFORE,
            "instrument_isin": "US0378331006",
        },
    )
    # A bond in the window without its net amount and with a share-style notation.
    _insert(conn, {**VALID, "execution_id": 6, "instrument_type": "BOND"})
    conn.commit()


def test_gate_writes_one_row_per_execution_and_rule(conn, settings) -> None:
    _seed(conn)
    run_gate(conn, START, END, settings.refdata_dir, "R1")
    # Stale rows: execution 1 is in scope (replaced), execution 5 is not (kept).
    conn.execute(
        "insert into regreport.rule_violations"
        " (execution_id, rule_code, severity, field, trading_date, extract_run_id)"
        " values (1, 'RR-LEI-001', 'error', 'buyer_id', '2026-03-02', 'R0'),"
        " (5, 'RR-ISIN-002', 'error', 'instrument_isin', '2026-02-27', 'R0')"
    )
    conn.commit()

    result = run_gate(conn, START, END, settings.refdata_dir, "R2")

    # Scope: 1, 2, 3, 6 traded in the window and 4 updated in it = 5 executions; 3 is blocked
    # by dbt, so 4 candidates are evaluated.
    assert isinstance(result, GateResult)
    assert (result.scope, result.evaluated) == (5, 4)
    # Execution 6 (a bond): no net amount (INS-002), and a UNIT quantity and MNTRY price
    # (INS-004 on two fields, stored once per code with the first field, quantity_type).
    expected = [
        (2, "RR-ISIN-002", "error", "instrument_isin", date(2026, 3, 2), "R2"),
        (4, "RR-LEI-002", "error", "submitting_entity_lei", date(2026, 2, 27), "R2"),
        (5, "RR-ISIN-002", "error", "instrument_isin", date(2026, 2, 27), "R0"),
        (6, "RR-INS-002", "error", "net_amount", date(2026, 3, 2), "R2"),
        (6, "RR-INS-004", "error", "quantity_type", date(2026, 3, 2), "R2"),
    ]
    assert _violations(conn) == expected
    # Written by this run: every expected row but the kept one of execution 5 = 4 rows, on
    # executions 2, 4 and 6, all errors.
    assert result.violations == 4
    assert result.blocked == 3
    assert result.by_code == {"RR-INS-002": 1, "RR-INS-004": 1, "RR-ISIN-002": 1, "RR-LEI-002": 1}
    assert result.by_severity == {"error": 4}
    assert set(result.by_code) <= set(CATALOGUE)
    assert "Dupont" not in result.summary()


def test_gate_counts_a_matched_principal_violation_once(conn, settings) -> None:
    # Both records of a matched-principal fill (client and market side) carry the same bad
    # ISIN: one violation row for the execution, not a duplicate key.
    for tx_id in ("QS7", "QS7M"):
        _insert(
            conn,
            {**VALID, "execution_id": 7, "tx_id": tx_id, "instrument_isin": "US0378331006"},
        )
    conn.commit()
    result = run_gate(conn, START, END, settings.refdata_dir, "R1")
    assert result.evaluated == 2
    assert result.by_code == {"RR-ISIN-002": 1}
    assert result.blocked == 1
    assert _violations(conn) == [
        (7, "RR-ISIN-002", "error", "instrument_isin", date(2026, 3, 2), "R1")
    ]


def test_gate_is_idempotent_and_forgets_fixed_records(conn, settings) -> None:
    _seed(conn)
    first = run_gate(conn, START, END, settings.refdata_dir, "R1")
    assert run_gate(conn, START, END, settings.refdata_dir, "R1") == first
    conn.execute(
        "update intermediate.int_mifir__transactions set instrument_isin = 'US0378331005'"
        " where execution_id = 2"
    )
    conn.commit()
    again = run_gate(conn, START, END, settings.refdata_dir, "R1")
    # Execution 2 is fixed: one violation fewer than the first run's.
    assert again.violations == first.violations - 1
    assert 2 not in {row[0] for row in _violations(conn)}


def test_gate_tolerates_reason_codes_array_and_no_updated_at(conn, settings) -> None:
    conn.execute("alter table intermediate.int_mifir__transactions drop column updated_at")
    conn.execute("alter table intermediate.int_mifir__transactions drop column reason_code")
    conn.execute("alter table intermediate.int_mifir__transactions add column reason_codes text[]")
    conn.commit()
    _insert(conn, {**{k: v for k, v in VALID.items() if k not in ("updated_at", "reason_code")}})
    row2 = {k: v for k, v in VALID.items() if k not in ("updated_at", "reason_code")}
    _insert(conn, {**row2, "execution_id": 2, "reason_codes": ["VENUE_UNKNOWN"]})
    _insert(conn, {**row2, "execution_id": 3, "reason_codes": [], "venue": "ZZZZ"})
    conn.commit()
    result = run_gate(conn, START, END, settings.refdata_dir, "R1")
    # Scope 1, 2, 3 (all traded in the window); 2 carries a reason code, so 1 and 3 evaluated.
    assert (result.scope, result.evaluated) == (3, 2)
    assert [row[:2] for row in _violations(conn)] == [(3, "RR-MIC-001")]


def test_gate_rejects_naive_window(conn, settings) -> None:
    with pytest.raises(ValueError, match="aware"):
        run_gate(conn, datetime(2026, 3, 2), END, settings.refdata_dir, "R1")  # noqa: DTZ001


def test_gate_handles_100k_rows_in_seconds(conn, settings) -> None:
    _insert(conn, VALID)
    # 99,999 copies of the valid row plus every 1000th with a bad ISIN: 100,000 rows in all.
    names = [
        row[0]
        for row in conn.execute(
            "select column_name from information_schema.columns"
            " where table_name = 'int_mifir__transactions' order by ordinal_position"
        )
    ]
    generated = {
        "execution_id": sql.SQL("n"),
        "tx_id": sql.SQL("'QS' || n"),
        "instrument_isin": sql.SQL(
            "case when n % 1000 = 0 then 'US0378331006' else t.instrument_isin end"
        ),
    }
    conn.execute(
        sql.SQL(
            "insert into intermediate.int_mifir__transactions ({}) select {}"
            " from intermediate.int_mifir__transactions t, generate_series(2, 100000) n"
            " where t.execution_id = 1"
        ).format(
            sql.SQL(", ").join(map(sql.Identifier, names)),
            sql.SQL(", ").join(
                generated.get(name, sql.SQL("t.{}").format(sql.Identifier(name))) for name in names
            ),
        )
    )
    conn.commit()
    began = clock.perf_counter()
    result = run_gate(conn, START, END, settings.refdata_dir, "R1")
    elapsed = clock.perf_counter() - began
    # Multiples of 1000 in 2..100000: 100000 // 1000 = 100 bad ISINs.
    assert (result.evaluated, result.violations) == (100_000, 100)
    assert elapsed < 60, f"100k rows took {elapsed:.1f}s"
    print(f"rule gate: 100k rows in {elapsed:.1f}s")  # noqa: T201 - shown with -s


@pytest.mark.unit
def test_gate_ddl_matches_the_dbt_hook() -> None:
    """dbt creates the table on run start when missing (report models read it), the admin's
    setup through the gate's DDL: both table definitions must stay the same."""
    import re
    from pathlib import Path

    from regreport.gate import DDL

    macro = Path(__file__).resolve().parents[3] / "dbt_project" / "macros" / "rule_violations.sql"

    def table(sql_text: str) -> str:
        found = re.search(
            r"table (?:if not exists )?regreport\.rule_violations (\(.*?\));", sql_text, re.S
        )
        assert found is not None
        return " ".join(found.group(1).split())

    assert table(macro.read_text()) == table(DDL)
    # The hook must not need CREATE on the schema when the table is there (transform role).
    assert "if to_regclass('regreport.rule_violations') is null" in macro.read_text()
