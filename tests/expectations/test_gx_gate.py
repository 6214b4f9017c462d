"""The GX gate over the MiFIR report table, run through the committed checkpoint.

A dedicated warehouse database holds a `reports.rpt_mifir_rts22_transactions` table with the
record contract's columns (docs/reporting/mifir/report-columns.md) and hand-made rows on four
days: a clean day (a share, a bond, an option and a future outside FIRDS, and the rows that the
conditional expectations exempt: an INTC buyer without id, a pending price, a client executing
itself), a bad day with one row per failing expectation, a day with a duplicate transaction
reference, and (by absence) an empty day.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
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
WH_DB = "h4_gx_wh"

CLEAN_DAY = date(2026, 3, 10)
BAD_DAY = date(2026, 3, 11)
EMPTY_DAY = date(2026, 3, 12)
DUP_DAY = date(2026, 3, 13)

FIRM_LEI = "QSUITEFIRM0000000017"
CCP_LEI = "CCPCLEARING000000084"

_TEXT = "text"
# The record contract (docs/reporting/mifir/report-columns.md): column -> type.
_PERSON = {"_first_name": _TEXT, "_surname": _TEXT, "_birth_date": "date"}
_COLUMNS: dict[str, str] = {
    "record_type": _TEXT,
    "tx_id": _TEXT,  # nullable here, so that RTS22-F02-NOTNULL can be shown to fail
    "execution_id": "bigint not null",
    "trading_date": "date not null",
    "instrument_type": _TEXT,
    "venue_transaction_id": _TEXT,
    "executing_entity_lei": _TEXT,
    "investment_firm_ind": "boolean",
    "submitting_entity_lei": _TEXT,
}
for _side in ("buyer", "seller"):
    _COLUMNS |= {f"{_side}_id_type": _TEXT, f"{_side}_id": _TEXT, f"{_side}_id_scheme": _TEXT}
    _COLUMNS |= {f"{_side}{k}": v for k, v in _PERSON.items()}
    _COLUMNS[f"{_side}_branch_country"] = _TEXT
    _COLUMNS |= {f"{_side}2_id": _TEXT, f"{_side}2_id_scheme": _TEXT}
    _COLUMNS |= {f"{_side}2{k}": v for k, v in _PERSON.items()}
    _dm = f"{_side}_decision_maker"
    _COLUMNS |= {f"{_dm}_type": _TEXT, f"{_dm}_id": _TEXT, f"{_dm}_scheme": _TEXT}
    _COLUMNS |= {f"{_dm}{k}": v for k, v in _PERSON.items()}
_COLUMNS |= {
    "transmission_ind": "boolean",
    "transmitting_firm_buyer_lei": _TEXT,
    "transmitting_firm_seller_lei": _TEXT,
    "trading_datetime": "timestamptz",
    "trading_capacity": _TEXT,
    "quantity_type": _TEXT,
    "quantity": "numeric(18, 4)",
    "quantity_currency": _TEXT,
    "deriv_notional_change": _TEXT,
    "price_type": _TEXT,
    "price": "numeric(18, 6)",
    "price_currency": _TEXT,
    "net_amount": "numeric(18, 2)",
    "venue": _TEXT,
    "country_of_branch": _TEXT,
    "upfront_payment": "numeric",
    "upfront_payment_currency": _TEXT,
    "complex_trade_id": _TEXT,
    "instrument_isin": _TEXT,
    "instrument_in_firds": "boolean",
    "instrument_full_name": _TEXT,
    "instrument_cfi": _TEXT,
    "notional_currency": _TEXT,
    "notional_currency_2": _TEXT,
    "price_multiplier": "numeric(18, 6)",
    "underlying_isin": _TEXT,
    "underlying_index_name": _TEXT,
    "underlying_index_term_unit": _TEXT,
    "underlying_index_term_value": _TEXT,
    "option_type": _TEXT,
    "strike_price": "numeric(18, 6)",
    "strike_currency": _TEXT,
    "exercise_style": _TEXT,
    "maturity_date": "date",
    "expiry_date": "date",
    "delivery_type": _TEXT,
}
for _kind in ("investment_decision", "executing_person"):
    _COLUMNS |= {f"{_kind}_{k}": _TEXT for k in ("type", "id", "scheme", "branch_country")}
_COLUMNS |= {
    "waiver_ind": _TEXT,
    "short_selling_ind": _TEXT,
    "otc_post_trade_ind": _TEXT,
    "commodity_derivative_ind": "boolean",
    "securities_financing_ind": "boolean",
    "extract_run_id": _TEXT,
}

_DDL = sql.SQL("create schema reports; create table reports.rpt_mifir_rts22_transactions ({})")


def _row(execution_id: int, day: date, **changes: Any) -> dict[str, Any]:
    """A share traded on a venue, the firm buying from the CCP; `changes` override columns."""
    row = {
        "record_type": "NEWT",
        "tx_id": f"QS{execution_id}",
        "execution_id": execution_id,
        "trading_date": day,
        "instrument_type": "SHARE",
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
        "quantity_type": "UNIT",
        "quantity": "100",
        "price_type": "MNTRY",
        "price": "123.45",
        "price_currency": "EUR",
        "venue": "XCCP",
        "instrument_isin": "DE0007164600",
        "instrument_in_firds": True,
        "executing_person_type": "ALGO",
        "executing_person_id": "VWAP01",
        "securities_financing_ind": False,
        "extract_run_id": "R1",
    }
    row.update(changes)
    return row


def _bond(execution_id: int, day: date, **changes: Any) -> dict[str, Any]:
    # Net amount = 100000 x 99.5 / 100 = 99500.00 (no accrued interest).
    bond = {
        "instrument_type": "BOND",
        "instrument_isin": "FR0013508470",
        "quantity_type": "NMNL",
        "quantity": "100000",
        "quantity_currency": "EUR",
        "price_type": "PCTG",
        "price": "99.5",
        "price_currency": None,
        "net_amount": Decimal("99500.00"),
    }
    return _row(execution_id, day, **(bond | changes))


def _option(execution_id: int, day: date, **changes: Any) -> dict[str, Any]:
    option = {
        "instrument_type": "OPTION",
        "instrument_isin": "DE000C7ZQ1A0",
        "instrument_in_firds": False,
        "instrument_full_name": "SAP CALL 200 JUN26",
        "instrument_cfi": "OCASPS",
        "option_type": "CALL",
        "strike_price": "200",
        "strike_currency": "EUR",
        "exercise_style": "EURO",
        "expiry_date": date(2026, 6, 19),
        "underlying_isin": "DE0007164600",
        "price_multiplier": "100",
        "delivery_type": "PHYS",
    }
    return _row(execution_id, day, **(option | changes))


def _future(execution_id: int, day: date, **changes: Any) -> dict[str, Any]:
    future = {
        "instrument_type": "FUTURE",
        "instrument_isin": "DE000F7ZQ1A3",
        "instrument_in_firds": False,
        "instrument_full_name": "SAP FUT JUN26",
        "instrument_cfi": "FFSCSX",
        "expiry_date": date(2026, 6, 19),
        "underlying_isin": "DE0007164600",
        "price_multiplier": "100",
        "delivery_type": "CASH",
    }
    return _row(execution_id, day, **(future | changes))


_B = BAD_DAY
#: Expected failure -> the row that causes it (each row breaks exactly one expectation).
BAD_ROWS: dict[str, dict[str, Any]] = {
    "RTS22-F02-NOTNULL": _row(90, _B, tx_id=None),
    "RTS22-F02-FORMAT": _row(91, _B, tx_id="qs-91"),
    "RTS22-F03-FORMAT": _row(145, _B, venue_transaction_id="AB-12"),  # a hyphen
    "RTS22-F04-LEI": _row(92, _B, executing_entity_lei="bad"),
    "RTS22-F06-LEI": _row(93, _B, submitting_entity_lei="bad"),
    "RTS22-F07-TYPE": _row(94, _B, buyer_id_type="BIC"),
    "RTS22-F16-NOTNULL": _row(95, _B, seller_id=None),
    "RTS22-F16-TYPE": _row(96, _B, seller_id_type="BIC"),
    "RTS22-F28-NOTNULL": _row(97, _B, trading_datetime=None),
    "RTS22-F29-CODE": _row(98, _B, trading_capacity="PRIN"),
    "RTS22-F34-CCY": _row(99, _B, price_currency="euro"),
    "RTS22-F36-MIC": _row(100, _B, venue="XPARIS"),
    "RTS22-F59-TYPE": _row(143, _B, executing_person_type="BOT"),
    "RTS22-F65-NOTNULL": _row(144, _B, securities_financing_ind=None),
    "RTS22-F07-NOTNULL": _row(101, _B, buyer_id=None),  # LEI-typed buyer without an id
    "RTS22-F07-LEI": _row(102, _B, buyer_id="NOTALEI"),
    "RTS22-F07-SCHEME": _row(103, _B, buyer_id_scheme="PASS"),
    "RTS22-F12-TYPE": _row(104, _B, buyer_decision_maker_type="MIC"),
    "RTS22-F12-LEI": _row(105, _B, buyer_decision_maker_type="LEI", buyer_decision_maker_id="X"),
    "RTS22-F16-LEI": _row(106, _B, seller_id="NOTALEI2"),
    "RTS22-F16-SCHEME": _row(107, _B, seller_id_scheme="PASS"),
    "RTS22-F21-TYPE": _row(108, _B, seller_decision_maker_type="ALGO"),
    "RTS22-F21-LEI": _row(109, _B, seller_decision_maker_type="LEI", seller_decision_maker_id="x"),
    "RTS22-F26-LEI": _row(110, _B, transmitting_firm_buyer_lei="bad"),
    "RTS22-F27-LEI": _row(111, _B, transmitting_firm_seller_lei="bad"),
    "RTS22-F30-POSITIVE": _row(112, _B, quantity="0"),
    "RTS22-F30-QTYTYPE": _row(113, _B, quantity_type="LOTS"),
    "RTS22-F30-BOND": _bond(114, _B, quantity_type="UNIT"),
    "RTS22-F31-CCY": _bond(115, _B, quantity_currency="EURO"),
    "RTS22-F31-MANDATORY": _bond(116, _B, quantity_currency=None),
    "RTS22-F33-NOTNULL": _row(117, _B, price=None),  # MNTRY without a price
    "RTS22-F33-PRICETYPE": _row(118, _B, price_type="PERC"),
    "RTS22-F33-BOND": _bond(119, _B, price_type="MNTRY", price_currency="EUR"),
    "RTS22-F34-MANDATORY": _row(120, _B, price_currency=None),
    "RTS22-F35-BOND": _bond(121, _B, net_amount=None),
    "RTS22-F35-FORBIDDEN": _row(122, _B, net_amount=Decimal("12345.00")),
    "RTS22-F41-ISIN": _row(123, _B, instrument_isin="XX123"),
    "RTS22-F43-CFI": _option(124, _B, instrument_cfi="OC"),
    "RTS22-F46-MANDATORY": _option(125, _B, price_multiplier=None),
    "RTS22-F47-ISIN": _option(126, _B, underlying_isin="SAP"),
    "RTS22-F47-MANDATORY": _future(127, _B, underlying_isin=None),
    "RTS22-F50-CODE": _option(128, _B, option_type="PUT"),
    "RTS22-F50-MANDATORY": _option(129, _B, option_type=None),
    "RTS22-F50-FORBIDDEN": _row(130, _B, option_type="CALL"),
    "RTS22-F51-MANDATORY": _option(131, _B, strike_price=None),
    "RTS22-F52-CCY": _option(132, _B, strike_currency="euro"),
    "RTS22-F53-CODE": _option(133, _B, exercise_style="EUROPEAN"),
    "RTS22-F53-MANDATORY": _option(134, _B, exercise_style=None),
    "RTS22-F55-MANDATORY": _future(135, _B, expiry_date=None),
    "RTS22-F55-FORBIDDEN": _row(136, _B, expiry_date=date(2026, 6, 19)),
    "RTS22-F56-CODE": _option(137, _B, delivery_type="CSH"),
    "RTS22-F56-MANDATORY": _future(138, _B, delivery_type=None),
    "RTS22-F57-TYPE": _row(139, _B, investment_decision_type="CLIENT"),
    "RTS22-F59-NOTNULL": _row(140, _B, executing_person_id=None),  # ALGO without an id
    "RTS22-F62-CODE": _row(141, _B, short_selling_ind="SHRT"),
    "RTS22-F62-INSTRUMENT": _option(142, _B, short_selling_ind="SESH"),
}

ROWS = [
    _row(1, CLEAN_DAY),
    _row(2, CLEAN_DAY, instrument_isin="FR0000120271", quantity="0.0001"),
    _bond(3, CLEAN_DAY, short_selling_ind="SESH"),
    _option(4, CLEAN_DAY),
    _future(5, CLEAN_DAY),
    # Exempted by row conditions: INTC has no id, PNDG no price, a client executing no id.
    _row(6, CLEAN_DAY, buyer_id_type="INTC", buyer_id=None),
    _row(7, CLEAN_DAY, price_type="PNDG", price=None, price_currency=None),
    _row(8, CLEAN_DAY, executing_person_type="CLIENT", executing_person_id=None),
    *BAD_ROWS.values(),
    _row(201, DUP_DAY),
    _row(202, DUP_DAY, tx_id="QS201"),
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
            conn.execute(
                _DDL.format(
                    sql.SQL(", ").join(
                        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind))
                        for name, kind in _COLUMNS.items()
                    )
                )
            )
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
    # One row per expectation in BAD_ROWS, and each row breaks only its own: count 1 each.
    assert [(f["rule_code"], f["unexpected_count"]) for f in failed] == [
        (code, 1) for code in sorted(BAD_ROWS)
    ]
    assert all(f["legal_ref"].startswith("Commission Delegated Regulation") for f in failed)
    with pytest.raises(regreport_gx.ValidationFailedError) as raised:
        regreport_gx.require_success(outcome)
    assert "RTS22-F30-POSITIVE" in str(raised.value)
    assert "RTS22-F41-ISIN" in str(raised.value)


def test_every_suite_expectation_is_proven_to_fail() -> None:
    # A new expectation needs its failing row in BAD_ROWS (or, for uniqueness, the DUP_DAY).
    codes = {e["meta"]["rule_code"] for e in json.loads(SUITE.read_text())["expectations"]}
    assert codes == set(BAD_ROWS) | {"RTS22-F02-UNIQUE"}


def test_duplicate_transaction_reference_is_blocked(run: Any) -> None:
    # The pipeline relies on GX, not on a database key, to stop a duplicate TxId.
    outcome = run(DUP_DAY)
    assert outcome.success is False
    assert [(f["rule_code"], f["column"]) for f in outcome.failed] == [
        ("RTS22-F02-UNIQUE", "tx_id")
    ]


def test_empty_day_passes_with_nothing_evaluated(run: Any) -> None:
    outcome = run(EMPTY_DAY)
    assert outcome.success is True
    assert outcome.run_id == "no-batch-2026-03-12"
    assert outcome.evaluated == 0
    assert outcome.failed == []


def test_results_on_disk_hold_counts_not_values(run: Any) -> None:
    """Report rows carry personal data: GX's stored results and Data Docs keep counts only."""
    validations = GX_ROOT / "gx" / "uncommitted" / "validations"
    before = set(validations.rglob("*.json")) if validations.exists() else set()
    outcome = run(BAD_DAY)
    assert outcome.success is False
    written = [p for p in validations.rglob("*.json") if p not in before]
    assert written, "the checkpoint stored no validation result"
    for path in written:
        text = path.read_text()
        # Values of BAD_ROWS: a malformed buyer id and an unknown id scheme.
        assert "NOTALEI" not in text
        assert '"PASS"' not in text
        for result in json.loads(text)["results"]:
            details = result.get("result") or {}
            assert not details.get("partial_unexpected_list")
            assert not details.get("partial_unexpected_counts")
            assert "unexpected_list" not in details
    docs = GX_ROOT / "gx" / "uncommitted" / "data_docs"
    for page in docs.rglob("*.html"):
        if page.stat().st_mtime >= min(p.stat().st_mtime for p in written):
            assert "NOTALEI" not in page.read_text(errors="replace")
