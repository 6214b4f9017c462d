from __future__ import annotations

import os
import random
import re
import traceback
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from regreport.naming import file_name
from regreport.xml.namespaces import NS_AUTH016, NS_HEAD001, NS_HEAD003
from regreport.xml.render import (
    RenderError,
    ReportHeader,
    _fast_record,
    _format_price,
    _format_quantity,
    _render_reference,
    format_date,
    format_datetime,
    format_decimal,
    make_business_message_id,
    render_auth016,
    render_auth016_parts,
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
    day = date(2026, 11, 26)
    # type upper-cased, period start as YYYYMMDD, sequence on 3 digits, part on 2.
    assert (
        make_business_message_id("mifir_rts22", day, sequence=2, part=3)
        == "MIFIR_RTS22-20261126-S002-P03"
    )
    assert make_business_message_id("mifir_rts22", day) == "MIFIR_RTS22-20261126-S001-P01"
    # The period end (the earlier id's third part) is accepted and not part of the id.
    assert make_business_message_id(
        "mifir_rts22", day, date(2026, 11, 27)
    ) == make_business_message_id("mifir_rts22", day)
    # Max35Text: 11 + 1 + 8 + 5 + 4 = 29 characters for "MIFIR_RTS22"; 14 more is too many.
    longest = make_business_message_id("A" * 17, day, sequence=999, part=99)
    assert len(longest) == 35
    with pytest.raises(ValueError, match="35"):
        make_business_message_id("A" * 18, day)
    with pytest.raises(ValueError, match="sequence"):
        make_business_message_id("mifir_rts22", day, sequence=1000)
    with pytest.raises(ValueError, match="part"):
        make_business_message_id("mifir_rts22", day, part=0)


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
    _add_issue3_columns(rng, record)
    if rng.random() < 0.05:
        return {
            "record_type": "CANC",
            "tx_id": record["tx_id"],
            "executing_entity_lei": record["executing_entity_lei"],
            "submitting_entity_lei": record["submitting_entity_lei"],
        }
    return record


def _person_columns(rng: random.Random, prefix: str, scheme_key: str) -> dict[str, Any]:
    return {
        f"{prefix}_id": f"FR{rng.randrange(10**12):012d}",
        f"{prefix}_{scheme_key}": rng.choice(("NIDN", "CCPT", "CONCAT")),
        f"{prefix}_first_name": rng.choice(_NAMES),
        f"{prefix}_surname": rng.choice(_NAMES),
        f"{prefix}_birth_date": date(1950, 1, 1) + timedelta(days=rng.randrange(20000)),
    }


def _amount(rng: random.Random, fraction_digits: int, integer_digits: int = 8) -> Decimal:
    """A positive decimal within the digit facets (never more than the XSD allows)."""
    scale = rng.randrange(0, fraction_digits + 1)
    return Decimal(rng.randrange(1, 10 ** (integer_digits + scale))).scaleb(-scale)


def _add_issue3_columns(rng: random.Random, record: dict[str, Any]) -> None:
    """The columns beyond the share record: every branch chosen at random, all XSD-valid."""
    record["record_type"] = rng.choice((None, "NEWT", "NEWT"))
    _add_joint_holders_and_decision_makers(rng, record)
    kind = rng.choice((None, "UNIT", "NMNL", "MNTRY"))
    record["quantity_type"] = kind
    if kind in ("NMNL", "MNTRY"):
        record["quantity"] = _amount(rng, 5)
        record["quantity_currency"] = rng.choice(("EUR", "USD"))
    record["deriv_notional_change"] = rng.choice((None, None, "INCR", "DECR"))
    price_kind = rng.choice((None, "MNTRY", "PCTG", "YLD", "BSISPTS", "PNDG", "NOAP"))
    record["price_type"] = price_kind
    if price_kind in ("PCTG", "YLD"):
        record["price"] = _amount(rng, 8, 3) * rng.choice((1, -1))
    elif price_kind == "BSISPTS":
        record["price"] = _amount(rng, 10, 5) * rng.choice((1, -1))
    elif price_kind in ("PNDG", "NOAP"):
        record["price"] = None
        record["price_currency"] = rng.choice((None, "EUR"))
    record["net_amount"] = rng.choice((None, _amount(rng, 2)))
    if rng.random() < 0.2:
        record["upfront_payment"] = _amount(rng, 5) * rng.choice((1, -1))
        record["upfront_payment_currency"] = "EUR"
    record["complex_trade_id"] = rng.choice((None, None, f"STRAT{rng.randrange(1000)}"))
    in_firds = rng.choice((None, True, True, False))
    record["instrument_in_firds"] = in_firds
    if in_firds is False:
        _add_other_instrument(rng, record)
    record["waiver_ind"] = rng.choice((None, None, "RFPT", "NLIQ OILQ", "PRIC SIZE ILQD"))
    record["otc_post_trade_ind"] = rng.choice((None, None, "BENC", "SIZE  LRGS", "ACTX DUPL"))
    record["commodity_derivative_ind"] = rng.choice((None, None, True, False))


def _add_joint_holders_and_decision_makers(rng: random.Random, record: dict[str, Any]) -> None:
    for side in ("buyer", "seller"):
        if record[f"{side}_id_type"] == "PERSON" and rng.random() < 0.3:
            record.update(_person_columns(rng, f"{side}2", "id_scheme"))
        maker = rng.choice((None, None, "LEI", "PERSON"))
        record[f"{side}_decision_maker_type"] = maker
        if maker == "LEI":
            record[f"{side}_decision_maker_id"] = "529900T8BM49AURSDO55"
        elif maker == "PERSON":
            record.update(_person_columns(rng, f"{side}_decision_maker", "scheme"))
        record[f"transmitting_firm_{side}_lei"] = rng.choice((None, None, "549300O897ZC5H7CY412"))


def _add_other_instrument(rng: random.Random, record: dict[str, Any]) -> None:
    """`FinInstrm/Othr`: description, maturity, derivative attributes (always, as the XSD
    requires `DerivInstrmAttrbts` in `Othr`)."""
    record["instrument_isin"] = rng.choice((None, record["instrument_isin"]))
    record["instrument_full_name"] = rng.choice(("QSUITE CALL DEC26", *_NAMES))
    record["instrument_cfi"] = rng.choice(("OCASPS", "FFICSX", "JFTXFP", "OPECCS"))
    record["notional_currency"] = rng.choice((None, "EUR"))
    record["maturity_date"] = rng.choice((None, date(2030, 6, 30)))
    record["expiry_date"] = rng.choice((None, date(2026, 12, 18)))
    record["price_multiplier"] = _amount(rng, 6, 6)
    if rng.random() < 0.3:
        record["underlying_index_name"] = rng.choice(("EURIBOR", "€STR", "SOFR & CO"))
        record["underlying_isin"] = rng.choice((None, "EU0009658145"))
        unit = rng.choice((None, "DAYS", "MNTH", "YEAR"))
        record["underlying_index_term_unit"] = unit
        if unit is not None:
            record["underlying_index_term_value"] = rng.choice((1, 3, 12, Decimal("6"), 999))
    else:
        record["underlying_isin"] = "DE0007164600"
    if rng.random() < 0.6:
        record["option_type"] = rng.choice(("CALL", "PUTO", "OTHR"))
        record["strike_price"] = _amount(rng, 6) * rng.choice((1, -1))
        record["strike_currency"] = rng.choice(("EUR", "USD"))
        record["exercise_style"] = rng.choice(("EURO", "AMER"))
    record["delivery_type"] = rng.choice(("PHYS", "CASH", "OPTL"))
    record["notional_currency_2"] = rng.choice((None, "USD"))


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
    assert data.count(b"<Tx><New>") + data.count(b"<Tx><Cxl>") == len(records)
    assert data.count(b"<Tx><Cxl>") > 0
    # The special characters of the names did reach the file, escaped.
    assert b"ZO\xc3\x8b &amp; CO" in data
    assert b"A&lt;B&gt;C" in data
    assert b'"QUOTED"' in data


def test_text_writer_handles_every_plain_record_itself() -> None:
    """The comparison above is only meaningful if the text writer renders the new columns
    itself rather than handing them to the reference writer: every record whose values
    need no escaping must come back from `_fast_record`, never fall back."""
    rng = _rng(99)
    handled = 0
    for i in range(3000):
        record = _synthetic_record(rng, i)
        texts = [v for v in record.values() if isinstance(v, str)]
        if any(not _PLAIN_ASCII.fullmatch(text) for text in texts):
            continue
        assert _fast_record(record) is not None, record["tx_id"]
        handled += 1
    assert handled > 500


_PLAIN_ASCII = re.compile(r"[\x20-\x7e]*")


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
    keys = sorted(
        {key for seed in range(40) for key in _synthetic_record(_rng(seed), seed)}
        | {"record_type", "buyer2_id", "seller_decision_maker_type"}
    )
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
    for seed in range(6):
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


# --------------------------------------------------------------------------------------------
# Personal data never reaches an error message
# --------------------------------------------------------------------------------------------

_SECRET = "SECRETVALUE"


def _record_with_every_person() -> dict[str, Any]:
    """Both sides natural persons with a second holder and a person decision maker, and a
    person deciding and executing inside the firm: every personal column is present."""
    record = _synthetic_record(_rng(5), 5)
    record.update(record_type="NEWT", tx_id="QS20261126099999")
    for side in ("buyer", "seller"):
        record[f"{side}_id_type"] = "PERSON"
        record.update(_person_columns(_rng(6), side, "id_scheme"))
        record.update(_person_columns(_rng(7), f"{side}2", "id_scheme"))
        record[f"{side}_decision_maker_type"] = "PERSON"
        record.update(_person_columns(_rng(8), f"{side}_decision_maker", "scheme"))
    for prefix in ("investment_decision", "executing_person"):
        record.update(
            {
                f"{prefix}_type": "PERSON",
                f"{prefix}_id": "FR123456789012",
                f"{prefix}_scheme": "NIDN",
                f"{prefix}_branch_country": "FR",
            }
        )
    return record


_PERSON_PREFIXES = ("buyer", "buyer2", "buyer_decision_maker", "seller", "seller2")
_PERSON_PREFIXES += ("seller_decision_maker",)
_PERSONAL_TEXT = [
    f"{prefix}_{column}"
    for prefix in _PERSON_PREFIXES
    for column in ("first_name", "surname", "id")
] + ["investment_decision_id", "executing_person_id"]
_PERSONAL_DATES = [f"{prefix}_birth_date" for prefix in _PERSON_PREFIXES]


def _render_error(tmp_path: Path, header: ReportHeader, record: dict[str, Any]) -> RenderError:
    with pytest.raises(RenderError) as caught:
        render_auth016(tmp_path / "r.xml", header, [record])
    assert list(tmp_path.iterdir()) == []
    return caught.value


def _assert_names_only_tx_and_column(error: RenderError, column: str) -> None:
    text = "".join(traceback.format_exception(error))
    assert "QS20261126099999" in str(error)
    assert column in str(error)
    assert _SECRET not in text
    assert "1985" not in text


@pytest.mark.parametrize("column", _PERSONAL_TEXT)
@pytest.mark.parametrize("bad", [f"{_SECRET}\x01", f"{_SECRET}\ud800", 1985])
def test_error_on_a_personal_text_column_names_the_column_not_the_value(
    tmp_path: Path, header: ReportHeader, column: str, bad: Any
) -> None:
    """A control character, a lone surrogate or a number in a name or national id."""
    record = _record_with_every_person()
    record[column] = bad
    _assert_names_only_tx_and_column(_render_error(tmp_path, header, record), column)


@pytest.mark.parametrize("column", _PERSONAL_DATES)
@pytest.mark.parametrize(
    "bad", [f"1985-13-45 {_SECRET}", datetime(1985, 3, 17, tzinfo=UTC), 19850317]
)
def test_error_on_a_birth_date_names_the_column_not_the_value(
    tmp_path: Path, header: ReportHeader, column: str, bad: Any
) -> None:
    record = _record_with_every_person()
    record[column] = bad
    _assert_names_only_tx_and_column(_render_error(tmp_path, header, record), column)


@pytest.mark.parametrize(
    "column",
    [f"{p}_id_scheme" for p in ("buyer", "buyer2", "seller", "seller2")]
    + [f"{p}_scheme" for p in ("buyer_decision_maker", "seller_decision_maker")]
    + ["investment_decision_scheme", "executing_person_scheme"],
)
def test_error_on_a_scheme_does_not_quote_it(
    tmp_path: Path, header: ReportHeader, column: str
) -> None:
    """A scheme column holding something else (e.g. an id pasted in the wrong column)."""
    record = _record_with_every_person()
    record[column] = f"{_SECRET}1985"
    _assert_names_only_tx_and_column(_render_error(tmp_path, header, record), column)


# --------------------------------------------------------------------------------------------
# Splitting a submission into files
# --------------------------------------------------------------------------------------------


def _part_header(part: int) -> ReportHeader:
    return ReportHeader(
        from_lei="529900T8BM49AURSDO55",
        to_country="FR",
        business_message_id=make_business_message_id("mifir_rts22", date(2026, 11, 26), part=part),
        created_at=datetime(2026, 11, 27, tzinfo=UTC),
    )


def _part_name(part: int, part_count: int) -> str:
    return file_name(
        "regreport",
        sender_lei="529900T8BM49AURSDO55",
        nca_country="FR",
        report_type="mifir_rts22",
        period_start=date(2026, 11, 26),
        sequence=1,
        part=part,
        part_count=part_count,
    )


def _plain_records(count: int) -> list[dict[str, Any]]:
    rng = _rng(31)
    return [_synthetic_record(rng, i) for i in range(count)]


def _record_lines(data: bytes) -> list[bytes]:
    return [line for line in data.split(b"\n") if line.lstrip().startswith(b"<Tx>")]


def test_split_by_record_count(tmp_path: Path, schemas_dir: Path) -> None:
    records = _plain_records(10)
    results = render_auth016_parts(tmp_path, _part_name, _part_header, iter(records), max_records=3)
    # 10 records, 3 per file: 3 + 3 + 3 + 1.
    assert [r.record_count for r in results] == [3, 3, 3, 1]
    assert [r.path.name for r in results] == [
        f"MIFIR_RTS22_529900T8BM49AURSDO55_20261126_S001_P0{n}.xml" for n in (1, 2, 3, 4)
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [r.path.name for r in results]
    single = tmp_path / "single" / "all.xml"
    single.parent.mkdir()
    render_auth016(single, _part_header(1), records)
    lines: list[bytes] = []
    for number, result in enumerate(results, start=1):
        data = result.path.read_bytes()
        assert result.bytes == len(data)
        report = validate_file(result.path, schemas_dir)
        assert report.errors == []
        assert report.records == result.record_count
        assert f"<BizMsgIdr>MIFIR_RTS22-20261126-S001-P0{number}</BizMsgIdr>".encode() in data
        lines += _record_lines(data)
    # The parts hold the records of the unsplit file, in order, byte for byte.
    assert lines == _record_lines(single.read_bytes())


def test_split_by_size_and_an_oversized_record_goes_alone(tmp_path: Path) -> None:
    records = _plain_records(7)
    whole = tmp_path / "whole"
    whole.mkdir()
    (unsplit,) = render_auth016_parts(whole, _part_name, _part_header, records)
    data = unsplit.path.read_bytes()
    # Each record costs its line: a newline, 8 spaces of indent, the record.
    costs = [len(line) + 1 for line in _record_lines(data)]
    envelope = len(data) - sum(costs)
    # Room for exactly the first two records in the first file.
    limit = envelope + costs[0] + costs[1]
    split = tmp_path / "split"
    split.mkdir()
    results = render_auth016_parts(split, _part_name, _part_header, records, max_bytes=limit)
    assert results[0].record_count == 2
    assert sum(r.record_count for r in results) == len(records)
    for result in results:
        assert result.bytes <= limit or result.record_count == 1
    # A limit below any record: every record alone in its file.
    alone = tmp_path / "alone"
    alone.mkdir()
    results = render_auth016_parts(alone, _part_name, _part_header, records, max_bytes=1)
    assert [r.record_count for r in results] == [1] * len(records)


def test_split_is_deterministic(tmp_path: Path) -> None:
    records = _plain_records(9)
    outputs = []
    for run in ("a", "b"):
        folder = tmp_path / run
        folder.mkdir()
        results = render_auth016_parts(
            folder, _part_name, _part_header, [dict(r) for r in records], max_records=4
        )
        outputs.append([(r.path.name, r.path.read_bytes()) for r in results])
    assert outputs[0] == outputs[1]
    # 9 records, 4 per file: 4 + 4 + 1.
    assert len(outputs[0]) == 3


def test_split_failure_leaves_no_part_behind(tmp_path: Path) -> None:
    records = _plain_records(9)
    records[6] = dict(records[6], record_type="NEWT", quantity=1.5)
    with pytest.raises(RenderError, match="quantity"):
        render_auth016_parts(tmp_path, _part_name, _part_header, records, max_records=2)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RenderError, match="at least one Tx"):
        render_auth016_parts(tmp_path, _part_name, _part_header, [])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad_name", ["../escape.xml", "sub/dir.xml", ""])
def test_split_refuses_names_that_are_paths(tmp_path: Path, bad_name: str) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(ValueError, match="bare file name"):
        render_auth016_parts(folder, lambda _p, _n: bad_name, _part_header, _plain_records(2))
    assert list(folder.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_split_refuses_duplicate_names_and_negative_limits(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="same file name"):
        render_auth016_parts(
            tmp_path, lambda _p, _n: "same.xml", _part_header, _plain_records(3), max_records=1
        )
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="no limit"):
        render_auth016_parts(tmp_path, _part_name, _part_header, [], max_bytes=-1)
