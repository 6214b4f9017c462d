"""The catalogue and its implementations: 1:1, well-formed, and no personal data in messages."""

from __future__ import annotations

import re
import sys
from datetime import date
from pathlib import Path

import pytest
import yaml

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

REPO = Path(__file__).resolve().parents[4]
REPORTS_YML = REPO / "dbt_project" / "models" / "reports" / "_reports.yml"
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
}


def _record_columns() -> set[str]:
    models = yaml.safe_load(REPORTS_YML.read_text(encoding="utf-8"))["models"]
    (model,) = (m for m in models if m["name"] == "rpt_mifir_rts22_transactions")
    return {column["name"] for column in model["columns"]}


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
        "RR-VAL-004",
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
