"""The auth.016 reader: records rendered by `render.py` read back field for field.

Every golden case (one per RTS 22 situation) and the shared record variants are rendered, read
back and compared column by column; a bare `Document` reads like its envelope; the derived
columns (instrument type from the CFI, FIRDS flag, trade date) are the ones the report had.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from lxml import etree

from regreport.xml.read import ReadError, instrument_type_of_cfi, read_auth016
from regreport.xml.render import ReportHeader, render_auth016

pytestmark = pytest.mark.unit

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
FIXTURE = Path(__file__).resolve().parents[3] / "fixtures" / "mifir" / "auth016_two_records.xml"
#: Report columns an auth.016 file does not carry.
NOT_IN_FILE = frozenset({"execution_id", "extract_run_id", "leg"})


def _load_cases() -> ModuleType:
    spec = importlib.util.spec_from_file_location("regreport_read_cases", GOLDEN_DIR / "cases.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


CASES = _load_cases()


def _expected(row: dict[str, Any]) -> dict[str, Any]:
    """What the reader must give back for `row`: the renderer's defaults made explicit."""
    expected = {k: v for k, v in row.items() if k not in NOT_IN_FILE}
    if expected.get("record_type") == "CANC":
        return {
            k: expected[k]
            for k in ("record_type", "tx_id", "executing_entity_lei", "submitting_entity_lei")
        }
    expected.setdefault("record_type", "NEWT")
    expected["record_type"] = expected["record_type"] or "NEWT"
    expected["price_type"] = expected.get("price_type") or "MNTRY"
    expected["quantity_type"] = expected.get("quantity_type") or "UNIT"
    if expected.get("instrument_in_firds") is None:
        expected["instrument_in_firds"] = True
    if expected["instrument_in_firds"]:
        expected.pop("instrument_type", None)  # an ISIN alone does not say the type
    # Columns the renderer does not write for the type (a fixture may leave them populated).
    for prefix in ("executing_person", "investment_decision"):
        kind = expected.get(f"{prefix}_type")
        unused = {
            "CLIENT": ("id", "scheme", "branch_country"),
            "ALGO": ("scheme", "branch_country"),
        }
        for part in unused.get(kind, ()):
            expected.pop(f"{prefix}_{part}", None)
    return expected


def _assert_round_trip(row: dict[str, Any], read: dict[str, Any]) -> None:
    expected = _expected(row)
    for key, value in expected.items():
        assert read.get(key) == value, key
        if isinstance(value, datetime):
            assert read[key].utcoffset() is not None, key
    # Whatever the reader adds beyond the row is empty, except what it derives.
    derived = {"trading_date", "instrument_type", "instrument_in_firds"}
    extra = {k: v for k, v in read.items() if k not in expected and k not in derived}
    assert all(v is None for v in extra.values()), extra


def _render(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    path = tmp_path / "out.xml"
    render_auth016(path, ReportHeader(**CASES.HEADER_FIELDS), rows)
    return path


@pytest.mark.parametrize("name", sorted(CASES.CASES))
def test_golden_case_round_trips(tmp_path: Path, name: str) -> None:
    row = dict(CASES.CASES[name])
    (read,) = read_auth016(_render(tmp_path, [row]))

    assert read.index == 1
    assert read.tx_id == row["tx_id"]
    assert read.action == ("Cxl" if row.get("record_type") == "CANC" else "New")
    _assert_round_trip(row, read.record)


def test_record_variants_round_trip(tmp_path: Path, record_variants: list[dict[str, Any]]) -> None:
    read = list(read_auth016(_render(tmp_path, record_variants)))

    assert [r.index for r in read] == [1, 2, 3]
    for row, got in zip(record_variants, read, strict=True):
        _assert_round_trip(row, got.record)
    # Values as the database gives them: exact decimals (the sign from Sgn), aware UTC time.
    assert read[1].record["price"] == Decimal("-0.00125")
    assert read[0].record["trading_datetime"] == datetime(2026, 11, 26, 8, 0, 0, 123, tzinfo=UTC)
    assert read[0].record["trading_date"] == date(2026, 11, 26)
    assert read[2].record["buyer_id_type"] == "INTC"
    assert read[2].record["seller_first_name"] == "ÉLODIE & CO <TEST>"


def test_derived_instrument_columns(tmp_path: Path) -> None:
    rows = [
        CASES.CASES["14_option_not_in_firds"],
        CASES.CASES["15_future_not_in_firds"],
        CASES.CASES["13_bond"],
    ]
    read = [r.record for r in read_auth016(_render(tmp_path, rows))]

    assert [r["instrument_type"] for r in read] == ["OPTION", "FUTURE", None]
    assert [r["instrument_in_firds"] for r in read] == [False, False, True]


@pytest.mark.parametrize(
    ("cfi", "kind"),
    [
        ("ESVUFR", "SHARE"),
        ("CEOGEU", "ETF"),
        ("DBFTFB", "BOND"),
        ("OCESPS", "OPTION"),
        ("FFSCSX", "FUTURE"),
        ("SRCCSP", None),
        (None, None),
    ],
)
def test_instrument_type_of_cfi(cfi: str | None, kind: str | None) -> None:
    assert instrument_type_of_cfi(cfi) == kind


def test_bare_document_reads_like_the_envelope(tmp_path: Path) -> None:
    text = FIXTURE.read_text(encoding="utf-8")
    start = text.index("<Document")
    end = text.index("</Document>") + len("</Document>")
    bare = tmp_path / "bare.xml"
    bare.write_text('<?xml version="1.0" encoding="UTF-8"?>\n' + text[start:end] + "\n")

    enveloped = [(r.index, r.tx_id, r.action, r.record) for r in read_auth016(FIXTURE)]
    alone = [(r.index, r.tx_id, r.action, r.record) for r in read_auth016(bare)]

    assert alone == enveloped
    assert [r[1] for r in alone] == ["QS20261126000001", "QS20261126000002"]


def test_draft_namespace_is_read(tmp_path: Path) -> None:
    text = FIXTURE.read_text(encoding="utf-8").replace(
        "tech:xsd:auth.016.001.01", "tech:xsd:DRAFT15auth.016.001.01"
    )
    path = tmp_path / "draft.xml"
    path.write_text(text, encoding="utf-8")

    assert [r.tx_id for r in read_auth016(path)] == ["QS20261126000001", "QS20261126000002"]


def test_not_well_formed_is_a_read_error_without_content(tmp_path: Path) -> None:
    path = tmp_path / "broken.xml"
    text = FIXTURE.read_text(encoding="utf-8").replace("</TradVn>", "</TradVenue>", 1)
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ReadError) as info:
        list(read_auth016(path))
    assert "MARIE" not in str(info.value)


def test_records_are_dropped_once_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Flat memory: when the next record is parsed, the earlier ones are gone from the tree."""
    text = FIXTURE.read_text(encoding="utf-8")
    line = re.search(r"^\s*<Tx><New>.*</New></Tx>\n", text, re.M)
    assert line
    path = tmp_path / "many.xml"
    path.write_text(text.replace(line.group(0), line.group(0) * 500), encoding="utf-8")
    real_iterparse = etree.iterparse
    siblings: list[int] = []

    def spy(*args: Any, **kwargs: Any) -> Iterator[tuple[str, Any]]:
        for event, elem in real_iterparse(*args, **kwargs):
            parent = elem.getparent()
            yield event, elem
            # Back here when the reader asks for the next record: are earlier ones attached?
            # (Records after this one may be: the parser reads ahead.)
            if parent is not None and parent.tag.endswith("FinInstrmRptgTxRpt"):
                siblings.append(parent.index(elem))

    monkeypatch.setattr(etree, "iterparse", spy)

    assert sum(1 for _ in read_auth016(path)) == 501
    assert len(siblings) >= 500
    assert max(siblings) == 0
