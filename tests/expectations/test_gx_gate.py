"""The GX gate over the MiFIR report table, run through the committed checkpoint.

A dedicated warehouse database holds a `reports.rpt_mifir_rts22_transactions` table with the
dbt contract's columns and a few hand-made rows on three days: a clean day, a day with one
malformed ISIN and one zero quantity, and (by absence) an empty day.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from psycopg import sql

from regreport import gx as regreport_gx

if TYPE_CHECKING:
    from collections.abc import Iterator

    from regreport.config import Settings

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
GX_ROOT = REPO / "expectations"
SUITE = GX_ROOT / "gx" / "expectations" / "rpt__mifir_rts22_transactions.json"
CHECKPOINT = "mifir_transactions_daily__report"
WH_DB = "regreport_gx_wh"

CLEAN_DAY = date(2026, 3, 10)
BAD_DAY = date(2026, 3, 11)
EMPTY_DAY = date(2026, 3, 12)

FIRM_LEI = "QSUITEFIRM0000000017"
CCP_LEI = "CCPCLEARING000000084"

# The dbt contract of rpt_mifir_rts22_transactions (dbt_project/models/reports/_reports.yml).
_DDL = """
create schema reports;
create table reports.rpt_mifir_rts22_transactions (
    tx_id text not null,
    execution_id bigint not null,
    trading_date date not null,
    executing_entity_lei text not null,
    investment_firm_ind boolean not null,
    submitting_entity_lei text not null,
    buyer_id_type text not null,
    buyer_id text not null,
    buyer_id_scheme text,
    buyer_first_name text,
    buyer_surname text,
    buyer_birth_date date,
    buyer_branch_country text,
    seller_id_type text not null,
    seller_id text not null,
    seller_id_scheme text,
    seller_first_name text,
    seller_surname text,
    seller_birth_date date,
    seller_branch_country text,
    transmission_ind boolean not null,
    trading_datetime timestamp with time zone not null,
    trading_capacity text not null,
    quantity numeric(18, 4) not null,
    price numeric(18, 6) not null,
    price_currency text not null,
    venue text not null,
    venue_transaction_id text,
    instrument_isin text not null,
    executing_person_type text not null,
    executing_person_id text not null,
    executing_person_scheme text,
    executing_person_branch_country text,
    investment_decision_type text,
    investment_decision_id text,
    investment_decision_scheme text,
    investment_decision_branch_country text,
    securities_financing_ind boolean not null,
    extract_run_id text not null
);
"""


def _row(execution_id: int, day: date, isin: str = "DE0007164600", quantity: str = "100") -> dict:
    return {
        "tx_id": f"QS{execution_id}",
        "execution_id": execution_id,
        "trading_date": day,
        "executing_entity_lei": FIRM_LEI,
        "investment_firm_ind": True,
        "submitting_entity_lei": FIRM_LEI,
        "buyer_id_type": "LEI",
        "buyer_id": FIRM_LEI,
        "seller_id_type": "LEI",
        "seller_id": CCP_LEI,
        "transmission_ind": False,
        "trading_datetime": f"{day.isoformat()}T10:00:00Z",
        "trading_capacity": "DEAL",
        "quantity": quantity,
        "price": "123.45",
        "price_currency": "EUR",
        "venue": "XCCP",
        "instrument_isin": isin,
        "executing_person_type": "ALGO",
        "executing_person_id": "VWAP01",
        "securities_financing_ind": False,
        "extract_run_id": "R1",
    }


ROWS = [
    _row(1, CLEAN_DAY),
    _row(2, CLEAN_DAY, isin="FR0000120271", quantity="0.0001"),
    _row(3, BAD_DAY),
    _row(4, BAD_DAY, isin="XX123"),
    _row(5, BAD_DAY, quantity="0"),
]


def _committed_state() -> dict[str, str]:
    """Hash of every file under expectations/ except the git-ignored gx/uncommitted/."""
    return {
        str(p.relative_to(GX_ROOT)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(GX_ROOT.rglob("*"))
        if p.is_file() and "uncommitted" not in p.relative_to(GX_ROOT).parts
    }


def _suite_size() -> int:
    return len(json.loads(SUITE.read_text())["expectations"])


@pytest.fixture(scope="module")
def warehouse_url(pg_services: Settings) -> Iterator[str]:
    """A scratch warehouse with the report table and ROWS; dropped afterwards."""
    admin = pg_services.dsn("postgres")
    drop = sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(WH_DB))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(drop)
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(WH_DB)))
    url = pg_services.dsn(WH_DB)
    try:
        with psycopg.connect(url) as conn:
            conn.execute(_DDL)
            for row in ROWS:
                conn.execute(
                    sql.SQL(
                        "insert into reports.rpt_mifir_rts22_transactions ({}) values ({})"
                    ).format(
                        sql.SQL(", ").join(map(sql.Identifier, row)),
                        sql.SQL(", ").join(map(sql.Placeholder, row)),
                    ),
                    row,
                )
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(drop)


@pytest.fixture(scope="module")
def committed_before() -> dict[str, str]:
    return _committed_state()


@pytest.fixture
def run(
    warehouse_url: str, committed_before: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """Run the committed checkpoint for a day; afterwards, the committed files are unchanged."""
    # run_checkpoint sets the URL variable in os.environ; monkeypatch restores it afterwards.
    monkeypatch.setenv(regreport_gx.WAREHOUSE_URL_VARIABLE, "unset-by-test")

    def _run(day: date) -> regreport_gx.CheckpointOutcome:
        return regreport_gx.run_checkpoint(GX_ROOT, warehouse_url, CHECKPOINT, day)

    yield _run
    assert _committed_state() == committed_before


def test_clean_day_passes(run: Any) -> None:
    outcome = run(CLEAN_DAY)
    assert outcome.checkpoint == CHECKPOINT
    assert outcome.success is True
    # Every expectation of the suite ran on the day's batch, none failed.
    assert outcome.evaluated == _suite_size()
    assert outcome.failed == []
    assert regreport_gx.require_success(outcome) is outcome
    assert "passed" in outcome.summary()


def test_bad_rows_fail_with_their_rule_codes(run: Any) -> None:
    outcome = run(BAD_DAY)
    assert outcome.success is False
    assert outcome.evaluated == _suite_size()
    failed = sorted(outcome.failed, key=lambda f: f["rule_code"])
    assert [(f["rule_code"], f["column"], f["unexpected_count"]) for f in failed] == [
        ("RTS22-F30-POSITIVE", "quantity", 1),  # execution 5, quantity 0
        ("RTS22-F41-ISIN", "instrument_isin", 1),  # execution 4, 'XX123'
    ]
    assert [f["expectation"] for f in failed] == [
        "expect_column_values_to_be_between",
        "expect_column_values_to_match_regex",
    ]
    assert all(f["legal_ref"].startswith("Commission Delegated Regulation") for f in failed)
    with pytest.raises(regreport_gx.ValidationFailedError) as raised:
        regreport_gx.require_success(outcome)
    assert "RTS22-F30-POSITIVE" in str(raised.value)
    assert "RTS22-F41-ISIN" in str(raised.value)


def test_empty_day_passes_with_nothing_evaluated(run: Any) -> None:
    outcome = run(EMPTY_DAY)
    assert outcome.success is True
    assert outcome.run_id == "no-batch-2026-03-12"
    assert outcome.evaluated == 0
    assert outcome.failed == []
