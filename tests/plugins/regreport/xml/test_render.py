from __future__ import annotations

import os
import random
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from regreport.xml.namespaces import NS_AUTH016, NS_HEAD001, NS_HEAD003
from regreport.xml.render import (
    RenderError,
    ReportHeader,
    _format_price,
    _format_quantity,
    _render_reference,
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


# --------------------------------------------------------------------------------------------
# The text writer against the element-based reference writer
# --------------------------------------------------------------------------------------------

_CET = timezone(timedelta(hours=1))


def _rng(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 - test data, not secrets


_ZONES = (UTC, _CET, timezone(timedelta(hours=-5, minutes=-30)), ZoneInfo("Europe/Paris"))
_NAMES = ("MARIE", "JEAN-LUC", "O'BRIEN", "ÉLODIE", "ZOË & CO", "A<B>C", '"QUOTED"', "李", "😀")


def _synthetic_record(rng: random.Random, i: int) -> dict[str, Any]:
    """One realistic record with every branch the renderer supports chosen at random."""
    record: dict[str, Any] = {
        "tx_id": f"QS2026112600{i:05d}",
        "executing_entity_lei": "529900T8BM49AURSDO55",
        "investment_firm_ind": rng.random() < 0.8,
        "submitting_entity_lei": "529900T8BM49AURSDO55",
        "transmission_ind": rng.random() < 0.3,
        "trading_datetime": datetime(2026, 11, 26, tzinfo=rng.choice(_ZONES))
        + timedelta(microseconds=rng.randrange(86_400_000_000)),
        "trading_capacity": rng.choice(("DEAL", "AOTC", "MTCH")),
        "quantity": rng.choice(
            (
                Decimal(rng.randrange(1, 10**6)),
                Decimal(rng.randrange(1, 10**9)).scaleb(-rng.randrange(0, 10)),
                Decimal("1E+3"),
                rng.randrange(1, 5000),
            )
        ),
        "price": Decimal(rng.randrange(-(10**8), 10**10)).scaleb(-rng.randrange(0, 12)),
        "price_currency": rng.choice(("EUR", "USD", "GBP")),
        "venue": rng.choice(("XPAR", "XETR", "XOFF", "XXXX")),
        "venue_transaction_id": rng.choice((None, f"V{i:09d}")),
        "country_of_branch": rng.choice((None, "FR", "DE")),
        "instrument_isin": rng.choice(("FR0000120271", "DE0007164600", "NL0010273215")),
        "short_selling_ind": rng.choice((None, "SESH", "SELL", "SSEX", "UNDI")),
        "securities_financing_ind": rng.random() < 0.1,
    }
    for side in ("buyer", "seller"):
        kind = rng.choice(("LEI", "LEI", "MIC", "PERSON", "PERSON", "INTC"))
        record[f"{side}_id_type"] = kind
        record[f"{side}_branch_country"] = rng.choice((None, "FR", "IT"))
        if kind == "LEI":
            record[f"{side}_id"] = rng.choice(("549300O897ZC5H7CY412", "529900T8BM49AURSDO55"))
        elif kind == "MIC":
            record[f"{side}_id"] = rng.choice(("XPAR", "XETR"))
        elif kind == "PERSON":
            record[f"{side}_id"] = f"FR{rng.randrange(10**12):012d}"
            record[f"{side}_id_scheme"] = rng.choice(("NIDN", "CCPT", "CONCAT"))
            record[f"{side}_first_name"] = rng.choice(_NAMES)
            record[f"{side}_surname"] = rng.choice(_NAMES)
            record[f"{side}_birth_date"] = date(1950, 1, 1) + timedelta(days=rng.randrange(20000))
    for prefix, kinds in (
        ("investment_decision", (None, "PERSON", "ALGO")),
        ("executing_person", ("PERSON", "ALGO", "CLIENT")),
    ):
        kind = rng.choice(kinds)
        record[f"{prefix}_type"] = kind
        if kind == "PERSON":
            record[f"{prefix}_id"] = rng.choice(
                (f"FR{rng.randrange(10**12):012d}", f"FR{rng.randrange(10**8):08d}JEAN#DUPON")
            )
            record[f"{prefix}_scheme"] = rng.choice(("NIDN", "CCPT", "CONCAT"))
            record[f"{prefix}_branch_country"] = rng.choice(("FR", "DE"))
        elif kind == "ALGO":
            record[f"{prefix}_id"] = f"ALGO{rng.randrange(100)}"
    return record


def _both_writers(tmp_path: Path, header: ReportHeader, records: list[dict[str, Any]]) -> Any:
    """Render with both writers; return the bytes, or the error, which must be the same."""
    outcomes = []
    for name, render in (("fast.xml", render_auth016), ("ref.xml", _render_reference)):
        out = tmp_path / name
        try:
            render(out, header, [dict(r) for r in records])
        except Exception as exc:  # noqa: BLE001 - compared below
            outcomes.append((type(exc), str(exc)))
        else:
            outcomes.append(out.read_bytes())
            out.unlink()
    assert outcomes[0] == outcomes[1]
    return outcomes[0]


def test_text_writer_matches_reference_writer(
    tmp_path: Path, header: ReportHeader, record_variants: list[dict[str, Any]]
) -> None:
    """Thousands of varied records: byte-identical files, the reference writer's bytes."""
    rng = _rng(20261126)
    records = record_variants + [_synthetic_record(rng, i) for i in range(4000)]
    data = _both_writers(tmp_path, header, records)
    assert isinstance(data, bytes)
    assert data.count(b"<Tx><New>") == len(records)
    # The special characters of the names did reach the file, escaped.
    assert b"ZO\xc3\x8b &amp; CO" in data
    assert b"A&lt;B&gt;C" in data
    assert b'"QUOTED"' in data


def test_text_writer_output_validates(
    tmp_path: Path, header: ReportHeader, schemas_dir: Path
) -> None:
    rng = _rng(7)
    out = tmp_path / "report.xml"
    render_auth016(out, header, (_synthetic_record(rng, i) for i in range(500)))
    report = validate_file(out, schemas_dir)
    assert report.errors == []
    assert report.records == 500


_SWEEP = [
    *range(0x300),
    *range(0x2026, 0x202A),
    *range(0xD7F0, 0xE010),
    *range(0xFDC0, 0xFE00),
    *range(0xFEFE, 0xFF00),
    *range(0xFFF0, 0x10000),
    0x10000,
    0x1F600,
    0x1FFFE,
    0x10FFFF,
]


@pytest.mark.parametrize("field", ["seller_first_name", "price_currency", "tx_id", "venue"])
def test_text_writer_matches_reference_for_every_kind_of_character(
    tmp_path: Path, header: ReportHeader, field: str
) -> None:
    """Each code point where lxml escapes, drops, char-references or refuses, in text and in
    the Ccy attribute: same bytes, or the same RenderError."""
    base = _synthetic_record(_rng(1), 1)
    base.update(
        seller_id_type="PERSON",
        seller_id="FR1",
        seller_id_scheme="NIDN",
        seller_first_name="X",
        seller_surname="Y",
        seller_birth_date=date(1990, 1, 1),
    )
    for code in _SWEEP:
        record = dict(base)
        record[field] = f"A{chr(code)}B"
        _both_writers(tmp_path, header, [record])


def _mutations() -> list[tuple[str, Any]]:
    keys = list(_synthetic_record(_rng(3), 3))
    odd_values = (
        None,
        "",
        1,
        1.5,
        True,
        b"XPAR",
        Decimal("NaN"),
        Decimal("sNaN"),
        date(2026, 1, 1),
    )
    return [(key, value) for key in keys for value in odd_values]


@pytest.mark.parametrize(("key", "value"), _mutations())
def test_text_writer_fails_like_reference_writer(
    tmp_path: Path, header: ReportHeader, key: str, value: Any
) -> None:
    """Missing, empty or ill-typed values: the same bytes or the same RenderError (or other
    error) as the element-based writer, naming the same field."""
    for seed in range(4):
        record = _synthetic_record(_rng(seed), seed)
        record[key] = value
        _both_writers(tmp_path, header, [record])


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("buyer_id_type", "BIC"),
        ("seller_id_scheme", "PASSPORT"),
        ("executing_person_type", None),
        ("investment_decision_type", "CLIENT"),
        ("quantity", Decimal("1234567890123456789")),
        ("price", Decimal("0.12345678901234")),
        ("trading_datetime", datetime(2026, 11, 26, 9)),  # noqa: DTZ001
        ("seller_birth_date", datetime(1990, 1, 1, tzinfo=UTC)),
    ],
)
def test_text_writer_refuses_like_reference_writer(
    tmp_path: Path, header: ReportHeader, key: str, value: Any
) -> None:
    record = _synthetic_record(_rng(5), 5)
    record.update(seller_id_type="PERSON", seller_id="FR1", seller_id_scheme="NIDN")
    record.update(seller_first_name="X", seller_surname="Y", seller_birth_date=date(1990, 1, 1))
    record[key] = value
    outcome = _both_writers(tmp_path, header, [record])
    assert outcome[0] is RenderError
    assert key.split("_")[0] in outcome[1] or key in outcome[1]


def test_decimal_cache_keeps_refusing_bools_and_spells_equal_values_alike() -> None:
    assert _format_quantity(1) == "1"
    assert _format_quantity(Decimal("1.000")) == "1"
    with pytest.raises(TypeError):
        _format_quantity(True)
    assert _format_price(Decimal("-0.0")) == "0"
    assert _format_price(Decimal("0")) == "0"
    with pytest.raises(ValueError, match="finite"):
        _format_price(Decimal("sNaN"))


def test_format_decimal_spelling_matches_fixed_point_formatting() -> None:
    """The str() shortcut spells every exponent and sign like format(value, "f") does."""
    rng = _rng(11)
    for _ in range(20000):
        value = Decimal(rng.randrange(-(10**12), 10**12)).scaleb(rng.randrange(-20, 8))
        try:
            text = format_decimal(value, max_fraction_digits=17)
        except ValueError:
            continue
        expected = format(value, "f")
        if "." in expected:
            expected = expected.rstrip("0").rstrip(".")
        assert text == ("0" if expected == "-0" else expected)
        assert Decimal(text) == value


def test_format_datetime_matches_astimezone() -> None:
    rng = _rng(12)
    for _ in range(2000):
        zone = rng.choice(_ZONES)
        value = datetime(2026, 3, 29, tzinfo=zone) + timedelta(
            microseconds=rng.randrange(-(10**12), 10**12)
        )
        expected = value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
        assert format_datetime(value) == expected + "Z"
