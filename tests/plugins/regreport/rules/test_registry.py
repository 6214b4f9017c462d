"""The catalogue and its implementations: 1:1, well-formed, and no personal data in messages."""

from __future__ import annotations

import re
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from regreport.rules import (
    CATALOGUE,
    RefData,
    RefDataMissingError,
    RuleCatalogueError,
    RuleContext,
    catalogue_mismatches,
    check_record,
    implementations,
    rule_impl,
)
from regreport.rules import _registry as registry_module

pytestmark = pytest.mark.unit

FIRM_LEI = "529900T8BM49AURSDO55"
CET = timezone(timedelta(hours=1))

REPO = Path(__file__).resolve().parents[4]
REPORT_COLUMNS_MD = REPO / "docs" / "reporting" / "mifir" / "report-columns.md"
CODE_PATTERN = re.compile(r"RR-(?P<family>[A-Z]+)-\d{3}")
FAMILY_MODULES = {
    "LEI": "lei",
    "ISIN": "isin",
    "MIC": "mic",
    "CCY": "currency",
    "PRS": "persons",
    "VAL": "values",
    "TS": "timestamps",
    "PTY": "parties",
    "CAP": "capacity",
    "DEC": "decision",
    "INS": "instrument",
    "REF": "refdata",
}


def _record_columns() -> set[str]:
    """Columns of the record contract table in report-columns.md, shorthand expanded.

    A cell lists names in backticks; ``_suffix`` continues the first name's prefix (e.g.
    `investment_decision_type`, `_id`), and ``seller_*``-style rows mirror the buyer columns.
    """
    columns: set[str] = set()
    for line in REPORT_COLUMNS_MD.read_text(encoding="utf-8").splitlines():
        cells = line.split("|")
        if len(cells) < 3 or not cells[1].strip().startswith("`"):
            continue
        names = re.findall(r"`([a-z0-9_*]+)`", cells[1])
        if not names:
            continue
        stem = re.sub(r"_(type|first_name)$", "", names[0])
        for name in names:
            if name.endswith("*"):
                continue  # expanded below from the buyer columns
            columns.add(stem + name if name.startswith("_") else name)
    columns |= {c.replace("buyer", "seller", 1) for c in columns if c.startswith("buyer")}
    return columns


def test_record_columns_are_parsed() -> None:
    # Guards the applies_to check below against a parser that silently reads nothing.
    columns = _record_columns()
    assert {"seller2_birth_date", "seller_decision_maker_surname", "executing_person_scheme"} <= (
        columns
    )
    assert {"investment_decision_branch_country", "upfront_payment_currency"} <= columns


def test_every_catalogue_code_has_exactly_one_implementation() -> None:
    assert catalogue_mismatches() == ([], [])
    assert sorted(implementations()) == sorted(CATALOGUE)


@pytest.mark.parametrize("code", list(CATALOGUE))
def test_catalogue_entry_is_well_formed(code) -> None:
    entry = CATALOGUE[code]
    match = CODE_PATTERN.fullmatch(code)
    assert match, f"{code} does not follow RR-<FAMILY>-<NNN>"
    module = sys.modules[implementations()[code].__module__]
    assert module.__name__ == f"regreport.rules.{FAMILY_MODULES[match['family']]}"
    assert code in (module.__doc__ or ""), f"{module.__name__} docstring does not list {code}"
    assert implementations()[code].__doc__.startswith(f"{code}: ")
    assert entry.severity in ("error", "warning")
    assert entry.message.strip()
    assert entry.legal_ref.strip()
    assert set(entry.applies_to) <= _record_columns() | {"record"}


def test_unknown_code_is_rejected() -> None:
    with pytest.raises(RuleCatalogueError, match="not in the rule catalogue"):
        rule_impl("RR-LEI-999")


def test_duplicate_registration_is_rejected() -> None:
    def again(record, ctx):
        """RR-LEI-001: a second implementation."""
        return []

    with pytest.raises(RuleCatalogueError, match="already implemented by regreport.rules.lei"):
        rule_impl("RR-LEI-001")(again)
    assert implementations()["RR-LEI-001"] is not again


def test_docstring_must_open_with_code() -> None:
    def undocumented(record, ctx):
        """Checks something."""
        return []

    with pytest.raises(RuleCatalogueError, match="docstring must open with RR-LEI-001"):
        rule_impl("RR-LEI-001")(undocumented)


def test_check_record_refuses_unimplemented_rules(monkeypatch, record, ctx) -> None:
    monkeypatch.delitem(registry_module._IMPLEMENTATIONS, "RR-PTY-001")
    with pytest.raises(RuleCatalogueError, match="RR-PTY-001"):
        check_record(record, ctx)


def test_valid_record_has_no_findings(record, ctx) -> None:
    assert check_record(record, ctx) == []


def test_findings_stay_within_applies_to(record, ctx) -> None:
    record.update(
        executing_entity_lei="529900T8BM49AURSDO56",
        submitting_entity_lei="bad",
        instrument_isin="US0378331006",
        venue="XOCH",
        price_currency="DEM",
        quantity=0,
        price="-0.12345678901234",
        trading_capacity="AOTC",
        seller_id="FR19800101JEAN#DUPOX",
        seller_birth_date=date(1899, 1, 1),
    )
    findings = check_record(record, ctx)
    assert {f.code for f in findings} >= {
        "RR-LEI-001",
        "RR-LEI-002",
        "RR-ISIN-002",
        "RR-MIC-002",
        "RR-CCY-002",
        "RR-PRS-002",
        "RR-PRS-003",
        "RR-VAL-001",
        "RR-VAL-003",
        "RR-VAL-016",  # a share at a negative price: blocking, not RR-VAL-004's warning
    }
    for item in findings:
        assert item.field in CATALOGUE[item.code].applies_to
        assert (item.message, item.severity) == (
            CATALOGUE[item.code].message,
            CATALOGUE[item.code].severity,
        )


def test_messages_contain_no_personal_values(record, ctx) -> None:
    personal = {
        "buyer_id_type": "PERSON",
        "buyer_id": "DE18900715ZEBULQUIXO",  # CONCAT with a wrong date: fails RR-PRS-002
        "buyer_id_scheme": "CONCAT",
        "buyer_first_name": "Zebulonia",
        "buyer_surname": "Quixotewright",
        "buyer_birth_date": date(1890, 7, 14),  # implausible: RR-PRS-003
        "seller_id_type": "PERSON",
        "seller_id": "DE18900715ZEBULQUIXO",  # same as buyer: RR-PTY-001
        "seller_id_scheme": "NIDN",
        "seller_first_name": "",  # missing: RR-PRS-001
        "seller_surname": "Xylophagous",
        "seller_birth_date": date(2031, 1, 2),  # future: RR-PRS-003
    }
    record.update(personal, trading_capacity="AOTC")
    findings = check_record(record, ctx)
    assert {"RR-PRS-001", "RR-PRS-002", "RR-PRS-003", "RR-PTY-001"} <= {f.code for f in findings}
    needles = ["ZEBUL", "QUIXO", "XYLOPH", "18900714", "18900715", "1890", "2031", "07-14", "14.07"]
    for item in findings:
        text = f"{item.message} {item.field}".upper()
        for needle in needles:
            assert needle.upper() not in text, f"{item.code} message leaks {needle!r}"


def test_missing_refdata_fails_with_clear_message(tmp_path, record) -> None:
    ctx = RuleContext(date(2026, 3, 2), date(2026, 3, 3), RefData(tmp_path))
    with pytest.raises(RefDataMissingError, match="REGREPORT_REFDATA_DIR"):
        check_record(record, ctx)


def test_refdata_is_loaded_once(ctx) -> None:
    assert ctx.refdata.mics is ctx.refdata.mics
    assert RefData(ctx.refdata.refdata_dir).currencies is ctx.refdata.currencies


#: Distinctive personal values: names, birth dates and national ids that no message may echo.
_PERSONAL = {
    "buyer_id_type": "PERSON",
    "buyer_id": "DE18900715ZEBULQUIXO",  # CONCAT with a wrong date: RR-PRS-002
    "buyer_id_scheme": "CONCAT",
    "buyer_first_name": "Zebulonia",
    "buyer_surname": "Quixotewright",
    "buyer_birth_date": date(1890, 7, 14),  # implausible: RR-PRS-003
    "buyer_branch_country": "DEU",
    "buyer2_id": "DE18900715ZEBULQUIXO",  # repeats the first holder: RR-PRS-006
    "buyer2_id_scheme": "PASSPORT",
    "buyer2_first_name": "Ottoline",
    "buyer2_surname": "Vandermeerschaert",
    "buyer2_birth_date": date(2031, 1, 2),
    "buyer_decision_maker_type": "PERSON",
    "buyer_decision_maker_id": "nl987654321wxyz",
    "buyer_decision_maker_scheme": None,
    "buyer_decision_maker_first_name": "Quirinus",
    "buyer_decision_maker_surname": "",
    "buyer_decision_maker_birth_date": date(1777, 5, 5),
    "seller_id_type": "PERSON",
    "seller_id": "DE18900715ZEBULQUIXO",  # same as buyer: RR-PTY-001
    "seller_id_scheme": "NIDN",
    "seller_first_name": "",
    "seller_surname": "Xylophagous",
    "seller_birth_date": date(2031, 1, 2),
    "seller2_first_name": "Philomena",  # without an id: RR-PRS-005
    "seller_decision_maker_type": "LEI",
    "seller_decision_maker_id": "529900T8BM49AURSDO56",
    "seller_decision_maker_surname": "Wigglesworth",
    "investment_decision_type": "PERSON",
    "investment_decision_id": "it rssmra80a01h501u",
    "investment_decision_scheme": "TAXID",
    "executing_person_type": "PERSON",
    "executing_person_id": "ES 12345678Z",
    "executing_person_scheme": None,
}
_NEEDLES = [
    "ZEBUL",
    "QUIXO",
    "XYLOPH",
    "OTTOLIN",
    "VANDERM",
    "QUIRIN",
    "PHILOM",
    "WIGGLE",
    "NL987654321",
    "RSSMRA80",
    "12345678Z",
    "1890",
    "2031",
    "1777",
    "07-14",
    "14.07",
]
#: Further changes so that, across the variants, every catalogue rule fails at least once.
_VARIANTS = [
    {},
    {
        "executing_entity_lei": "bad",
        "submitting_entity_lei": "529900T8BM49AURSDO56",
        "instrument_isin": "US0378331006",
        "venue": "ZZZZ",
        "price_currency": "ABC",
        "quantity_currency": "DEM",
        "quantity": "0.123456789012345678",
        "price": "-0.12345678901234",
        "trading_datetime": datetime(2026, 3, 2, 10, 15),  # noqa: DTZ001 - naive on purpose
        "trading_capacity": "XXXX",
        "price_type": "PERC",
        "quantity_type": "NOML",
        "instrument_type": "SWAP",
        "net_amount": "-1.001",
        "strike_price": "-1",
        "price_multiplier": "0",
        "instrument_cfi": "OC",
        "short_selling_ind": "SHRT",
    },
    {
        "venue": "XOCH",
        "trading_datetime": datetime(2026, 3, 3, 0, 30, tzinfo=CET),
        "trading_date": date(2026, 3, 2),
        "trading_capacity": "AOTC",
        "buyer_id_type": "LEI",
        "buyer_id": FIRM_LEI,
        "buyer2_id": None,
        "seller_id_type": "MIC",
        "seller_id": "XETR",
        "instrument_type": "BOND",
        "instrument_in_firds": False,
        "quantity_type": "NMNL",
        "price_type": "PNDG",
        "maturity_date": date(2020, 1, 1),
        "strike_currency": "EUR",
        "upfront_payment": "1",
        "price_currency": None,
    },
    {
        "venue": "XXXX",
        "venue_transaction_id": "X1",
        "trading_capacity": "DEAL",
        "seller_id_type": "LEI",
        "seller_id": "5493001KJTIIGC8Y1R12",
        "seller_decision_maker_id": FIRM_LEI,
        "investment_decision_type": None,
        "instrument_type": "BOND",
        "quantity_type": "NMNL",
        "quantity": "100000.123456",
        "price_type": "PCTG",
        "price": "99.123456789012",
        "price_currency": "EUR",
    },
    {"trading_capacity": "MTCH", "seller_id_type": "LEI", "seller_id": "5493001KJTIIGC8Y1R12"},
    {
        "instrument_isin": "XX12",
        "quantity": "0",
        "quantity_type": "NMNL",
        "price": "0.12345678901234",
        "trading_datetime": datetime(2026, 3, 5, 9, 0, tzinfo=CET),
    },
    {
        # A future at a negative price (a warning) in a fractional number of contracts, priced
        # in another currency than the instrument's, with an unassigned CFI, ISIN prefix,
        # branch country and national id prefix, and a net amount that is not qty x price.
        "instrument_type": "FUTURE",
        "price": "-1.5",
        "quantity": "2.5",
        "instrument_currency": "USD",
        "net_amount": "5",
        "accrued_interest": None,
        "underlying_isin": "ZZ0000000005",
        "instrument_cfi": "ZZZZZZ",
        "country_of_branch": "UK",
        "executing_person_id": "QQ1234",
    },
    {"price": "0", "price_currency": "XXX"},  # a share at zero, in "no currency"
    {"complex_trade_id": "cmplx-1"},  # lower case and a dash: outside the XSD pattern
]


def _refdata_context(ctx: RuleContext) -> RuleContext:
    """`ctx` with FIRDS and GLEIF tables loaded: the record's share terminated, the firm's LEI
    lapsed, a client's LEI retired (the RR-REF rules do not fire without tables)."""
    from regreport.refdata import FirdsEntry, LeiEntry

    ended = ((date(2010, 1, 4), date(2020, 1, 1)),)
    firds = {"US0378331005": FirdsEntry("US0378331005", "ESVUFR", "USD", ended)}
    gleif = {
        FIRM_LEI: LeiEntry(FIRM_LEI, "LAPSED", "ACTIVE", date(2013, 1, 1), None, date(2020, 1, 1)),
        _REF_CLIENT: LeiEntry(
            _REF_CLIENT, "RETIRED", "INACTIVE", date(2013, 1, 1), date(2020, 1, 1)
        ),
    }
    refdata = RefData(ctx.refdata.refdata_dir, firds=firds, gleif=gleif)
    return RuleContext(ctx.period_start, ctx.period_end, refdata)


_REF_CLIENT = "5493001KJTIIGC8Y1R12"
#: Variants run with `_refdata_context` (RR-REF-002 and RR-REF-007 fail on the base record).
_REF_VARIANTS = [
    {"instrument_isin": "FR0000120271"},
    {"instrument_cfi": "OPESPS", "option_type": "CALL", "underlying_isin": "FR0000120271"},
    {"submitting_entity_lei": "549300PSVDV3P50KHS39", "buyer_id_type": "LEI",
     "buyer_id": "549300PSVDV3P50KHS39", "seller_id_type": "LEI", "seller_id": _REF_CLIENT},
]  # fmt: skip


def test_every_rule_fails_without_echoing_personal_data(record, ctx) -> None:
    found = []
    for variant in _VARIANTS:
        rec = {**record, **_PERSONAL, **variant}
        for code, rule in implementations().items():
            found.extend((code, item) for item in rule(rec, ctx))
    for variant in [{}, *_REF_VARIANTS]:
        rec = {**record, **_PERSONAL, **variant}
        for code, rule in implementations().items():
            found.extend((code, item) for item in rule(rec, _refdata_context(ctx)))
    # The variants exercise the whole catalogue, so every message below has been looked at.
    assert set(CATALOGUE) - {code for code, _ in found} == set()
    for code, item in found:
        assert item.code == code
        text = f"{item.code} {item.field} {item.message} {item!r}".upper()
        for needle in _NEEDLES:
            assert needle.upper() not in text, f"{code} finding leaks {needle!r}"
