"""The MiFIR dbt models on a tiny hand-made QSuite source, against hand-computed rows.

One module-scoped scenario runs the real chain (source -> `extract_period` -> `dbt build`) on
its own pair of databases and keeps a snapshot of the warehouse after each step:

1. build of 2026-03-10;
2. the same build again (idempotence);
3. build of the previous day, 2026-03-09 (must not touch 2026-03-10);
4. the source fixes the missing ISIN, then re-extract and rebuild of 2026-03-10.

Every expected value below is derived by hand from the source rows inserted in `_SOURCE_SQL`.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from regreport.extract import extract_period
from regreport.identifiers import (
    concat_national_id,
    is_valid_isin,
    is_valid_lei,
    spanish_dni,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from regreport.config import Settings

REPO = Path(__file__).resolve().parents[2]
DBT_DIR = REPO / "dbt_project"
DBT = REPO / ".venv" / "bin" / "dbt"
SCHEMA_SQL = REPO / "plugins" / "regreport" / "sql" / "qsuite_schema.sql"

SRC_DB = "regreport_dbt_src"
WH_DB = "regreport_dbt_wh"

# Identifiers of the tiny source; the check digits are asserted below, not trusted.
FIRM_LEI = "QSUITEFIRM0000000017"
CLIENT_LEI = "CLIENTFUND0000000092"
CCP_LEI = "CCPCLEARING000000084"
# RTS 22 Art. 6 CONCAT of Marie Dupont, FR, born 1980-05-17: FR + 19800517 + MARIE + DUPON.
MARIE_CONCAT = "FR19800517MARIEDUPON"
# Spanish DNI 12345678: 12345678 mod 23 = 14 -> control letter 'Z'; NIDN = ES + DNI.
TRADER_NIDN = "ES12345678Z"
SAP = "DE0007164600"
TOTAL = "FR0000120271"
FIXED_ISIN = "US0378331005"

DAY = date(2026, 3, 10)
PREV_DAY = date(2026, 3, 9)

_SOURCE_SQL = f"""
insert into qsuite.firm values (1, '{FIRM_LEI}', 'QSuite Securities AG', 'DE', true);

insert into qsuite.venues values
    ('XCCP', 'XCCP', 'Cleared Exchange', 'DE', '{CCP_LEI}'),
    ('XMTF', 'XMTF', 'Uncleared MTF', 'FR', null);

insert into qsuite.accounts
    (account_id, account_type, is_house, lei, legal_name, first_name, surname, birth_date,
     nationality, national_id, national_id_type, branch_country, opened_at)
values
    ('ACC-LEGAL', 'LEGAL', false, '{CLIENT_LEI}', 'Client Fund SA',
     null, null, null, null, null, null, 'LU', '2020-01-01T00:00:00Z'),
    ('ACC-NAT', 'NATURAL', false, null, null,
     'Marie', 'Dupont', '1980-05-17', 'FR', '{MARIE_CONCAT}', 'CONCAT', 'BE',
     '2020-01-01T00:00:00Z'),
    ('ACC-HOUSE', 'LEGAL', true, '{FIRM_LEI}', 'QSuite Securities AG',
     null, null, null, null, null, null, 'DE', '2020-01-01T00:00:00Z');

insert into qsuite.traders values
    ('TR1', 'Pablo', 'Garcia', '1975-01-02', 'ES', '{TRADER_NIDN}', 'NIDN', 'DE');

insert into qsuite.algos values ('VWAP01', 'VWAP v1');

insert into qsuite.instruments values
    (1, '{SAP}', 'ESVUFR', 'SAP SE', 'EUR', 'XCCP', 'EQUITY', 0.01, 120),
    (2, '{TOTAL}', 'ESVUFR', 'TotalEnergies SE', 'EUR', 'XMTF', 'EQUITY', 0.01, 60),
    (3, null, 'ESVUFR', 'Newco Inc', 'USD', 'XCCP', 'EQUITY', 0.01, 10);

insert into qsuite.orders
    (order_id, account_id, instrument_id, trader_id, algo_id, side, order_type, limit_price,
     quantity, time_in_force, status, created_at, updated_at)
values
    -- client BUY via algo
    (101, 'ACC-LEGAL', 1, null, 'VWAP01', 'BUY', 'MARKET', null, 100, 'DAY', 'FILLED',
     '2026-03-10T08:00:00Z', '2026-03-10T09:30:00Z'),
    -- natural-person SELL by a trader; the order is from the day before
    (102, 'ACC-NAT', 2, 'TR1', null, 'SELL', 'LIMIT', 61.2, 25.5, 'GTC', 'FILLED',
     '2026-03-09T15:00:00Z', '2026-03-10T11:15:30Z'),
    -- house DEAL BUY by a trader
    (103, 'ACC-HOUSE', 1, 'TR1', null, 'BUY', 'LIMIT', 120, 10, 'DAY', 'FILLED',
     '2026-03-10T13:00:00Z', '2026-03-10T14:00:00Z'),
    -- client BUY of the instrument without ISIN
    (104, 'ACC-LEGAL', 3, null, 'VWAP01', 'BUY', 'MARKET', null, 7, 'DAY', 'FILLED',
     '2026-03-10T14:30:00Z', '2026-03-10T15:00:00Z'),
    -- house SELL via algo, with a trader too (the algo executes); fills around midnight
    (105, 'ACC-HOUSE', 2, 'TR1', 'VWAP01', 'SELL', 'LIMIT', 60, 9, 'GTC', 'FILLED',
     '2026-03-09T10:00:00Z', '2026-03-11T00:00:00Z');

insert into qsuite.executions values
    (1001, 101, '2026-03-10T09:30:00.123456Z', 100, 123.45, 'EUR', 'XCCP', 'abc123', 'AOTC'),
    (1002, 102, '2026-03-10T12:15:30+01:00', 25.5, 61.2, 'EUR', 'XMTF', null, 'AOTC'),
    (1003, 103, '2026-03-10T14:00:00Z', 10, 120, 'EUR', 'XCCP', 'XCCP0001', 'DEAL'),
    (1004, 104, '2026-03-10T15:00:00Z', 7, 10.5, 'USD', 'XCCP', null, 'AOTC'),
    (1005, 105, '2026-03-09T23:59:59Z', 3, 60, 'EUR', 'XMTF', null, 'DEAL'),
    (1006, 105, '2026-03-11T00:59:59.999999+01:00', 3, 60.123456, 'EUR', 'XMTF', null, 'DEAL'),
    (1007, 105, '2026-03-11T01:00:00+01:00', 3, 60.5, 'EUR', 'XMTF', null, 'DEAL');
"""

# ----- hand-computed expectations ---------------------------------------------------------

_NO_BUYER_DETAILS = {
    "buyer_id_scheme": None,
    "buyer_first_name": None,
    "buyer_surname": None,
    "buyer_birth_date": None,
}
_NO_SELLER_DETAILS = {
    "seller_id_scheme": None,
    "seller_first_name": None,
    "seller_surname": None,
    "seller_birth_date": None,
}
_FIRM = {
    "executing_entity_lei": FIRM_LEI,
    "investment_firm_ind": True,
    "submitting_entity_lei": FIRM_LEI,
    "transmission_ind": False,
    "securities_financing_ind": False,
}
_ALGO_EXECUTES = {
    "executing_person_type": "ALGO",
    "executing_person_id": "VWAP01",
    "executing_person_scheme": None,
    "executing_person_branch_country": None,
}
_TRADER_EXECUTES = {
    "executing_person_type": "PERSON",
    "executing_person_id": TRADER_NIDN,
    "executing_person_scheme": "NIDN",
    "executing_person_branch_country": "DE",
}
_CLIENT_DECIDES = {
    "investment_decision_type": None,
    "investment_decision_id": None,
    "investment_decision_scheme": None,
    "investment_decision_branch_country": None,
}

# 1001: LEGAL client buys via the algo on the CCP venue: buyer = client LEI with the client's
# branch (LU), seller = the venue's CCP LEI; the algo executes; the client decides.
ROW_1001 = {
    "tx_id": "QS1001",
    "execution_id": 1001,
    "trading_date": DAY,
    **_FIRM,
    "buyer_id_type": "LEI",
    "buyer_id": CLIENT_LEI,
    **_NO_BUYER_DETAILS,
    "buyer_branch_country": "LU",
    "seller_id_type": "LEI",
    "seller_id": CCP_LEI,
    **_NO_SELLER_DETAILS,
    "seller_branch_country": None,
    "trading_datetime": datetime(2026, 3, 10, 9, 30, 0, 123456, tzinfo=UTC),
    "trading_capacity": "AOTC",
    "quantity": Decimal("100.0000"),
    "price": Decimal("123.450000"),
    "price_currency": "EUR",
    "venue": "XCCP",
    "venue_transaction_id": "ABC123",
    "instrument_isin": SAP,
    **_ALGO_EXECUTES,
    **_CLIENT_DECIDES,
    "extract_run_id": "R1",
}

# 1002: natural person sells via a trader on the venue without CCP: seller = PERSON with
# CONCAT, names, birth date and the account's branch (BE, not the nationality FR); buyer = the
# venue's MIC; the trader executes (NIDN, branch DE). 12:15:30+01:00 is 11:15:30Z.
ROW_1002 = {
    "tx_id": "QS1002",
    "execution_id": 1002,
    "trading_date": DAY,
    **_FIRM,
    "buyer_id_type": "MIC",
    "buyer_id": "XMTF",
    **_NO_BUYER_DETAILS,
    "buyer_branch_country": None,
    "seller_id_type": "PERSON",
    "seller_id": MARIE_CONCAT,
    "seller_id_scheme": "CONCAT",
    "seller_first_name": "Marie",
    "seller_surname": "Dupont",
    "seller_birth_date": date(1980, 5, 17),
    "seller_branch_country": "BE",
    "trading_datetime": datetime(2026, 3, 10, 11, 15, 30, tzinfo=UTC),
    "trading_capacity": "AOTC",
    "quantity": Decimal("25.5000"),
    "price": Decimal("61.200000"),
    "price_currency": "EUR",
    "venue": "XMTF",
    "venue_transaction_id": None,
    "instrument_isin": TOTAL,
    **_TRADER_EXECUTES,
    **_CLIENT_DECIDES,
    "extract_run_id": "R1",
}

# 1003: house account deals on own account: buyer = the firm's LEI, no branch (field 8 is for
# clients only, although the house account row has branch DE); seller = CCP LEI; the trader
# executes and decides (field 57/58 filled).
ROW_1003 = {
    "tx_id": "QS1003",
    "execution_id": 1003,
    "trading_date": DAY,
    **_FIRM,
    "buyer_id_type": "LEI",
    "buyer_id": FIRM_LEI,
    **_NO_BUYER_DETAILS,
    "buyer_branch_country": None,
    "seller_id_type": "LEI",
    "seller_id": CCP_LEI,
    **_NO_SELLER_DETAILS,
    "seller_branch_country": None,
    "trading_datetime": datetime(2026, 3, 10, 14, 0, 0, tzinfo=UTC),
    "trading_capacity": "DEAL",
    "quantity": Decimal("10.0000"),
    "price": Decimal("120.000000"),
    "price_currency": "EUR",
    "venue": "XCCP",
    "venue_transaction_id": "XCCP0001",
    "instrument_isin": SAP,
    **_TRADER_EXECUTES,
    "investment_decision_type": "PERSON",
    "investment_decision_id": TRADER_NIDN,
    "investment_decision_scheme": "NIDN",
    "investment_decision_branch_country": "DE",
    "extract_run_id": "R1",
}

# 1004 after the ISIN fix: LEGAL client buys via algo on the CCP venue, USD.
ROW_1004_FIXED = {
    "tx_id": "QS1004",
    "execution_id": 1004,
    "trading_date": DAY,
    **_FIRM,
    "buyer_id_type": "LEI",
    "buyer_id": CLIENT_LEI,
    **_NO_BUYER_DETAILS,
    "buyer_branch_country": "LU",
    "seller_id_type": "LEI",
    "seller_id": CCP_LEI,
    **_NO_SELLER_DETAILS,
    "seller_branch_country": None,
    "trading_datetime": datetime(2026, 3, 10, 15, 0, 0, tzinfo=UTC),
    "trading_capacity": "AOTC",
    "quantity": Decimal("7.0000"),
    "price": Decimal("10.500000"),
    "price_currency": "USD",
    "venue": "XCCP",
    "venue_transaction_id": None,
    "instrument_isin": FIXED_ISIN,
    **_ALGO_EXECUTES,
    **_CLIENT_DECIDES,
    "extract_run_id": "R2",
}


def _house_algo_sell(execution_id: int, at: datetime, trading_date: date, price: str) -> dict:
    # House SELL via algo on the venue without CCP: seller = firm LEI, buyer = MIC; the algo
    # both executes and decides (the order also names a trader; the algo takes precedence).
    return {
        "tx_id": f"QS{execution_id}",
        "execution_id": execution_id,
        "trading_date": trading_date,
        **_FIRM,
        "buyer_id_type": "MIC",
        "buyer_id": "XMTF",
        **_NO_BUYER_DETAILS,
        "buyer_branch_country": None,
        "seller_id_type": "LEI",
        "seller_id": FIRM_LEI,
        **_NO_SELLER_DETAILS,
        "seller_branch_country": None,
        "trading_datetime": at,
        "trading_capacity": "DEAL",
        "quantity": Decimal("3.0000"),
        "price": Decimal(price),
        "price_currency": "EUR",
        "venue": "XMTF",
        "venue_transaction_id": None,
        "instrument_isin": TOTAL,
        **_ALGO_EXECUTES,
        "investment_decision_type": "ALGO",
        "investment_decision_id": "VWAP01",
        "investment_decision_scheme": None,
        "investment_decision_branch_country": None,
    }


# 1006: 00:59:59.999999+01:00 on the 11th is 23:59:59.999999Z on the 10th: inside the period.
ROW_1006 = {
    **_house_algo_sell(
        1006, datetime(2026, 3, 10, 23, 59, 59, 999999, tzinfo=UTC), DAY, "60.123456"
    ),
    "extract_run_id": "R1",
}
# 1005: 23:59:59Z on the 9th, reported only by the 9th's run.
ROW_1005 = {
    **_house_algo_sell(1005, datetime(2026, 3, 9, 23, 59, 59, tzinfo=UTC), PREV_DAY, "60.000000"),
    "extract_run_id": "R0",
}

QUARANTINE_1004 = {
    "execution_id": 1004,
    "order_id": 104,
    "trading_date": DAY,
    "executed_at": datetime(2026, 3, 10, 15, 0, 0, tzinfo=UTC),
    "reason_code": "INSTRUMENT_ISIN_MISSING",
    "reason_text": "The instrument has no ISIN in the firm's reference data",
    "extract_run_id": "R1",
}

# (execution_id, trading_date, quantity, price, currency, notional = quantity x price)
FCT_DAY = [
    (1001, DAY, Decimal("100"), Decimal("123.45"), "EUR", Decimal("12345")),  # 100 x 123.45
    (1002, DAY, Decimal("25.5"), Decimal("61.2"), "EUR", Decimal("1560.6")),  # 1530 + 30.6
    (1003, DAY, Decimal("10"), Decimal("120"), "EUR", Decimal("1200")),
    (1004, DAY, Decimal("7"), Decimal("10.5"), "USD", Decimal("73.5")),
    (1006, DAY, Decimal("3"), Decimal("60.123456"), "EUR", Decimal("180.370368")),
]
FCT_1005 = (1005, PREV_DAY, Decimal("3"), Decimal("60"), "EUR", Decimal("180"))


# ----- the scenario -----------------------------------------------------------------------


@dataclass
class Snapshot:
    """Warehouse state after one step of the scenario."""

    report: list[dict[str, Any]]
    quarantine: list[dict[str, Any]]
    fct: list[tuple]
    extract_rows: dict[str, int]


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _recreate(admin_dsn: str, *names: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        for name in names:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))


def _drop(admin_dsn: str, *names: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        for name in names:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )


def _dbt_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "REGREPORT_PG_HOST": settings.pg_host,
        "REGREPORT_PG_PORT": str(settings.pg_port),
        "REGREPORT_PG_USER": settings.pg_user,
        "REGREPORT_PG_PASSWORD": settings.pg_password,
        "REGREPORT_WAREHOUSE_DB": WH_DB,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def _dbt(command: str, work: Path, env: dict[str, str], *extra: str) -> None:
    result = subprocess.run(
        [
            str(DBT),
            command,
            "--project-dir",
            str(DBT_DIR),
            "--profiles-dir",
            str(DBT_DIR),
            "--target-path",
            str(work / "target"),
            "--log-path",
            str(work / "logs"),
            *extra,
        ],
        cwd=DBT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"dbt {command} failed:\n{result.stdout}\n{result.stderr}"


def _build(day: date, work: Path, env: dict[str, str]) -> None:
    start, end = _bounds(day)
    period = {"period_start": start.isoformat(), "period_end": end.isoformat()}
    _dbt("build", work, env, "--vars", json.dumps(period))


def _snapshot(wh_dsn: str, extract_rows: dict[str, int]) -> Snapshot:
    with psycopg.connect(wh_dsn, row_factory=dict_row) as conn:
        report = conn.execute(
            "select * from reports.rpt_mifir_rts22_transactions order by tx_id"
        ).fetchall()
        quarantine = conn.execute(
            "select * from reports.rpt_mifir_rts22_quarantine order by execution_id"
        ).fetchall()
        fct = [
            (
                r["execution_id"],
                r["trading_date"],
                r["quantity"],
                r["price"],
                r["currency"],
                r["notional"],
            )
            for r in conn.execute("select * from marts.fct_executions order by execution_id")
        ]
    return Snapshot(report, quarantine, fct, extract_rows)


@pytest.fixture(scope="module")
def scenario(
    pg_services: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Snapshot]]:
    """Run the four steps once and keep the warehouse state after each."""
    settings = pg_services
    admin = settings.dsn("postgres")
    src_dsn, wh_dsn = settings.dsn(SRC_DB), settings.dsn(WH_DB)
    work = tmp_path_factory.mktemp("dbt")
    env = _dbt_env(settings)
    _recreate(admin, SRC_DB, WH_DB)
    try:
        with psycopg.connect(src_dsn) as conn:
            conn.execute(SCHEMA_SQL.read_text())
            conn.execute(_SOURCE_SQL)
        steps: dict[str, Snapshot] = {}

        extracted = extract_period(src_dsn, wh_dsn, *_bounds(DAY), run_id="R1")
        _build(DAY, work, env)
        steps["first"] = _snapshot(wh_dsn, extracted.rows)

        _build(DAY, work, env)
        steps["rerun"] = _snapshot(wh_dsn, extracted.rows)

        extracted = extract_period(src_dsn, wh_dsn, *_bounds(PREV_DAY), run_id="R0")
        _build(PREV_DAY, work, env)
        steps["previous_day"] = _snapshot(wh_dsn, extracted.rows)

        with psycopg.connect(src_dsn) as conn:
            conn.execute(
                "update qsuite.instruments set isin = %s where instrument_id = 3", (FIXED_ISIN,)
            )
        extracted = extract_period(src_dsn, wh_dsn, *_bounds(DAY), run_id="R2")
        _build(DAY, work, env)
        steps["fixed"] = _snapshot(wh_dsn, extracted.rows)
        yield steps
    finally:
        _drop(admin, SRC_DB, WH_DB)


# ----- tests ------------------------------------------------------------------------------


@pytest.mark.unit
def test_source_identifiers_are_valid() -> None:
    for lei in (FIRM_LEI, CLIENT_LEI, CCP_LEI):
        assert is_valid_lei(lei), lei
    for isin in (SAP, TOTAL, FIXED_ISIN):
        assert is_valid_isin(isin), isin
    assert concat_national_id("FR", date(1980, 5, 17), "Marie", "Dupont") == MARIE_CONCAT
    assert "ES" + spanish_dni(12345678) == TRADER_NIDN


@pytest.mark.unit
def test_dbt_parse(tmp_path: Path) -> None:
    # parse renders the profile but does not connect; an unreachable port proves it.
    env = {**os.environ, "REGREPORT_PG_PORT": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    _dbt("parse", tmp_path, env)
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    models = {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
    }
    assert set(models) == {
        "stg_qsuite__firm",
        "stg_qsuite__venues",
        "stg_qsuite__accounts",
        "stg_qsuite__traders",
        "stg_qsuite__algos",
        "stg_qsuite__instruments",
        "stg_qsuite__orders",
        "stg_qsuite__executions",
        "stg_qsuite__quotes",
        "int_executions__enriched",
        "int_mifir__transactions",
        "fct_executions",
        "rpt_mifir_rts22_transactions",
        "rpt_mifir_rts22_quarantine",
    }
    for name in ("rpt_mifir_rts22_transactions", "rpt_mifir_rts22_quarantine"):
        assert models[name]["schema"] == "reports"
        assert models[name]["config"]["contract"]["enforced"] is True
        assert models[name]["config"]["materialized"] == "incremental"
    assert models["fct_executions"]["schema"] == "marts"


@pytest.mark.integration
def test_extract_lands_the_period(scenario: dict[str, Snapshot]) -> None:
    # Executions of the 10th (UTC): 1001-1004 and 1006; 1005 is the 9th, 1007 the 11th.
    # Orders: 101, 103, 104 created on the 10th, plus 102 and 105 (older, filled on the 10th).
    assert scenario["first"].extract_rows == {
        "firm": 1,
        "venues": 2,
        "accounts": 3,
        "traders": 1,
        "algos": 1,
        "instruments": 3,
        "compliance_rules": 0,
        "executions": 5,
        "quotes": 0,
        "orders": 5,
    }
    # The 9th: execution 1005; orders 102 and 105 were created on the 9th.
    assert scenario["previous_day"].extract_rows["executions"] == 1
    assert scenario["previous_day"].extract_rows["orders"] == 2


@pytest.mark.integration
def test_report_rows(scenario: dict[str, Snapshot]) -> None:
    report = scenario["first"].report
    assert [r["tx_id"] for r in report] == ["QS1001", "QS1002", "QS1003", "QS1006"]
    assert report[0] == ROW_1001
    assert report[1] == ROW_1002
    assert report[2] == ROW_1003
    assert report[3] == ROW_1006


@pytest.mark.integration
def test_quarantine_rows(scenario: dict[str, Snapshot]) -> None:
    assert scenario["first"].quarantine == [QUARANTINE_1004]


@pytest.mark.integration
def test_fct_executions_notional(scenario: dict[str, Snapshot]) -> None:
    assert scenario["first"].fct == FCT_DAY


@pytest.mark.integration
def test_rerun_is_idempotent(scenario: dict[str, Snapshot]) -> None:
    first, rerun = scenario["first"], scenario["rerun"]
    assert rerun.report == first.report
    assert rerun.quarantine == first.quarantine
    assert rerun.fct == first.fct


@pytest.mark.integration
def test_previous_day_leaves_the_period_alone(scenario: dict[str, Snapshot]) -> None:
    step = scenario["previous_day"]
    assert step.report == [ROW_1001, ROW_1002, ROW_1003, ROW_1005, ROW_1006]
    assert step.quarantine == [QUARANTINE_1004]
    assert step.fct == sorted([*FCT_DAY, FCT_1005])


@pytest.mark.integration
def test_fixed_isin_moves_from_quarantine_to_report(scenario: dict[str, Snapshot]) -> None:
    step = scenario["fixed"]
    # The 10th is rebuilt from extract R2; the 9th keeps its R0 row.
    assert step.report == [
        {**ROW_1001, "extract_run_id": "R2"},
        {**ROW_1002, "extract_run_id": "R2"},
        {**ROW_1003, "extract_run_id": "R2"},
        ROW_1004_FIXED,
        ROW_1005,
        {**ROW_1006, "extract_run_id": "R2"},
    ]
    assert step.quarantine == []
    # Nothing lost: every execution of the 10th is in the report exactly once.
    day_ids = sorted(r["execution_id"] for r in step.report if r["trading_date"] == DAY)
    assert day_ids == [1001, 1002, 1003, 1004, 1006]
    assert step.fct == sorted([*FCT_DAY, FCT_1005])
