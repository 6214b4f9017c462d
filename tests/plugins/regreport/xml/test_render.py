from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from regreport.xml.namespaces import NS_AUTH016, NS_HEAD001, NS_HEAD003
from regreport.xml.render import (
    RenderError,
    ReportHeader,
    format_date,
    format_datetime,
    format_decimal,
    make_business_message_id,
    render_auth016,
)
from regreport.xml.schema import validate_file

pytestmark = pytest.mark.unit

GOLDEN = Path(__file__).resolve().parents[3] / "fixtures" / "mifir" / "auth016_two_records.xml"
NS = {"h": NS_HEAD003, "a": NS_HEAD001, "d": NS_AUTH016}


def test_rendered_file_validates_against_the_envelope_schemas(
    tmp_path: Path, header: ReportHeader, schemas_dir: Path, record_variants: list[dict[str, Any]]
) -> None:
    out = tmp_path / "report.xml"
    result = render_auth016(out, header, record_variants)
    assert result.record_count == 3
    assert result.bytes == out.stat().st_size
    report = validate_file(out, schemas_dir)
    assert report.errors == []
    assert report.valid
    assert report.records == 3
    root = etree.parse(str(out)).getroot()
    assert root.tag == f"{{{NS_HEAD003}}}BizData"
    assert root.xpath("string(h:Hdr/a:AppHdr/a:MsgDefIdr)", namespaces=NS) == "auth.016.001.01"
    seller = root.xpath("//d:Tx/d:New/d:Sellr//d:Prsn/d:FrstNm", namespaces=NS)
    assert seller[0].text == "ÉLODIE & CO <TEST>"
    assert root.xpath("//d:Tx/d:New/d:ExctgPrsn/d:Clnt/text()", namespaces=NS) == ["NORE"]


def test_rerender_is_byte_identical(
    tmp_path: Path, header: ReportHeader, record_variants: list[dict[str, Any]]
) -> None:
    first, second = tmp_path / "a.xml", tmp_path / "b.xml"
    render_auth016(first, header, record_variants)
    render_auth016(second, header, iter([dict(r) for r in record_variants]))
    assert first.read_bytes() == second.read_bytes()


def test_golden_file(tmp_path: Path, header: ReportHeader, records: list[dict[str, Any]]) -> None:
    """Our output for two records, hand-checked against the XSD tree and REGULATORY.md E1.

    To refresh after an intended change: REGREPORT_UPDATE_GOLDEN=1 pytest this test, then
    review the diff of the fixture like any code change.
    """
    out = tmp_path / "report.xml"
    render_auth016(out, header, records)
    if os.environ.get("REGREPORT_UPDATE_GOLDEN") == "1":
        GOLDEN.write_bytes(out.read_bytes())
    assert out.read_bytes() == GOLDEN.read_bytes()


def test_golden_file_is_valid(schemas_dir: Path) -> None:
    assert validate_file(GOLDEN, schemas_dir).valid


def test_negative_price_goes_to_sign(
    tmp_path: Path, header: ReportHeader, person_vs_lei: dict[str, Any]
) -> None:
    out = tmp_path / "report.xml"
    render_auth016(out, header, [person_vs_lei])
    root = etree.parse(str(out)).getroot()
    mntry_val = root.xpath("//d:Pric/d:Pric/d:MntryVal", namespaces=NS)[0]
    assert [(c.tag.split("}")[1], c.text) for c in mntry_val] == [
        ("Amt", "0.00125"),
        ("Sgn", "false"),
    ]
    assert mntry_val[0].get("Ccy") == "EUR"


def test_bad_record_names_transaction_and_leaves_no_file(
    tmp_path: Path, header: ReportHeader, lei_vs_mic: dict[str, Any], person_vs_lei: dict[str, Any]
) -> None:
    person_vs_lei["quantity"] = 2500.0
    out = tmp_path / "report.xml"
    with pytest.raises(RenderError, match=r"QS20261126000002.*quantity"):
        render_auth016(out, header, [lei_vs_mic, person_vs_lei])
    assert list(tmp_path.iterdir()) == []


def test_missing_mandatory_column(
    tmp_path: Path, header: ReportHeader, lei_vs_mic: dict[str, Any]
) -> None:
    del lei_vs_mic["venue"]
    with pytest.raises(RenderError, match="venue is required"):
        render_auth016(tmp_path / "r.xml", header, [lei_vs_mic])


def test_no_records_is_an_error(tmp_path: Path, header: ReportHeader) -> None:
    with pytest.raises(RenderError, match="at least one Tx"):
        render_auth016(tmp_path / "r.xml", header, [])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [
        (Decimal("100.500000"), 17, "100.5"),
        (Decimal("100.000"), 17, "100"),
        (Decimal("1E+2"), 17, "100"),
        (Decimal("0.0000001"), 13, "0.0000001"),
        (Decimal("1.23E-7"), 13, "0.000000123"),
        (Decimal("-0.000"), 13, "0"),
        (Decimal("-12.340"), 13, "-12.34"),
        (42, 17, "42"),
        (Decimal("12345678901234567.8"), 17, "12345678901234567.8"),
    ],
)
def test_format_decimal(value: Decimal | int, digits: int, expected: str) -> None:
    assert format_decimal(value, max_fraction_digits=digits) == expected


@pytest.mark.parametrize(
    ("value", "digits", "error"),
    [
        (Decimal("0.12345678901234"), 13, "fractional digits"),
        (Decimal("1234567890123456789"), 17, "more than 18 digits"),
        (Decimal("NaN"), 13, "finite"),
    ],
)
def test_format_decimal_refuses_what_the_schema_cannot_hold(
    value: Decimal, digits: int, error: str
) -> None:
    with pytest.raises(ValueError, match=error):
        format_decimal(value, max_fraction_digits=digits)


@pytest.mark.parametrize("value", [1.5, "1.5", True])
def test_format_decimal_refuses_inexact_types(value: object) -> None:
    with pytest.raises(TypeError):
        format_decimal(value, max_fraction_digits=13)  # type: ignore[arg-type]


def test_format_datetime() -> None:
    cet = timezone(timedelta(hours=1))
    assert (
        format_datetime(datetime(2026, 11, 26, 9, 0, 0, 123, tzinfo=cet))
        == "2026-11-26T08:00:00.000123Z"
    )
    assert (
        format_datetime(datetime(2026, 11, 26, 9, 0, tzinfo=UTC)) == "2026-11-26T09:00:00.000000Z"
    )
    with pytest.raises(ValueError, match="timezone"):
        format_datetime(datetime(2026, 11, 26, 9, 0))  # noqa: DTZ001


def test_format_date_refuses_datetimes() -> None:
    assert format_date(date(1985, 3, 17)) == "1985-03-17"
    with pytest.raises(TypeError):
        format_date(datetime(1985, 3, 17, tzinfo=UTC))


def test_business_message_id_is_deterministic() -> None:
    args = ("mifir_rts22", date(2026, 11, 26), date(2026, 11, 27), 2)
    assert make_business_message_id(*args) == "MIFIR_RTS22-20261126-20261127-002"
    assert make_business_message_id(*args) == make_business_message_id(*args)
    with pytest.raises(ValueError, match="35"):
        make_business_message_id("a_very_long_report_type", date(2026, 1, 1), date(2026, 1, 2))


def test_header_rejects_naive_creation_time_and_bad_country(firm_lei: str) -> None:
    with pytest.raises(ValueError, match="timezone"):
        ReportHeader(firm_lei, "FR", "ID1", datetime(2026, 11, 27))  # noqa: DTZ001
    with pytest.raises(ValueError, match="country"):
        ReportHeader(firm_lei, "fra", "ID1", datetime(2026, 11, 27, tzinfo=UTC))
