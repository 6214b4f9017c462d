from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from regreport.xml.namespaces import NS_AUTH016
from regreport.xml.render import ReportHeader, render_auth016
from regreport.xml.schema import SchemaNotFoundError, load_schema, validate_file

pytestmark = pytest.mark.unit


@pytest.fixture
def rendered(tmp_path: Path, header: ReportHeader, records: list[dict[str, Any]]) -> Path:
    out = tmp_path / "report.xml"
    render_auth016(out, header, records)
    return out


def _line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def test_valid_envelope_passes(rendered: Path, schemas_dir: Path) -> None:
    report = validate_file(rendered, schemas_dir)
    assert report.valid
    assert report.errors == []
    assert report.records == 2


def test_bare_document_validates(rendered: Path, tmp_path: Path, schemas_dir: Path) -> None:
    document = etree.parse(str(rendered)).getroot().find(f".//{{{NS_AUTH016}}}Document")
    assert document is not None
    bare = tmp_path / "bare.xml"
    bare.write_bytes(etree.tostring(document, xml_declaration=True, encoding="UTF-8"))
    report = validate_file(bare, schemas_dir)
    assert report.valid, report.errors
    assert report.records == 2


def _break_first_and_second_record(rendered: Path) -> Path:
    text = rendered.read_text(encoding="utf-8")
    # Record 1: an executing entity that is not an LEI. Record 2: the mandatory SFT flag gone.
    text = text.replace(
        "<ExctgPty>529900T8BM49AURSDO55</ExctgPty>", "<ExctgPty>NOTALEI</ExctgPty>", 1
    )
    text = text.replace("<SctiesFincgTxInd>true</SctiesFincgTxInd>", "", 1)
    rendered.write_text(text, encoding="utf-8")
    return rendered


def test_invalid_content_is_reported_with_lines(rendered: Path, schemas_dir: Path) -> None:
    broken = _break_first_and_second_record(rendered)
    report = validate_file(broken, schemas_dir)
    assert not report.valid
    assert report.records == 2
    by_line = {
        (e.line, "ExctgPty" in e.message or "AddtlAttrbts" in e.message) for e in report.errors
    }
    assert (_line_of(broken, "NOTALEI"), True) in by_line
    assert (_line_of(broken, "QS20261126000002"), True) in by_line
    assert any("pattern" in e.message for e in report.errors)
    assert any("SctiesFincgTxInd" in e.message for e in report.errors)


def test_large_invalid_file_still_lists_errors(rendered: Path, schemas_dir: Path) -> None:
    """Above the full-parse limit the streaming errors are kept, without line numbers."""
    broken = _break_first_and_second_record(rendered)
    report = validate_file(broken, schemas_dir, full_parse_max_bytes=0)
    assert not report.valid
    assert len(report.errors) == 2
    assert all(e.line is None for e in report.errors)


def test_max_errors_truncates(rendered: Path, schemas_dir: Path) -> None:
    broken = _break_first_and_second_record(rendered)
    report = validate_file(broken, schemas_dir, max_errors=1)
    assert len(report.errors) == 1
    assert report.truncated


def test_malformed_xml_reports_the_syntax_error_line(tmp_path: Path, schemas_dir: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Document xmlns="{NS_AUTH016}">\n'
        "<FinInstrmRptgTxRpt>\n"
        "<Tx><Cxl><TxId>A1</TxId></Cxl></Tx>\n"
        "<Tx><Cxl><TxId>A2</TxId>\n"
        "<ExctgPty>529900T8BM49AURSDO55</Exctg>\n"
        "</Cxl></Tx></FinInstrmRptgTxRpt></Document>\n",
        encoding="utf-8",
    )
    report = validate_file(bad, schemas_dir)
    assert not report.valid
    assert len(report.errors) == 1
    assert report.errors[0].line == 6
    assert "mismatch" in report.errors[0].message
    assert report.records == 1


def test_empty_file_is_reported(tmp_path: Path, schemas_dir: Path) -> None:
    empty = tmp_path / "empty.xml"
    empty.write_bytes(b"")
    report = validate_file(empty, schemas_dir)
    assert not report.valid
    assert report.errors


def test_entities_are_not_expanded(tmp_path: Path, schemas_dir: Path) -> None:
    hostile = tmp_path / "xxe.xml"
    hostile.write_text(
        '<?xml version="1.0"?>\n'
        '<!DOCTYPE Document [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        f'<Document xmlns="{NS_AUTH016}"><FinInstrmRptgTxRpt><Tx><Cxl>'
        "<TxId>&x;</TxId><ExctgPty>529900T8BM49AURSDO55</ExctgPty>"
        "<SubmitgPty>529900T8BM49AURSDO55</SubmitgPty></Cxl></Tx></FinInstrmRptgTxRpt>"
        "</Document>\n",
        encoding="utf-8",
    )
    report = validate_file(hostile, schemas_dir)
    assert not report.valid
    assert not any("root:" in e.message for e in report.errors)


def test_other_namespace_version_is_rejected_and_accepted_by_its_own_schema(
    tmp_path: Path, header: ReportHeader, records: list[dict[str, Any]], schemas_dir: Path
) -> None:
    draft = tmp_path / "draft.xml"
    render_auth016(draft, dataclasses.replace(header, schema_version="1.0.3"), records)
    assert not validate_file(draft, schemas_dir).valid
    assert validate_file(draft, schemas_dir, version="1.0.3").valid


def test_missing_schemas_dir_explains_where_to_get_them(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(SchemaNotFoundError) as excinfo:
        load_schema(missing)
    message = str(excinfo.value)
    assert str(missing) in message
    assert "REGREPORT_SCHEMAS_DIR" in message
    assert "ESMA" in message


def test_missing_schema_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "head.003.001.01.xsd").write_text("<x/>", encoding="utf-8")
    with pytest.raises(SchemaNotFoundError, match="head.001.001.01_ESMAUG_1.0.0.xsd"):
        load_schema(tmp_path)


def test_schema_is_cached(schemas_dir: Path) -> None:
    assert load_schema(schemas_dir) is load_schema(schemas_dir / ".." / schemas_dir.name)
