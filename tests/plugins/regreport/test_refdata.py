"""FIRDS and GLEIF loaders, lookups, the synthetic tables, and the gate with reference data.

Against a real PostgreSQL (`scratch_db`). The fixtures under tests/fixtures/refdata/ are
hand-written in the real layouts (a FULINS auth.017 file, a GLEIF golden copy CSV) and in the
simple CSV format, with planted defects for a trade date of 2026-03-02:

- FIRDS: FR001400AAA9 terminated 2026-02-27; NL0012345672 absent (unknown).
- GLEIF: 969500QSRETIRED00108 retired (2025-11-03); 969500QSLAPSED000135 lapsed (a client
  may still use it); 969500QSMERGED000155 merged after the trade date.
"""

from __future__ import annotations

import csv
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from regreport import refdata
from regreport.gate import run_gate

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "refdata"
FULINS = FIXTURES / "FULINS_E_20260228_01of01.xml"
GOLDEN = FIXTURES / "20260301-0800-gleif-goldencopy-lei2-golden-copy.csv"
FIRDS_CSV = FIXTURES / "firds.csv"
GLEIF_CSV = FIXTURES / "gleif.csv"
FIRM_LEI = "529900T8BM49AURSDO55"
RETIRED = "969500QSRETIRED00108"
LAPSED = "969500QSLAPSED000135"


@pytest.fixture
def conn(scratch_db):
    with psycopg.connect(scratch_db("refdata_test_wh")) as connection:
        yield connection


def _firds(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return conn.execute(
        "select isin, venue, cfi, first_trade_date, termination_date, underlying_isin,"
        " expiry_date from refdata.firds_instruments order by isin, venue"
    ).fetchall()


def test_load_firds_full_file(conn) -> None:
    result = refdata.load_firds(conn, FULINS)
    assert (result.rows, result.as_of, result.source) == (4, date(2026, 2, 28), FULINS.name)
    assert _firds(conn) == [
        ("DE000C7ZQ1A3", "XEUR", "OCESPS", date(2025, 1, 2), date(2027, 12, 17),
         "DE0007164600", date(2027, 12, 17)),
        ("FR0000120271", "AQEU", "ESVUFR", date(2017, 5, 15), date(2025, 6, 30), None, None),
        ("FR0000120271", "XPAR", "ESVUFR", date(2010, 1, 4), None, None, None),
        ("FR001400AAA9", "XPAR", "ESVUFR", date(2010, 1, 4), date(2026, 2, 27), None, None),
    ]  # fmt: skip


def test_load_firds_zipped_file_streams_the_member(conn, tmp_path) -> None:
    archive = tmp_path / "FULINS_E_20260228_01of01.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.write(FULINS, FULINS.name)
    assert refdata.load_firds(conn, archive).rows == 4
    assert len(_firds(conn)) == 4


def test_reload_replaces_the_table_and_records_the_load(conn) -> None:
    refdata.load_firds(conn, FULINS)
    result = refdata.load_firds(conn, FIRDS_CSV, as_of=date(2026, 3, 1))
    assert result.rows == 5
    isins = {row[0] for row in _firds(conn)}
    assert "US0378331005" in isins
    assert len(isins) == 5
    again = refdata.load_firds(conn, FIRDS_CSV, as_of=date(2026, 3, 1))
    assert again.rows == 5
    [status] = [s for s in refdata.status(conn) if s["table"] == refdata.FIRDS_TABLE]
    assert (status["rows"], status["as_of"], status["source"]) == (5, date(2026, 3, 1), "firds.csv")


def test_load_gleif_golden_copy(conn) -> None:
    result = refdata.load_gleif(conn, GOLDEN)
    assert (result.rows, result.as_of) == (3, date(2026, 3, 1))
    rows = conn.execute(
        "select lei, registration_status, entity_status, initial_registration_date,"
        " last_update_date, next_renewal_date, entity_expiration_date"
        " from refdata.gleif_lei order by lei"
    ).fetchall()
    assert rows == [
        (FIRM_LEI, "ISSUED", "ACTIVE", date(2013, 1, 15), date(2025, 12, 1), date(2026, 12, 1),
         None),
        (LAPSED, "LAPSED", "ACTIVE", date(2014, 5, 2), date(2025, 5, 3), date(2025, 5, 2), None),
        (RETIRED, "RETIRED", "INACTIVE", date(2015, 9, 21), date(2025, 11, 3), date(2025, 9, 21),
         date(2025, 10, 31)),
    ]  # fmt: skip


def test_lookups_read_only_the_asked_identifiers(conn) -> None:
    refdata.load_firds(conn, FULINS)
    refdata.load_gleif(conn, GLEIF_CSV)
    asked = sql.SQL("select unnest(%(ids)s::text[])")
    firds = refdata.firds_lookup(conn, asked, {"ids": ["FR0000120271", "NL0012345672"]})
    assert list(firds) == ["FR0000120271"]
    entry = firds["FR0000120271"]
    assert len(entry.windows) == 2
    assert entry.valid_on(date(2026, 3, 2))
    assert not refdata.firds_lookup(conn, asked, {"ids": ["FR001400AAA9"]})[
        "FR001400AAA9"
    ].valid_on(date(2026, 3, 2))
    gleif = refdata.gleif_lookup(conn, asked, {"ids": [RETIRED, LAPSED]})
    assert set(gleif) == {RETIRED, LAPSED}
    day = date(2026, 3, 2)
    assert gleif[LAPSED].usable_for_party_on(day)
    assert not gleif[LAPSED].issued_on(day)
    assert not gleif[RETIRED].usable_for_party_on(day)


def test_not_loaded_until_rows_are_there(conn) -> None:
    assert not refdata.is_loaded(conn, refdata.FIRDS_TABLE)
    assert refdata.status(conn) == []
    refdata.ensure_schema(conn)
    assert not refdata.is_loaded(conn, refdata.FIRDS_TABLE)
    refdata.load_firds(conn, FIRDS_CSV)
    assert refdata.is_loaded(conn, refdata.FIRDS_TABLE)
    assert not refdata.is_loaded(conn, refdata.GLEIF_TABLE)


def test_synthetic_tables_cover_the_generated_world(scratch_db, tmp_path) -> None:
    from regreport.generator import generate

    source_dsn = scratch_db("refdata_test_src")
    generate(source_dsn, date(2026, 3, 2), orders=300, seed=42)
    with psycopg.connect(source_dsn) as source:
        firds_path, gleif_path = refdata.write_synthetic(source, tmp_path)
        in_firds = {
            r[0]
            for r in source.execute(
                "select isin from qsuite.instruments where in_firds and isin is not null"
            )
        }
        leis = {r[0] for r in source.execute(refdata._SOURCE_LEIS) if r[0]}
    again = tmp_path / "again"
    with psycopg.connect(source_dsn) as source:
        refdata.write_synthetic(source, again)
    assert firds_path.read_bytes() == (again / firds_path.name).read_bytes()  # deterministic
    with psycopg.connect(scratch_db("refdata_test_syn")) as conn:
        assert refdata.load_firds(conn, firds_path).rows == len(in_firds)
        assert refdata.load_gleif(conn, gleif_path).rows == len(leis)
        firm = conn.execute("select registration_status from refdata.gleif_lei").fetchall()
        assert {row[0] for row in firm} == {"ISSUED"}
    # Every derivative's underlying is itself in the synthetic FIRDS.
    # The source's CFIs agree with its instrument types and option/future attributes.
    from regreport.rules import RuleContext, implementations

    ctx = RuleContext.for_period(date(2026, 3, 2), date(2026, 3, 3), Path("unused"))
    with psycopg.connect(source_dsn) as source:
        instruments = source.execute(
            "select instrument_type as instrument_type, cfi as instrument_cfi, option_type,"
            " exercise_style, delivery_type from qsuite.instruments"
            " where instrument_type <> 'FX_SPOT'"
        )
        columns = [c.name for c in instruments.description or ()]
        for values in instruments.fetchall():
            record = dict(zip(columns, values, strict=True))
            for code in ("RR-REF-004", "RR-REF-005"):
                assert list(implementations()[code](record, ctx)) == [], (code, record)
    with firds_path.open(newline="") as handle:
        underlyings = {row["underlying_isin"] for row in csv.DictReader(handle)} - {""}
    assert underlyings
    assert underlyings <= in_firds


# -- the gate -----------------------------------------------------------------------------------

START, END = date(2026, 3, 2), date(2026, 3, 3)
AT = datetime(2026, 3, 2, 10, 15, tzinfo=UTC)
VALID: dict[str, Any] = {
    "execution_id": 1,
    "tx_id": "QS1",
    "trading_date": START,
    "trading_datetime": AT,
    "updated_at": AT,
    "reason_code": None,
    "executing_entity_lei": FIRM_LEI,
    "submitting_entity_lei": FIRM_LEI,
    "investment_firm_ind": True,
    "instrument_type": "SHARE",
    "instrument_in_firds": True,
    "buyer_id_type": "LEI",
    "buyer_id": FIRM_LEI,
    "seller_id_type": "PERSON",
    "seller_id": "FR19800101JEAN#DUPON",
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
    "price_currency": "USD",
    "venue": "XFRA",
    "venue_transaction_id": "XF1",
    "instrument_isin": "US0378331005",
    "executing_person_type": "ALGO",
    "executing_person_id": "ALGO1",
    "investment_decision_type": "ALGO",
    "investment_decision_id": "ALGO1",
    "securities_financing_ind": False,
    "extract_run_id": "R0",
}
_TYPES = {bool: "boolean", int: "bigint", Decimal: "numeric(18, 6)", datetime: "timestamptz",
          date: "date"}  # fmt: skip
_NULLS = {
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
    "underlying_isin": "text",
    "instrument_cfi": "text",
}
#: A client (seller) legal entity instead of the natural person of VALID.
CLIENT_SIDE = {
    "seller_id_type": "LEI",
    "seller_id_scheme": None,
    "seller_first_name": None,
    "seller_surname": None,
    "seller_birth_date": None,
}


def _gate_db(conn: psycopg.Connection[Any]) -> None:
    columns = {k: _TYPES.get(type(v), "text") for k, v in VALID.items()} | _NULLS
    conn.execute("create schema intermediate")
    conn.execute(
        sql.SQL("create table intermediate.int_mifir__transactions ({})").format(
            sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in columns.items()
            )
        )
    )
    rows = [
        VALID,
        {**VALID, **CLIENT_SIDE, "execution_id": 2, "seller_id": RETIRED},
        {**VALID, "execution_id": 3, "instrument_isin": "FR001400AAA9", "price_currency": "EUR"},
        {**VALID, **CLIENT_SIDE, "execution_id": 4, "seller_id": LAPSED},
        {**VALID, "execution_id": 5, "instrument_isin": "NL0012345672", "price_currency": "EUR"},
    ]
    for row in rows:
        conn.execute(
            sql.SQL("insert into intermediate.int_mifir__transactions ({}) values ({})").format(
                sql.SQL(", ").join(map(sql.Identifier, row)),
                sql.SQL(", ").join(map(sql.Placeholder, row)),
            ),
            row,
        )
    conn.commit()


def _violations(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return conn.execute(
        "select execution_id, rule_code, severity, field from regreport.rule_violations"
        " where rule_code like 'RR-REF-%' order by execution_id, rule_code"
    ).fetchall()


def test_gate_quarantines_retired_lei_and_terminated_isin(conn, settings) -> None:
    _gate_db(conn)
    refdata.load_firds(conn, FIRDS_CSV)
    refdata.load_gleif(conn, GLEIF_CSV)
    result = run_gate(conn, START, END, settings.refdata_dir, "R1")
    assert _violations(conn) == [
        (2, "RR-REF-009", "error", "seller_id"),
        (3, "RR-REF-002", "error", "instrument_isin"),
        (5, "RR-REF-001", "warning", "instrument_isin"),  # reported; the NCA would pend it
    ]
    # 1 (clean) and 4 (a lapsed client LEI) pass; 5 is only warned about.
    blocked = {
        r[0]
        for r in conn.execute(
            "select execution_id from regreport.rule_violations where severity = 'error'"
        )
    }
    assert blocked == {2, 3}
    assert result.notes == ()
    assert "Dupont" not in result.summary()


def test_gate_says_once_that_tables_are_not_loaded(conn, settings, caplog) -> None:
    _gate_db(conn)
    with caplog.at_level("INFO", logger="regreport.gate"):
        result = run_gate(conn, START, END, settings.refdata_dir, "R1")
    assert result.notes == (
        "refdata: FIRDS not loaded, REF rules on it skipped",
        "refdata: GLEIF not loaded, REF rules on it skipped",
    )
    assert _violations(conn) == []
    assert caplog.text.count("FIRDS not loaded") == 1
    # GLEIF only: the LEI rules fire, the FIRDS ones still cannot tell.
    refdata.load_gleif(conn, GLEIF_CSV)
    result = run_gate(conn, START, END, settings.refdata_dir, "R2")
    assert result.notes == ("refdata: FIRDS not loaded, REF rules on it skipped",)
    assert [r[:2] for r in _violations(conn)] == [(2, "RR-REF-009")]
