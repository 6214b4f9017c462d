from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from regreport.xml import schema as schema_module
from regreport.xml.namespaces import NS_AUTH016
from regreport.xml.render import ReportHeader, render_auth016
from regreport.xml.schema import (
    SchemaNotFoundError,
    _chunk_safe,
    _hardened_parser,
    _has_cross_record_constraints,
    _record_model_is_tx_only,
    _validate_chunked,
    load_schema,
    validate_file,
)

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


# --------------------------------------------------------------------------------------------
# Chunked pass: as strict as whole-file validation
# --------------------------------------------------------------------------------------------

#: Small enough that the many-record file below is cut into several chunks.
SMALL_CHUNK = 4096
MANY = 30


@pytest.fixture
def many_records(record_variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """MANY records cycling through the three variants, each with its own transaction id."""
    out = []
    for i in range(MANY):
        record = dict(record_variants[i % len(record_variants)])
        record["tx_id"] = f"QS2026112600{i:04d}"
        out.append(record)
    return out


@pytest.fixture
def many(tmp_path: Path, header: ReportHeader, many_records: list[dict[str, Any]]) -> Path:
    out = tmp_path / "many.xml"
    render_auth016(out, header, many_records)
    return out


def _whole_tree_valid(path: Path, schemas_dir: Path) -> bool:
    """The reference: the whole file as one tree, validated at once."""
    try:
        tree = etree.parse(str(path), _hardened_parser())
    except etree.XMLSyntaxError:
        return False
    return bool(load_schema(schemas_dir).validate(tree))


def _chunks_used(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the size of every chunk the chunked pass validates."""
    sizes: list[int] = []
    original = schema_module._chunk_records

    def spy(body: bytes, *args: Any) -> int | None:
        sizes.append(len(body))
        return original(body, *args)

    monkeypatch.setattr(schema_module, "_chunk_records", spy)
    return sizes


def test_chunked_pass_validates_in_several_chunks(
    many: Path, schemas_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes = _chunks_used(monkeypatch)
    chunked = _validate_chunked(many, load_schema(schemas_dir), SMALL_CHUNK)
    # Every record is counted once: MANY records were rendered.
    assert chunked == MANY
    # Records are ~1.2 kB, so a 4 kB chunk holds a few of them: the file is cut several times.
    assert len(sizes) > 3
    assert max(sizes) < 2 * SMALL_CHUNK
    report = validate_file(many, schemas_dir, chunk_bytes=SMALL_CHUNK)
    assert report == validate_file(many, schemas_dir, chunk_bytes=None)
    assert report.valid
    assert report.records == MANY


def test_one_chunk_holds_a_small_file(
    rendered: Path, schemas_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes = _chunks_used(monkeypatch)
    assert _validate_chunked(rendered, load_schema(schemas_dir), 1 << 20) == 2
    assert len(sizes) == 1


def _replace_nth(text: str, old: str, new: str, n: int) -> str:
    """Replace the n-th (0-based; -1 = last) occurrence of `old`."""
    starts = [i for i in range(len(text)) if text.startswith(old, i)]
    at = starts[n]
    return text[:at] + new + text[at + len(old) :]


def _tx_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip().startswith("<Tx><New>")]


def _drop_all_records(text: str) -> str:
    for line in _tx_lines(text):
        text = text.replace(line + "\n", "")
    return text


#: Broken variants of the many-record file: each must be found invalid by both passes.
BROKEN: dict[str, Any] = {
    # Header: the creation date is not a date-time.
    "header": lambda t: t.replace("<CreDt>2026-11-27T00:00:00", "<CreDt>yesterday", 1),
    # Envelope: BizData's element after Hdr renamed.
    "envelope": lambda t: t.replace("<Pyld>", "<Payload>", 1).replace("</Pyld>", "</Payload>"),
    # First record: an executing entity that is not an LEI.
    "first record": lambda t: _replace_nth(t, "<ExctgPty>", "<ExctgPty>X", 0),
    # Last record: the mandatory SFT indicator gone.
    "last record": lambda t: _replace_nth(t, "<SctiesFincgTxInd>false</SctiesFincgTxInd>", "", -1),
    # A record in the middle of the file (past the first chunk) with a mismatched end tag.
    "ill-formed": lambda t: _replace_nth(t, "</TradVn>", "</TradVenue>", MANY // 2),
    # Unclosed last record: a truncated file (libxml2's streaming validator alone passes it).
    "truncated": lambda t: t[: t.rindex("</Tx>")],
    # Wrong namespace for the payload.
    "namespace": lambda t: t.replace(NS_AUTH016, NS_AUTH016 + ".x", 1),
    # Zero records: Tx is 1..n.
    "no records": _drop_all_records,
    # A second report element opened between records (Document holds exactly one).
    "second report": lambda t: _replace_nth(
        t, "<Tx><New>", "</FinInstrmRptgTxRpt><FinInstrmRptgTxRpt><Tx><New>", MANY // 2
    ),
    # Text between records (element-only content).
    "text between records": lambda t: _replace_nth(t, "<Tx><New>", "stray<Tx><New>", MANY - 1),
    # An element that is not a Tx among the records.
    "foreign element": lambda t: _replace_nth(t, "<Tx><New>", "<Foo/><Tx><New>", MANY // 3),
    # A record whose choice is New and Cxl at once.
    "two choices": lambda t: _replace_nth(
        t, "</New></Tx>", "</New><Cxl><TxId>A</TxId></Cxl></Tx>", 4
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_chunked_pass_is_as_strict_as_whole_file_validation(
    name: str, many: Path, schemas_dir: Path
) -> None:
    broken = many.with_name(f"broken-{name.replace(' ', '-')}.xml")
    broken.write_text(BROKEN[name](many.read_text(encoding="utf-8")), encoding="utf-8")
    assert not _whole_tree_valid(broken, schemas_dir)
    assert _validate_chunked(broken, load_schema(schemas_dir), SMALL_CHUNK) is None
    report = validate_file(broken, schemas_dir, chunk_bytes=SMALL_CHUNK)
    assert not report.valid
    assert report.errors
    # The error report is the streaming pass's, identical to validating without chunks.
    assert report == validate_file(broken, schemas_dir, chunk_bytes=None)


#: Valid files the chunked pass declines (it cannot prove them), left to the streaming pass.
UNUSUAL: dict[str, Any] = {
    "comment between records": lambda t: _replace_nth(
        t, "<Tx><New>", "<!-- a comment --><Tx><New>", MANY // 2
    ),
    "processing instruction": lambda t: _replace_nth(t, "<Tx><New>", "<?pi x?><Tx><New>", 2),
    "CDATA in a value": lambda t: _replace_nth(t, "<TradVn>XPAR", "<TradVn><![CDATA[XPAR]]>", 3),
    "report name in a value": lambda t: t.replace(
        "<FrstNm>MARIE</FrstNm>", "<FrstNm>FinInstrmRptgTxRpt</FrstNm>", 1
    ),
    "doctype": lambda t: t.replace("?>\n", "?>\n<!DOCTYPE BizData>\n", 1),
    "latin-1 declaration": lambda t: t.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"', 1),
    "attribute on the report": lambda t: t.replace(
        "<FinInstrmRptgTxRpt>", '<FinInstrmRptgTxRpt xmlns:x="urn:x">', 1
    ),
}


@pytest.mark.parametrize("name", sorted(UNUSUAL))
def test_unusual_valid_files_fall_back_to_streaming(
    name: str, many: Path, schemas_dir: Path
) -> None:
    odd = many.with_name("odd.xml")
    text = UNUSUAL[name](many.read_text(encoding="utf-8"))
    # Latin-1 cannot encode the renderer's É; the declaration alone is what is tested.
    odd.write_bytes(text.encode("latin-1" if "ISO-8859-1" in text else "utf-8"))
    assert _whole_tree_valid(odd, schemas_dir)
    assert _validate_chunked(odd, load_schema(schemas_dir), SMALL_CHUNK) is None
    report = validate_file(odd, schemas_dir, chunk_bytes=SMALL_CHUNK)
    assert report.valid, report.errors
    assert report.records == MANY


def test_namespace_prefixed_records_are_chunked(
    many: Path, schemas_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another tool's spelling: a prefixed payload with one record per line still chunks."""
    text = many.read_text(encoding="utf-8")
    start = text.index("<Document")
    end = text.index("</Document>") + len("</Document>")
    payload = etree.fromstring(text[start:end].encode())
    renamed = etree.Element(f"{{{NS_AUTH016}}}Document", nsmap={"a": NS_AUTH016})
    renamed.extend(payload)  # lxml re-spells the moved elements with the new prefix
    prefixed = etree.tostring(renamed, encoding="unicode").replace(
        "<a:Tx><a:New>", "\n<a:Tx><a:New>"
    )
    odd = many.with_name("prefixed.xml")
    odd.write_text(text[:start] + prefixed + text[end:], encoding="utf-8")
    sizes = _chunks_used(monkeypatch)
    assert _validate_chunked(odd, load_schema(schemas_dir), SMALL_CHUNK) == MANY
    assert len(sizes) > 1


def _xsd(body: str) -> etree._ElementTree:
    return etree.ElementTree(
        etree.fromstring(
            f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">{body}</xs:schema>'
        )
    )


_REPORT_TYPE = (
    '<xs:element name="FinInstrmRptgTxRpt" '
    'type="FinancialInstrumentReportingTransactionReportV01"/>'
    '<xs:complexType name="FinancialInstrumentReportingTransactionReportV01"><xs:sequence>'
    '<xs:element name="Tx" type="T" minOccurs="1" maxOccurs="{max}"/>{more}'
    "</xs:sequence></xs:complexType>"
)


def test_chunking_needs_an_unbounded_sequence_of_tx_only() -> None:
    assert _record_model_is_tx_only(_xsd(_REPORT_TYPE.format(max="unbounded", more="")))
    # DATTRA caps Tx at 500,000 per file: a per-chunk check could not see the total.
    assert not _record_model_is_tx_only(_xsd(_REPORT_TYPE.format(max="500000", more="")))
    # Anything after Tx would make the concatenation of valid chunks possibly invalid.
    more = '<xs:element name="SplmtryData" type="S" minOccurs="0"/>'
    assert not _record_model_is_tx_only(_xsd(_REPORT_TYPE.format(max="unbounded", more=more)))


def test_chunking_needs_no_rule_across_records() -> None:
    assert not _has_cross_record_constraints(_xsd('<xs:element name="A" type="xs:string"/>'))
    unique = (
        '<xs:element name="A"><xs:complexType/><xs:unique name="u">'
        '<xs:selector xpath="B"/><xs:field xpath="@id"/></xs:unique></xs:element>'
    )
    assert _has_cross_record_constraints(_xsd(unique))
    assert _has_cross_record_constraints(_xsd('<xs:attribute name="id" type="xs:ID"/>'))


def test_esma_reporting_schemas_allow_chunking(schemas_dir: Path) -> None:
    assert _chunk_safe(schemas_dir, "1.1.0")
    assert _chunk_safe(schemas_dir, "1.0.3")


def test_truncated_file_is_a_syntax_error_with_its_line(many: Path, schemas_dir: Path) -> None:
    text = many.read_text(encoding="utf-8")
    cut = text[: text.rindex("</Tx>")]
    truncated = many.with_name("truncated.xml")
    truncated.write_text(cut, encoding="utf-8")
    for chunk_bytes in (SMALL_CHUNK, None):
        report = validate_file(truncated, schemas_dir, chunk_bytes=chunk_bytes)
        assert not report.valid
        # The parser stops at the end of the last (unfinished) line.
        assert [e.line for e in report.errors] == [cut.count("\n") + 1]
        # Every record but the unfinished last one was seen.
        assert report.records == MANY - 1
