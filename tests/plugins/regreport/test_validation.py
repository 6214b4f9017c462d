"""`regreport.validation`: the XSDs, then the rule catalogue, on any auth.016 file.

Files: `tests/fixtures/mifir/auth016_other_tool_bad_lei.xml` (a bare `Document` as another tool
writes it, record 1 with a buyer LEI whose check digits are wrong) and the same records in a
head.003 envelope; the golden files of the renderer; copies of them changed on purpose.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from regreport import validation
from regreport.config import Settings
from regreport.rules import CATALOGUE
from regreport.rules._registry import FILE_CODES
from regreport.validation import check_records, validate_auth016

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "mifir"
OTHER_TOOL = FIXTURES / "auth016_other_tool_bad_lei.xml"
GOLDEN_PAIR = FIXTURES / "auth016_two_records.xml"
GOLDEN_DIR = Path(__file__).resolve().parent / "xml" / "golden"
BAD_LEI = "969500QSCLIENT000178"


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings.from_env()


def _validate(path: Path, settings: Settings, **kwargs: object):  # noqa: ANN202
    return validate_auth016(
        path, settings.schemas_dir, settings.schema_version, settings.refdata_dir, **kwargs
    )


def enveloped(tmp_path: Path, document: Path = OTHER_TOOL) -> Path:
    """`document`'s `Document` inside the head.003 envelope of the golden pair."""
    envelope = GOLDEN_PAIR.read_text(encoding="utf-8")
    start, end = envelope.index("<Document"), envelope.index("</Document>") + len("</Document>")
    text = document.read_text(encoding="utf-8")
    body = text[text.index("<auth:Document") :]
    path = tmp_path / "enveloped.xml"
    path.write_text(envelope[:start] + body.strip() + envelope[end:], encoding="utf-8")
    return path


def _derived(tmp_path: Path, source: Path, old: str, new: str, count: int = 1) -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / f"derived-{source.name}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")
    return path


@pytest.mark.parametrize("wrap", [False, True], ids=["bare-document", "bizdata-envelope"])
def test_bad_lei_check_digits_is_an_error_with_code_record_and_tx_id(
    tmp_path: Path, settings: Settings, wrap: bool
) -> None:
    path = enveloped(tmp_path) if wrap else OTHER_TOOL

    report = _validate(path, settings)

    assert report.schema.valid
    assert report.content_checked
    assert not report.valid
    assert report.records == 2
    assert (report.errors, report.warnings, report.records_with_errors) == (1, 0, 1)
    assert dict(report.by_code) == {"RR-LEI-002": 1}
    (item,) = report.findings
    assert (item.index, item.tx_id, item.action) == (1, "OTHERTOOL0001", "New")
    assert (item.code, item.esma_rule, item.rule_id) == ("RR-LEI-002", "CON-070", "CON-070")
    assert item.field == "buyer_id"
    assert item.message == CATALOGUE["RR-LEI-002"].message
    assert item.value == BAD_LEI
    # Values leave the report only on request.
    assert "value" not in item.to_dict()
    assert BAD_LEI not in str(report.to_dict())
    assert item.to_dict(show_values=True)["value"] == BAD_LEI


def test_xsd_failure_skips_the_content_rules(tmp_path: Path, settings: Settings) -> None:
    path = _derived(tmp_path, OTHER_TOOL, "<auth:TradVn>XPAR</auth:TradVn>", "")

    report = _validate(path, settings)

    assert not report.schema.valid
    assert not report.content_checked
    assert not report.valid
    assert report.findings == []
    assert report.records == 0


def test_warnings_alone_leave_the_file_valid(tmp_path: Path, settings: Settings) -> None:
    # The golden pair's second record: a negative share price (warning RR-VAL-004) and,
    # off venue, a country of branch membership (RR-MIC-004, an error): drop the latter.
    path = _derived(
        tmp_path,
        GOLDEN_PAIR,
        "<TradVn>XOFF</TradVn><CtryOfBrnch>FR</CtryOfBrnch>",
        "<TradVn>XOFF</TradVn>",
    )

    report = _validate(path, settings)

    assert report.valid
    assert (report.errors, report.warnings) == (0, 1)
    assert [f.code for f in report.findings] == ["RR-VAL-004"]


def test_the_golden_pair_breaks_a_venue_rule(settings: Settings) -> None:
    """Field 37 (country of branch membership) off venue: a content error the XSD accepts."""
    report = _validate(GOLDEN_PAIR, settings)

    assert not report.valid
    assert [(f.index, f.code, f.field) for f in report.findings if f.severity == "error"] == [
        (2, "RR-MIC-004", "country_of_branch")
    ]


@pytest.mark.parametrize(
    "name",
    [p.stem for p in sorted(GOLDEN_DIR.glob("*.xml")) if p.stem[:2] not in ("14", "15")],
)
def test_clean_renderings_pass(settings: Settings, name: str) -> None:
    """The renderer's golden files pass, although the file does not say the instrument type.

    (Cases 14 and 15 exercise XSD branches the report contract does not use: an option
    without ISIN, a future on an index by name; the catalogue rejects those from the
    warehouse too.)
    """
    report = _validate(GOLDEN_DIR / f"{name}.xml", settings)

    assert report.valid, [(f.code, f.field) for f in report.findings]
    assert report.errors == 0


def test_rules_needing_columns_a_file_lacks_are_skipped() -> None:
    # A share identified by ISIN only: the file does not say it is a share.
    assert "RR-INS-001" not in FILE_CODES
    assert "RR-INS-005" not in FILE_CODES
    assert "RR-LEI-002" in FILE_CODES
    assert not CATALOGUE["RR-INS-001"].from_file


def test_each_record_is_checked_against_its_own_trade_date(
    tmp_path: Path, settings: Settings
) -> None:
    """No reporting period in a file: "outside the period" (RR-TS-002) cannot fire."""
    path = _derived(tmp_path, OTHER_TOOL, "2026-11-26T10:02:11Z", "2025-03-04T10:02:11Z")

    report = _validate(path, settings)

    assert "RR-TS-002" not in report.by_code
    assert dict(report.by_code) == {"RR-LEI-002": 1}


def test_cancellation_is_checked_on_its_keys_only(tmp_path: Path, settings: Settings) -> None:
    clean = _validate(GOLDEN_DIR / "16_cancel.xml", settings)
    assert clean.valid
    assert clean.records == 1

    path = _derived(
        tmp_path,
        GOLDEN_DIR / "16_cancel.xml",
        "<ExctgPty>529900T8BM49AURSDO55</ExctgPty>",
        "<ExctgPty>529900T8BM49AURSDO56</ExctgPty>",
    )
    report = _validate(path, settings)

    assert [(f.action, f.code, f.field, f.esma_rule) for f in report.findings] == [
        ("Cxl", "RR-LEI-002", "executing_entity_lei", None)
    ]


def test_findings_are_capped_but_all_counted(tmp_path: Path, settings: Settings) -> None:
    text = OTHER_TOOL.read_text(encoding="utf-8")
    first = re.search(
        r"    <auth:Tx>\n      <auth:New>.*?</auth:New>\n    </auth:Tx>\n", text, re.S
    )
    assert first
    path = tmp_path / "many.xml"
    path.write_text(text.replace(first.group(0), first.group(0) * 30), encoding="utf-8")

    report = _validate(path, settings, max_findings=5)

    assert report.records == 31
    assert report.errors == 30
    assert len(report.findings) == 5
    assert report.truncated


def test_progress_is_reported_on_big_files(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(validation, "PROGRESS_EVERY", 10)
    text = GOLDEN_DIR.joinpath("01_share_aotc_lei_client_ccp.xml").read_text(encoding="utf-8")
    line = re.search(r"^\s*<Tx><New>.*</New></Tx>\n", text, re.M)
    assert line
    path = tmp_path / "big.xml"
    path.write_text(text.replace(line.group(0), line.group(0) * 25), encoding="utf-8")
    seen: list[int] = []

    results = list(check_records(path, settings.refdata_dir, progress=seen.append))

    assert len(results) == 25
    assert seen == [10, 20]
