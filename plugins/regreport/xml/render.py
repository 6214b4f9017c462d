"""Stream MiFIR RTS 22 transaction records into an ESMA auth.016 submission file.

The output is a head.003 `BizData` envelope: `Hdr/AppHdr` (head.001, ESMA usage guideline
1.0.0) and `Pyld/Document/FinInstrmRptgTxRpt` with one `Tx/New` per record, or `Tx/Cxl` for
a row with `record_type = 'CANC'`. Records are the rows of the dbt model
`rpt_mifir_rts22_transactions` (columns: docs/reporting/mifir/report-columns.md, all 65 RTS 22
fields); the mapping of fields to elements is in shared/domain/REGULATORY.md, section E1, and
the element order is the XSD's. A NULL column writes no element. `render_auth016` writes one
file; `render_auth016_parts` splits a submission into files bounded in records and bytes.

Two properties drive the design:

* **Byte-identical reruns.** The same records and header give the same bytes, so a rerun of
  a period can be compared with (or replace) an archived submission by hash. Nothing here
  reads the clock or generates random ids; decimals and timestamps have one canonical
  spelling; the layout is fixed: the envelope is indented with two spaces and each record is
  one line with no whitespace inside. One line per record keeps a validator's line number
  pointing at the record, while indenting inside records measured twice the file size and,
  with `etree.indent`, more than doubled the render time.
* **Flat memory at volume.** The envelope is streamed and records are written in chunks of
  `_CHUNK_RECORDS` and dropped; the only other state is a bounded cache of formatted decimals.
  In the element-based reference writer, each record is built as a small subtree: building it
  with `SubElement` in C measured ~30% faster than opening an `xmlfile` context per leaf, and
  memory does not grow with the number of records. The record subtree is built without a
  namespace on purpose: it is serialised inside `Document`, whose default namespace it then
  inherits, whereas a namespaced subtree would repeat `xmlns="..."` on every `Tx`.

Each XSD block has its own small function writing into its parent (`_party`, `_transaction`,
`_instrument`, ...), so that a new field or schema version is an addition, not a rewrite.

**No personal data in errors.** Rows carry names, birth dates and national ids, and errors end
up in task logs and manifests. A `RenderError` names the transaction (`tx_id`) and the column,
never a value; lxml's and the formatters' own exceptions are not chained into it.

**Two record writers, one output.** Building an lxml subtree per record costs ~70 µs, most of
it in Python-level `SubElement` calls. `render_auth016` therefore writes each record as text
(`_fast_record`: one f-string per XSD block, joined and written in chunks of
`_CHUNK_RECORDS` records), while the envelope still comes from `etree.xmlfile`
(`_envelope`). The element-based writer (`_new_record`, `_write_file_reference`) stays as the
reference: `_fast_record` only handles the plain case and hands every other record to it,
so escaping and errors are lxml's by construction:

* values are checked once per record (one regex over the joined strings): printable ASCII
  and Unicode that lxml writes verbatim stay on the fast path; `&`, `<`, `>` are escaped
  as lxml escapes them in text (and in the `Ccy` attribute, where a `"` goes to the
  reference); control characters (tab, CR and LF included, which lxml writes as is or as
  character references), DEL and C1 controls (which lxml drops), surrogates and
  non-characters (which lxml refuses) go to the reference writer;
* anything unexpected (a missing or ill-typed value, an unknown id type, a value the
  formatters refuse) makes the reference writer render the record, which raises the same
  `RenderError` as before, naming the same field.

Optional columns that are absent cost the fast writer one dict lookup each (the common share
record has ~17 of them); the less common blocks (bond and derivative attributes, joint
holders, decision makers, waivers) are in helpers called only when their column is present.

`tests/plugins/regreport/xml/test_render.py` compares both writers byte for byte on
thousands of varied records and on every code point where lxml's handling differs;
`test_golden.py` compares both with hand-written files, one per RTS 22 situation.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from lxml import etree

from regreport.xml.namespaces import (
    DEFAULT_SCHEMA_VERSION,
    MSG_DEF_IDR_AUTH016,
    NS_HEAD001,
    NS_HEAD003,
    schema_set,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

#: `AppHdr/Fr/.../Othr/SchmeNm/Prtry` for the sender, identified by its LEI.
FROM_SCHEME = "LEI"
#: `AppHdr/To/.../Othr/SchmeNm/Prtry` for the receiving NCA, identified by its country code.
TO_SCHEME = "NCA"

#: Digit limits of the XSD types: quantity is ESMA_NonNegativeExcludingZeroMax18 (18 total, 17
#: fractional), price is ActiveCurrencyAnd13DecimalAmount (18 total, 13 fractional).
QTY_MAX_FRACTION_DIGITS = 17
PRICE_MAX_FRACTION_DIGITS = 13
MAX_TOTAL_DIGITS = 18
#: Amounts (NmnlVal/MntryVal quantities, NetAmt, UpFrntPmt): 5 fractional digits, 18 in total.
AMOUNT_MAX_FRACTION_DIGITS = 5
#: PercentageRate (Pctg, Yld): 10 fractional digits, 11 in total.
RATE_MAX_FRACTION_DIGITS = 10
RATE_MAX_TOTAL_DIGITS = 11

_INDENT = "  "
_LEI_RE = re.compile(r"[A-Z0-9]{18}[0-9]{2}")
_COUNTRY_RE = re.compile(r"[A-Z]{2}")
_MAX35 = 35

_SE = etree.SubElement

#: Records per `write` of the fast writer (about 1.5 MB of text).
_CHUNK_RECORDS = 1000
#: Separator before each record: one record per line, indented inside FinInstrmRptgTxRpt.
_RECORD_SEP = "\n" + _INDENT * 4
#: Formatted decimals are cached per value; the cache is dropped when it reaches this size.
_DECIMAL_CACHE_MAX = 8192
#: Any character a value may hold that is not written verbatim by lxml (printable ASCII other
#: than &, <, > and the Unicode ranges libxml2 passes through as UTF-8).
_NOT_PLAIN = re.compile(
    "[^\x20-\x25\x27-\x3b\x3d\x3f-\x7e\xa0-\ud7ff\ue000-\ufdcf\ufdf0-\ufffd\U00010000-\U0010ffff]"
)
#: Characters lxml escapes in text nodes the same way in attributes (`"` is handled apart).
_MARKUP = re.compile("[&<>]")
#: Characters left to the reference writer: lxml drops, refuses or char-references them.
_UNSAFE = re.compile("[^\x20-\x7e\xa0-\ud7ff\ue000-\ufdcf\ufdf0-\ufffd\U00010000-\U0010ffff]")


class RenderError(ValueError):
    """A record cannot be expressed in auth.016; the message names the record and the field."""


@dataclass(frozen=True)
class ReportHeader:
    """What goes into `AppHdr`: who sends the file to whom, and its identity.

    Every field is an input, never derived from the clock, so a rerun of the same period
    produces the same bytes.

    Attributes:
        from_lei: LEI of the submitting entity (`Fr`).
        to_country: ISO 3166 alpha-2 code of the receiving NCA (`To`), e.g. "FR".
        business_message_id: `BizMsgIdr`; build it with `make_business_message_id`.
        created_at: `CreDt`; timezone-aware. Pass the end of the data interval (or another
            value fixed by the period), not `now()`.
        schema_version: auth.016 usage-guideline version; selects the payload namespace.
    """

    from_lei: str
    to_country: str
    business_message_id: str
    created_at: datetime
    schema_version: str = DEFAULT_SCHEMA_VERSION

    def __post_init__(self) -> None:
        """Reject header values that would make the whole file invalid, before writing it."""
        if not _LEI_RE.fullmatch(self.from_lei):
            raise ValueError(f"from_lei {self.from_lei!r} is not an LEI")
        if not _COUNTRY_RE.fullmatch(self.to_country):
            raise ValueError(f"to_country {self.to_country!r} is not an ISO 3166 alpha-2 code")
        if not 1 <= len(self.business_message_id) <= _MAX35:
            raise ValueError("business_message_id must be 1 to 35 characters (Max35Text)")
        if self.created_at.tzinfo is None or self.created_at.utcoffset() is None:
            raise ValueError("created_at must be timezone-aware")
        schema_set(self.schema_version)


@dataclass(frozen=True)
class RenderResult:
    """What `render_auth016` wrote.

    Attributes:
        path: The file written.
        record_count: Number of `Tx` elements.
        bytes: File size.
    """

    path: Path
    record_count: int
    bytes: int


def make_business_message_id(
    report_type: str,
    period_start: date,
    period_end: date | None = None,
    sequence: int = 1,
    part: int = 1,
) -> str:
    """Build a deterministic `BizMsgIdr` from what identifies one file of a submission.

    A random or clock-based id would change on every rerun and break byte-identical output;
    report type, period start, submission sequence and part identify the file just as
    uniquely, and fit Max35Text for any report type of up to 13 characters.

    Args:
        report_type: e.g. "mifir_rts22".
        period_start: First day of the reporting period.
        period_end: Not part of the id (a period is identified by its start and the report
            type); accepted so that callers written for the earlier id keep working.
        sequence: 1-based number of the submission within the period (1 for the first,
            2 for a re-submission after a rejection or a correction run).
        part: 1-based number of the file within the submission, when it is split.

    Returns:
        e.g. "MIFIR_RTS22-20261126-S001-P01".

    Raises:
        ValueError: The id would exceed Max35Text, or sequence or part is out of range.
    """
    del period_end
    if not 1 <= sequence <= 999:
        raise ValueError(f"sequence {sequence} is outside 1..999")
    if not 1 <= part <= 999:
        raise ValueError(f"part {part} is outside 1..999")
    ident = f"{report_type.upper()}-{period_start:%Y%m%d}-S{sequence:03d}-P{part:02d}"
    if len(ident) > _MAX35:
        raise ValueError(f"business message id {ident!r} is longer than 35 characters")
    return ident


def format_decimal(
    value: Decimal | int, *, max_fraction_digits: int, max_total_digits: int = MAX_TOTAL_DIGITS
) -> str:
    """Spell a decimal canonically: no exponent, no trailing fractional zeros, no "-0".

    Values are never rounded: a value the schema cannot hold is an upstream data error, and
    silently changing a reported quantity or price is worse than failing the run. Messages do
    not quote the value: the caller names the column (see `_Record.formatted`).

    Args:
        value: An exact number; floats are refused because they are not exact.
        max_fraction_digits: The XSD `fractionDigits` facet.
        max_total_digits: The XSD `totalDigits` facet (counted conservatively: integer digits
            plus every fractional digit).

    Returns:
        e.g. Decimal("100.500000") -> "100.5", Decimal("1E+2") -> "100".

    Raises:
        TypeError: `value` is not a Decimal or int.
        ValueError: Not finite, or more digits than the facets allow.
    """
    cls = value.__class__
    if cls is Decimal and value.is_finite():
        # str() is format(value, "f") unless it picks scientific notation (exponent > 0 or
        # adjusted exponent < -6), and several times faster.
        text = str(value)
        if "E" in text:
            text = format(value, "f")
    elif cls is int:
        text = str(value)
    else:
        if isinstance(value, bool) or not isinstance(value, Decimal | int):
            raise TypeError(f"expected Decimal or int, got {type(value).__name__}")
        if isinstance(value, Decimal) and not value.is_finite():
            raise ValueError("not a finite number")
        text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text == "-0":
        text = "0"
    integer, _, fraction = text.lstrip("-").partition(".")
    if len(fraction) > max_fraction_digits:
        raise ValueError(f"more than {max_fraction_digits} fractional digits")
    if len(integer.lstrip("0")) + len(fraction) > max_total_digits:
        raise ValueError(f"more than {max_total_digits} digits")
    return text


def format_datetime(value: datetime) -> str:
    """Spell a moment as ISONormalisedDateTime: UTC, "Z", always six fractional digits.

    Always writing microseconds gives one spelling per instant (byte-stable output) and keeps
    the granularity that RTS 25 requires of high-frequency trading timestamps.

    Args:
        value: A timezone-aware datetime.

    Returns:
        e.g. 2026-11-26 09:00:00.000123+01:00 -> "2026-11-26T08:00:00.000123Z".

    Raises:
        ValueError: `value` is naive; guessing its timezone would misreport the trade time.
    """
    if value.tzinfo is None or (offset := value.utcoffset()) is None:
        raise ValueError("the datetime has no timezone")
    if value.__class__ is datetime:
        # What astimezone(UTC) computes, in fewer steps: at offset zero isoformat ends in
        # "+00:00", otherwise shift by the offset first.
        if not offset:
            return value.isoformat(timespec="microseconds")[:-6] + "Z"
        return (value - offset).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def format_date(value: date) -> str:
    """Spell an ISODate ("YYYY-MM-DD"), refusing datetimes that would add a time part."""
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"expected a date, got {type(value).__name__}")
    return value.isoformat()


def format_bool(value: bool) -> str:
    """Spell an xs:boolean, refusing anything but a real bool (e.g. "N" or 0 from a source)."""
    if not isinstance(value, bool):
        raise TypeError(f"expected a bool, got {type(value).__name__}")
    return "true" if value else "false"


def _cached_decimal(
    value: Any,
    cache: dict[Any, str],
    max_fraction_digits: int,
    max_total_digits: int = MAX_TOTAL_DIGITS,
) -> str:
    """`format_decimal` with a per-value cache: prices and quantities repeat within a day.

    Equal values have the same canonical spelling (Decimal("1.0"), Decimal("1") and 1 are
    all "1"), so keying by value is safe. Only exact Decimal and int are cached: a bool
    hashes like 0 or 1 and must still be refused; refused values are never cached.
    """
    cls = value.__class__
    if cls is Decimal or cls is int:
        try:
            text = cache.get(value)
        except TypeError:  # a signalling NaN cannot be hashed; format_decimal refuses it
            return format_decimal(
                value, max_fraction_digits=max_fraction_digits, max_total_digits=max_total_digits
            )
        if text is None:
            text = format_decimal(
                value, max_fraction_digits=max_fraction_digits, max_total_digits=max_total_digits
            )
            if len(cache) >= _DECIMAL_CACHE_MAX:
                cache.clear()
            cache[value] = text
        return text
    return format_decimal(
        value, max_fraction_digits=max_fraction_digits, max_total_digits=max_total_digits
    )


_QTY_CACHE: dict[Any, str] = {}
_PRICE_CACHE: dict[Any, str] = {}
_AMOUNT_CACHE: dict[Any, str] = {}
_RATE_CACHE: dict[Any, str] = {}


def _format_quantity(value: Decimal | int) -> str:
    # Also BsisPts (DecimalNumber) and PricMltplr: the same 17 fractional, 18 total digits.
    return _cached_decimal(value, _QTY_CACHE, QTY_MAX_FRACTION_DIGITS)


def _format_price(value: Decimal | int) -> str:
    # The sign is kept here and moved to `Sgn` by the caller: Amt has minInclusive 0.
    return _cached_decimal(value, _PRICE_CACHE, PRICE_MAX_FRACTION_DIGITS)


def _format_amount(value: Decimal | int) -> str:
    # NmnlVal/MntryVal quantities, NetAmt, UpFrntPmt: 5 fractional digits, 18 in total.
    return _cached_decimal(value, _AMOUNT_CACHE, AMOUNT_MAX_FRACTION_DIGITS)


def _format_rate(value: Decimal | int) -> str:
    # Pctg and Yld (PercentageRate): 10 fractional digits, 11 in total, sign allowed.
    return _cached_decimal(value, _RATE_CACHE, RATE_MAX_FRACTION_DIGITS, RATE_MAX_TOTAL_DIGITS)


def _format_term(value: Decimal | int) -> str:
    # Max3Number: an integer of at most three digits.
    return format_decimal(value, max_fraction_digits=0, max_total_digits=3)


def _leaf(parent: etree._Element, tag: str, text: str) -> None:
    _SE(parent, tag).text = text


class _Record:
    """Read access to one row that names the transaction and the column in every error.

    Messages never quote a value: a value may be a name, a birth date or a national id, and
    errors end up in task logs and manifests.
    """

    __slots__ = ("row", "tx_id")

    def __init__(self, row: Mapping[str, Any]) -> None:
        self.row = row
        self.tx_id = row.get("tx_id")

    def error(self, key: str, problem: str) -> RenderError:
        return RenderError(f"transaction {self.tx_id!r}: {key} {problem}")

    def req(self, key: str) -> Any:
        value = self.row.get(key)
        if value is None:
            raise self.error(key, "is required")
        return value

    def opt(self, key: str) -> Any:
        return self.row.get(key)

    def formatted(self, key: str, formatter: Callable[[Any], str]) -> str:
        """Format a required value, naming the record and column if it does not fit."""
        value = self.req(key)
        try:
            return formatter(value)
        except (TypeError, ValueError) as exc:
            # The formatters' messages quote no value (see format_decimal); keep them.
            raise self.error(key, f"cannot be written: {exc}") from None

    def codes(self, key: str) -> list[str]:
        """A space-separated list of codes (waivers, OTC post-trade indicators), or []."""
        value = self.row.get(key)
        if value is None:
            return []
        if not isinstance(value, str):
            raise self.error(key, f"must be text, got {type(value).__name__}")
        return value.split()


def _text(parent: etree._Element, tag: str, rec: _Record, key: str, value: Any = None) -> None:
    """A leaf holding column `key` (required); lxml's refusals name the column, not the value."""
    if value is None:
        value = rec.req(key)
    try:
        _SE(parent, tag).text = value
    except (TypeError, ValueError):
        raise rec.error(key, "is not text of XML characters") from None


def _opt_text(parent: etree._Element, tag: str, rec: _Record, key: str) -> None:
    value = rec.opt(key)
    if value is not None:
        _text(parent, tag, rec, key, value)


def _amount(parent: etree._Element, tag: str, rec: _Record, text: str, ccy_key: str) -> None:
    """`<tag Ccy="...">text</tag>` with the currency from column `ccy_key`."""
    currency = rec.req(ccy_key)
    try:
        elem = _SE(parent, tag, Ccy=currency)
    except (TypeError, ValueError):
        raise rec.error(ccy_key, "is not text of XML characters") from None
    elem.text = text


def _signed_amount(parent: etree._Element, rec: _Record, text: str, ccy_key: str) -> None:
    """`Amt` (+ `Sgn` false): Amt is non-negative in the XSD, so the sign goes in `Sgn`."""
    if text.startswith("-"):
        _amount(parent, "Amt", rec, text[1:], ccy_key)
        _leaf(parent, "Sgn", "false")
    else:
        _amount(parent, "Amt", rec, text, ccy_key)


@dataclass(frozen=True)
class _PersonKeys:
    """Column names of one natural person: national id, scheme, names, birth date."""

    id: str
    scheme: str
    first_name: str
    surname: str
    birth_date: str

    @classmethod
    def of(cls, prefix: str, scheme_suffix: str = "id_scheme") -> _PersonKeys:
        return cls(
            f"{prefix}_id",
            f"{prefix}_{scheme_suffix}",
            f"{prefix}_first_name",
            f"{prefix}_surname",
            f"{prefix}_birth_date",
        )


@dataclass(frozen=True)
class _PartyKeys:
    """Column names of one side (buyer/seller), computed once rather than per record."""

    id_type: str
    id: str
    branch_country: str
    holder: _PersonKeys
    second_id: str
    second: _PersonKeys
    dm_type: str
    dm: _PersonKeys

    @classmethod
    def of(cls, side: str) -> _PartyKeys:
        return cls(
            id_type=f"{side}_id_type",
            id=f"{side}_id",
            branch_country=f"{side}_branch_country",
            holder=_PersonKeys.of(side),
            second_id=f"{side}2_id",
            second=_PersonKeys.of(f"{side}2"),
            dm_type=f"{side}_decision_maker_type",
            dm=_PersonKeys.of(f"{side}_decision_maker", "scheme"),
        )


_BUYER = _PartyKeys.of("buyer")
_SELLER = _PartyKeys.of("seller")
_NATIONAL_SCHEMES = frozenset({"NIDN", "CCPT"})
_ID_TYPES = "LEI, MIC, PERSON, INTC"
#: The columns of `DerivInstrmAttrbts`: any of them present writes the block.
_DERIVATIVE_KEYS = (
    "expiry_date",
    "price_multiplier",
    "underlying_isin",
    "underlying_index_name",
    "option_type",
    "strike_price",
    "exercise_style",
    "delivery_type",
    "notional_currency_2",
)


def _person_other(parent: etree._Element, rec: _Record, id_key: str, scheme_key: str) -> None:
    """`Othr/{Id, SchmeNm/{Cd|Prtry}}`: a national id (NIDN, CCPT) or the CONCAT code."""
    othr = _SE(parent, "Othr")
    _text(othr, "Id", rec, id_key)
    scheme = rec.req(scheme_key)
    schme_nm = _SE(othr, "SchmeNm")
    if scheme in _NATIONAL_SCHEMES:
        _leaf(schme_nm, "Cd", scheme)
    elif scheme == "CONCAT":
        _leaf(schme_nm, "Prtry", scheme)
    else:
        raise rec.error(scheme_key, "is not one of NIDN, CCPT, CONCAT")


def _person(parent: etree._Element, rec: _Record, keys: _PersonKeys) -> None:
    """`Prsn/{FrstNm, Nm, BirthDt, Othr}`: an account owner or a decision maker."""
    prsn = _SE(parent, "Prsn")
    _text(prsn, "FrstNm", rec, keys.first_name)
    _text(prsn, "Nm", rec, keys.surname)
    _leaf(prsn, "BirthDt", rec.formatted(keys.birth_date, format_date))
    _person_other(prsn, rec, keys.id, keys.scheme)


def _party(parent: etree._Element, tag: str, rec: _Record, keys: _PartyKeys) -> None:
    """`Buyr` or `Sellr` (fields 7-15 and 16-24).

    A joint account has a second `AcctOwnr` (a natural person, in the same branch country);
    a client whose decisions someone else takes has a `DcsnMakr` (a firm's LEI or a person).
    """
    side = _SE(parent, tag)
    owner = _SE(side, "AcctOwnr")
    ident = _SE(owner, "Id")
    id_type = rec.req(keys.id_type)
    if id_type == "LEI" or id_type == "MIC":
        _text(ident, id_type, rec, keys.id)
    elif id_type == "PERSON":
        _person(ident, rec, keys.holder)
    elif id_type == "INTC":
        _leaf(ident, "Intl", "INTC")
    else:
        raise rec.error(keys.id_type, f"is not one of {_ID_TYPES}")
    country = rec.opt(keys.branch_country)
    if country is not None:
        _text(owner, "CtryOfBrnch", rec, keys.branch_country, country)
    if rec.opt(keys.second_id) is not None:
        owner = _SE(side, "AcctOwnr")
        _person(_SE(owner, "Id"), rec, keys.second)
        if country is not None:
            _text(owner, "CtryOfBrnch", rec, keys.branch_country, country)
    kind = rec.opt(keys.dm_type)
    if kind is not None:
        maker = _SE(side, "DcsnMakr")
        if kind == "LEI":
            _text(maker, "LEI", rec, keys.dm.id)
        elif kind == "PERSON":
            _person(maker, rec, keys.dm)
        else:
            raise rec.error(keys.dm_type, "is not one of LEI, PERSON")


def _transmission(parent: etree._Element, rec: _Record) -> None:
    """`OrdrTrnsmssn` (fields 25-27): the indicator and the transmitting firms' LEIs."""
    block = _SE(parent, "OrdrTrnsmssn")
    _leaf(block, "TrnsmssnInd", rec.formatted("transmission_ind", format_bool))
    _opt_text(block, "TrnsmttgBuyr", rec, "transmitting_firm_buyer_lei")
    _opt_text(block, "TrnsmttgSellr", rec, "transmitting_firm_seller_lei")


def _quantity(parent: etree._Element, rec: _Record) -> None:
    """`Qty/{Unit | NmnlVal | MntryVal}` (fields 30, 31); UNIT when the type is absent."""
    kind = rec.opt("quantity_type")
    qty = _SE(parent, "Qty")
    if kind is None or kind == "UNIT":
        _leaf(qty, "Unit", rec.formatted("quantity", _format_quantity))
    elif kind == "NMNL" or kind == "MNTRY":
        text = rec.formatted("quantity", _format_amount)
        _amount(qty, "NmnlVal" if kind == "NMNL" else "MntryVal", rec, text, "quantity_currency")
    else:
        raise rec.error("quantity_type", "is not one of UNIT, NMNL, MNTRY")


_RATE_TAGS = {"PCTG": "Pctg", "YLD": "Yld"}


def _price(parent: etree._Element, rec: _Record) -> None:
    """`Pric` (fields 33, 34): a monetary value, a percentage, a yield or basis points.

    Or `NoPric` (pending or not applicable), with an optional currency.
    """
    kind = rec.opt("price_type")
    pric = _SE(parent, "Pric")
    if kind is None or kind == "MNTRY":
        amount = rec.formatted("price", _format_price)
        _signed_amount(_SE(_SE(pric, "Pric"), "MntryVal"), rec, amount, "price_currency")
    elif kind == "PCTG" or kind == "YLD":
        _leaf(_SE(pric, "Pric"), _RATE_TAGS[kind], rec.formatted("price", _format_rate))
    elif kind == "BSISPTS":
        _leaf(_SE(pric, "Pric"), "BsisPts", rec.formatted("price", _format_quantity))
    elif kind == "PNDG" or kind == "NOAP":
        no_price = _SE(pric, "NoPric")
        _leaf(no_price, "Pdg", kind)
        _opt_text(no_price, "Ccy", rec, "price_currency")
    else:
        raise rec.error("price_type", "is not one of MNTRY, PCTG, YLD, BSISPTS, PNDG, NOAP")


def _transaction(parent: etree._Element, rec: _Record) -> None:
    """`New/Tx` (fields 3, 28-40), in the XSD's order."""
    tx = _SE(parent, "Tx")
    _leaf(tx, "TradDt", rec.formatted("trading_datetime", format_datetime))
    _text(tx, "TradgCpcty", rec, "trading_capacity")
    _quantity(tx, rec)
    _opt_text(tx, "DerivNtnlChng", rec, "deriv_notional_change")
    _price(tx, rec)
    if rec.opt("net_amount") is not None:
        _leaf(tx, "NetAmt", rec.formatted("net_amount", _format_amount))
    _text(tx, "TradVn", rec, "venue")
    _opt_text(tx, "CtryOfBrnch", rec, "country_of_branch")
    if rec.opt("upfront_payment") is not None:
        amount = rec.formatted("upfront_payment", _format_amount)
        _signed_amount(_SE(tx, "UpFrntPmt"), rec, amount, "upfront_payment_currency")
    _opt_text(tx, "TradPlcMtchgId", rec, "venue_transaction_id")
    _opt_text(tx, "CmplxTradCmpntId", rec, "complex_trade_id")


def _is_fx_cfi(cfi: Any) -> bool:
    """Whether a CFI code (ISO 10962) is a derivative on currencies.

    Field 45 (notional currency 2) goes to `AsstClssSpcfcAttrbts/FX` for those and to
    `Intrst` otherwise: forwards and swaps on currencies (JF, SF), financial futures on
    currencies (FFC), options on currencies (O??C).
    """
    if not isinstance(cfi, str):
        return False
    return cfi[:2] in ("JF", "SF") or cfi[:3] == "FFC" or (cfi[:1] == "O" and cfi[3:4] == "C")


def _underlying(parent: etree._Element, rec: _Record) -> None:
    """`UndrlygInstrm/Othr/Sngl` (fields 47-49): an ISIN, or an index by name (+ term)."""
    single = _SE(_SE(_SE(parent, "UndrlygInstrm"), "Othr"), "Sngl")
    index_name = rec.opt("underlying_index_name")
    if index_name is None:
        _text(single, "ISIN", rec, "underlying_isin")
        return
    index = _SE(single, "Indx")
    _opt_text(index, "ISIN", rec, "underlying_isin")
    name = _SE(index, "Nm")
    _text(_SE(name, "RefRate"), "Nm", rec, "underlying_index_name", index_name)
    if rec.opt("underlying_index_term_unit") is not None:
        term = _SE(name, "Term")
        _text(term, "Unit", rec, "underlying_index_term_unit")
        _leaf(term, "Val", rec.formatted("underlying_index_term_value", _format_term))


def _derivative(parent: etree._Element, rec: _Record) -> None:
    """`DerivInstrmAttrbts` (fields 45-53, 55, 56)."""
    deriv = _SE(parent, "DerivInstrmAttrbts")
    if rec.opt("expiry_date") is not None:
        _leaf(deriv, "XpryDt", rec.formatted("expiry_date", format_date))
    _leaf(deriv, "PricMltplr", rec.formatted("price_multiplier", _format_quantity))
    _underlying(deriv, rec)
    _opt_text(deriv, "OptnTp", rec, "option_type")
    if rec.opt("strike_price") is not None:
        amount = rec.formatted("strike_price", _format_price)
        mntry_val = _SE(_SE(_SE(deriv, "StrkPric"), "Pric"), "MntryVal")
        _signed_amount(mntry_val, rec, amount, "strike_currency")
    _opt_text(deriv, "OptnExrcStyle", rec, "exercise_style")
    _text(deriv, "DlvryTp", rec, "delivery_type")
    if rec.opt("notional_currency_2") is not None:
        asset_class = "FX" if _is_fx_cfi(rec.opt("instrument_cfi")) else "Intrst"
        block = _SE(_SE(deriv, "AsstClssSpcfcAttrbts"), asset_class)
        _text(block, "OthrNtnlCcy", rec, "notional_currency_2")


def _instrument(parent: etree._Element, rec: _Record) -> None:
    """`FinInstrm` (fields 41-56): the ISIN when the instrument is in FIRDS, else `Othr`.

    `Othr` describes the instrument: general attributes, debt attributes (maturity) and
    derivative attributes (written when any of their columns is present).
    """
    in_firds = rec.opt("instrument_in_firds")
    fin_instrm = _SE(parent, "FinInstrm")
    if in_firds is None or in_firds is True:
        _text(fin_instrm, "Id", rec, "instrument_isin")
        return
    if in_firds is not False:
        raise rec.error("instrument_in_firds", "must be a boolean")
    other = _SE(fin_instrm, "Othr")
    general = _SE(other, "FinInstrmGnlAttrbts")
    _opt_text(general, "Id", rec, "instrument_isin")
    _text(general, "FullNm", rec, "instrument_full_name")
    _text(general, "ClssfctnTp", rec, "instrument_cfi")
    _opt_text(general, "NtnlCcy", rec, "notional_currency")
    if rec.opt("maturity_date") is not None:
        _leaf(
            _SE(other, "DebtInstrmAttrbts"),
            "MtrtyDt",
            rec.formatted("maturity_date", format_date),
        )
    row = rec.row
    if any(row.get(key) is not None for key in _DERIVATIVE_KEYS):
        _derivative(other, rec)


def _decision_or_execution(
    parent: etree._Element, tag: str, rec: _Record, prefix: str, *, allow_client: bool
) -> bool:
    """`InvstmtDcsnPrsn` or `ExctgPrsn` (fields 57-60); returns False if absent.

    Both share the `Prsn` (branch country, then national id) and `Algo` choices; only the
    executor may be the client (`Clnt` = NORE).
    """
    kind = rec.opt(f"{prefix}_type")
    if kind is None:
        return False
    block = _SE(parent, tag)
    if kind == "PERSON":
        prsn = _SE(block, "Prsn")
        _text(prsn, "CtryOfBrnch", rec, f"{prefix}_branch_country")
        _person_other(prsn, rec, f"{prefix}_id", f"{prefix}_scheme")
    elif kind == "ALGO":
        _text(block, "Algo", rec, f"{prefix}_id")
    elif kind == "CLIENT" and allow_client:
        _leaf(block, "Clnt", "NORE")
    else:
        allowed = "PERSON, ALGO, CLIENT" if allow_client else "PERSON, ALGO"
        raise rec.error(f"{prefix}_type", f"is not one of {allowed}")
    return True


def _additional_attributes(parent: etree._Element, rec: _Record) -> None:
    """`AddtlAttrbts` (fields 61-65).

    Waivers, short selling, OTC post-trade indicators, commodity risk reduction and the
    mandatory SFT indicator.
    """
    attrs = _SE(parent, "AddtlAttrbts")
    for code in rec.codes("waiver_ind"):
        _text(attrs, "WvrInd", rec, "waiver_ind", code)
    _opt_text(attrs, "ShrtSellgInd", rec, "short_selling_ind")
    for code in rec.codes("otc_post_trade_ind"):
        _text(attrs, "OTCPstTradInd", rec, "otc_post_trade_ind", code)
    if rec.opt("commodity_derivative_ind") is not None:
        _leaf(attrs, "RskRdcgTx", rec.formatted("commodity_derivative_ind", format_bool))
    _leaf(attrs, "SctiesFincgTxInd", rec.formatted("securities_financing_ind", format_bool))


def _cancel_record(rec: _Record) -> etree._Element:
    """One `Tx/Cxl`: the three keys that identify the report being cancelled (field 1)."""
    tx = etree.Element("Tx")
    cxl = _SE(tx, "Cxl")
    _text(cxl, "TxId", rec, "tx_id")
    _text(cxl, "ExctgPty", rec, "executing_entity_lei")
    _text(cxl, "SubmitgPty", rec, "submitting_entity_lei")
    return tx


def _new_record(row: Mapping[str, Any]) -> etree._Element:
    """Build one `Tx/New` or `Tx/Cxl` subtree (no namespace: see the module docstring)."""
    rec = _Record(row)
    try:
        record_type = rec.opt("record_type")
        if record_type == "CANC":
            return _cancel_record(rec)
        if record_type is not None and record_type != "NEWT":
            raise rec.error("record_type", "is not one of NEWT, CANC")
        tx = etree.Element("Tx")
        new = _SE(tx, "New")
        _text(new, "TxId", rec, "tx_id")
        _text(new, "ExctgPty", rec, "executing_entity_lei")
        _leaf(new, "InvstmtPtyInd", rec.formatted("investment_firm_ind", format_bool))
        _text(new, "SubmitgPty", rec, "submitting_entity_lei")
        _party(new, "Buyr", rec, _BUYER)
        _party(new, "Sellr", rec, _SELLER)
        _transmission(new, rec)
        _transaction(new, rec)
        _instrument(new, rec)
        _decision_or_execution(
            new, "InvstmtDcsnPrsn", rec, "investment_decision", allow_client=False
        )
        if not _decision_or_execution(new, "ExctgPrsn", rec, "executing_person", allow_client=True):
            raise rec.error("executing_person_type", "is required")
        _additional_attributes(new, rec)
    except RenderError:
        raise
    except (TypeError, ValueError) as exc:
        # Not expected (every leaf names its column); never quote lxml's or a value's text.
        raise RenderError(
            f"transaction {rec.tx_id!r}: cannot be written ({type(exc).__name__})"
        ) from None
    return tx


# --------------------------------------------------------------------------------------------
# Fast writer: the same bytes as `_new_record`, as text (see the module docstring)
# --------------------------------------------------------------------------------------------


class _Fallback(Exception):  # noqa: N818 - a signal, not an error
    """The fast writer does not handle this record; the reference writer will."""


class _EscapedRow:
    """A row whose string values come back escaped as lxml escapes text (&, <, >)."""

    __slots__ = ("_row",)

    def __init__(self, row: Mapping[str, Any]) -> None:
        self._row = row

    def get(self, key: str) -> Any:
        value = self._row.get(key)
        if value.__class__ is str:
            return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return value


_SCHEME_XML = {
    "NIDN": "<SchmeNm><Cd>NIDN</Cd></SchmeNm>",
    "CCPT": "<SchmeNm><Cd>CCPT</Cd></SchmeNm>",
    "CONCAT": "<SchmeNm><Prtry>CONCAT</Prtry></SchmeNm>",
}


def _fast_other(get: Callable[[str], Any], id_key: str, scheme_key: str, texts: list[Any]) -> str:
    ident = get(id_key)
    scheme_xml = _SCHEME_XML.get(get(scheme_key))
    if ident is None or scheme_xml is None:
        raise _Fallback
    texts.append(ident)
    return f"<Othr><Id>{ident}</Id>{scheme_xml}</Othr>"


def _fast_person(get: Callable[[str], Any], keys: _PersonKeys, texts: list[Any]) -> str:
    first, surname, birth = get(keys.first_name), get(keys.surname), get(keys.birth_date)
    if first is None or surname is None or birth.__class__ is not date:
        raise _Fallback
    texts.append(first)
    texts.append(surname)
    other = _fast_other(get, keys.id, keys.scheme, texts)
    return (
        f"<Prsn><FrstNm>{first}</FrstNm><Nm>{surname}</Nm>"
        f"<BirthDt>{birth.isoformat()}</BirthDt>{other}</Prsn>"
    )


def _fast_party(get: Callable[[str], Any], keys: _PartyKeys, texts: list[Any]) -> str:
    id_type = get(keys.id_type)
    if id_type == "LEI" or id_type == "MIC":
        ident = get(keys.id)
        if ident is None:
            raise _Fallback
        texts.append(ident)
        tag = "LEI" if id_type == "LEI" else "MIC"
        owner = f"<Id><{tag}>{ident}</{tag}></Id>"
    elif id_type == "PERSON":
        owner = f"<Id>{_fast_person(get, keys.holder, texts)}</Id>"
    elif id_type == "INTC":
        owner = "<Id><Intl>INTC</Intl></Id>"
    else:
        raise _Fallback
    country = get(keys.branch_country)
    branch = ""
    if country is not None:
        texts.append(country)
        branch = f"<CtryOfBrnch>{country}</CtryOfBrnch>"
    xml = f"<AcctOwnr>{owner}{branch}</AcctOwnr>"
    if get(keys.second_id) is not None:
        xml += f"<AcctOwnr><Id>{_fast_person(get, keys.second, texts)}</Id>{branch}</AcctOwnr>"
    if get(keys.dm_type) is None:
        return xml
    return xml + _fast_decision_maker(get, keys, texts)


def _fast_decision_maker(get: Callable[[str], Any], keys: _PartyKeys, texts: list[Any]) -> str:
    kind = get(keys.dm_type)
    if kind is None:
        return ""
    if kind == "LEI":
        ident = get(keys.dm.id)
        if ident is None:
            raise _Fallback
        texts.append(ident)
        return f"<DcsnMakr><LEI>{ident}</LEI></DcsnMakr>"
    if kind == "PERSON":
        return f"<DcsnMakr>{_fast_person(get, keys.dm, texts)}</DcsnMakr>"
    raise _Fallback


def _fast_person_or_algo(
    get: Callable[[str], Any], tag: str, prefix: str, texts: list[Any], *, allow_client: bool
) -> str:
    kind = get(prefix + "_type")
    if kind is None:
        return ""
    if kind == "ALGO":
        ident = get(prefix + "_id")
        if ident is None:
            raise _Fallback
        texts.append(ident)
        return f"<{tag}><Algo>{ident}</Algo></{tag}>"
    if kind == "PERSON":
        country = get(prefix + "_branch_country")
        if country is None:
            raise _Fallback
        texts.append(country)
        other = _fast_other(get, prefix + "_id", prefix + "_scheme", texts)
        return f"<{tag}><Prsn><CtryOfBrnch>{country}</CtryOfBrnch>{other}</Prsn></{tag}>"
    if kind == "CLIENT" and allow_client:
        return f"<{tag}><Clnt>NORE</Clnt></{tag}>"
    raise _Fallback


def _fast_opt(get: Callable[[str], Any], key: str, tag: str, texts: list[Any]) -> str:
    value = get(key)
    if value is None:
        return ""
    texts.append(value)
    return f"<{tag}>{value}</{tag}>"


def _fast_signed(amount: str, currency: Any, attrs: list[Any]) -> str:
    """`Amt` (+ `Sgn`) as `_signed_amount` writes it; `attrs` collects the currency."""
    attrs.append(currency)
    if amount[0] == "-":
        return f'<Amt Ccy="{currency}">{amount[1:]}</Amt><Sgn>false</Sgn>'
    return f'<Amt Ccy="{currency}">{amount}</Amt>'


def _fast_price(get: Callable[[str], Any], texts: list[Any], attrs: list[Any]) -> str:
    kind = get("price_type")
    if kind is None or kind == "MNTRY":
        amount = _format_price(get("price"))
        currency = get("price_currency")
        if currency is None:
            raise _Fallback
        signed = _fast_signed(amount, currency, attrs)
        return f"<Pric><Pric><MntryVal>{signed}</MntryVal></Pric></Pric>"
    if kind == "PCTG" or kind == "YLD":
        tag = _RATE_TAGS[kind]
        return f"<Pric><Pric><{tag}>{_format_rate(get('price'))}</{tag}></Pric></Pric>"
    if kind == "BSISPTS":
        return f"<Pric><Pric><BsisPts>{_format_quantity(get('price'))}</BsisPts></Pric></Pric>"
    if kind == "PNDG" or kind == "NOAP":
        currency = _fast_opt(get, "price_currency", "Ccy", texts)
        return f"<Pric><NoPric><Pdg>{kind}</Pdg>{currency}</NoPric></Pric>"
    raise _Fallback


def _fast_quantity(get: Callable[[str], Any], kind: Any, attrs: list[Any]) -> str:
    """`Qty/{NmnlVal | MntryVal}` with its currency (see `_quantity`)."""
    if kind != "NMNL" and kind != "MNTRY":
        raise _Fallback
    amount = _format_amount(get("quantity"))
    currency = get("quantity_currency")
    attrs.append(currency)
    tag = "NmnlVal" if kind == "NMNL" else "MntryVal"
    return f'<Qty><{tag} Ccy="{currency}">{amount}</{tag}></Qty>'


def _fast_transaction(get: Callable[[str], Any], texts: list[Any], attrs: list[Any]) -> str:
    """`New/Tx` (see `_transaction`, `_quantity` and `_price`)."""
    traded = format_datetime(get("trading_datetime"))
    capacity = get("trading_capacity")
    venue = get("venue")
    texts.append(capacity)
    texts.append(venue)
    kind = get("quantity_type")
    if kind is None or kind == "UNIT":
        qty = f"<Qty><Unit>{_format_quantity(get('quantity'))}</Unit></Qty>"
    else:
        qty = _fast_quantity(get, kind, attrs)
    if get("deriv_notional_change") is not None:
        qty += _fast_opt(get, "deriv_notional_change", "DerivNtnlChng", texts)
    if get("price_type") is None:  # the common case, inline: MNTRY
        amount = _format_price(get("price"))
        currency = get("price_currency")
        attrs.append(currency)
        if amount[0] == "-":
            price = f'<Amt Ccy="{currency}">{amount[1:]}</Amt><Sgn>false</Sgn>'
        else:
            price = f'<Amt Ccy="{currency}">{amount}</Amt>'
        price = f"<Pric><Pric><MntryVal>{price}</MntryVal></Pric></Pric>"
    else:
        price = _fast_price(get, texts, attrs)
    net = get("net_amount")
    if net is not None:
        price += f"<NetAmt>{_format_amount(net)}</NetAmt>"
    country = get("country_of_branch")
    if country is None:
        tail = ""
    else:
        texts.append(country)
        tail = f"<CtryOfBrnch>{country}</CtryOfBrnch>"
    upfront = get("upfront_payment")
    if upfront is not None:
        currency = get("upfront_payment_currency")
        tail += f"<UpFrntPmt>{_fast_signed(_format_amount(upfront), currency, attrs)}</UpFrntPmt>"
    venue_tx_id = get("venue_transaction_id")
    if venue_tx_id is not None:
        texts.append(venue_tx_id)
        tail += f"<TradPlcMtchgId>{venue_tx_id}</TradPlcMtchgId>"
    if get("complex_trade_id") is not None:
        tail += _fast_opt(get, "complex_trade_id", "CmplxTradCmpntId", texts)
    return (
        f"<Tx><TradDt>{traded}</TradDt><TradgCpcty>{capacity}</TradgCpcty>{qty}{price}"
        f"<TradVn>{venue}</TradVn>{tail}</Tx>"
    )


def _fast_derivative(get: Callable[[str], Any], texts: list[Any], attrs: list[Any]) -> str:
    """`DerivInstrmAttrbts` (see `_derivative` and `_underlying`)."""
    expiry = get("expiry_date")
    xml = "<DerivInstrmAttrbts>"
    if expiry is not None:
        if expiry.__class__ is not date:
            raise _Fallback
        xml += f"<XpryDt>{expiry.isoformat()}</XpryDt>"
    xml += f"<PricMltplr>{_format_quantity(get('price_multiplier'))}</PricMltplr>"
    index_name = get("underlying_index_name")
    if index_name is None:
        isin = get("underlying_isin")
        if isin is None:
            raise _Fallback
        texts.append(isin)
        single = f"<ISIN>{isin}</ISIN>"
    else:
        texts.append(index_name)
        single = f"<Indx>{_fast_opt(get, 'underlying_isin', 'ISIN', texts)}"
        single += f"<Nm><RefRate><Nm>{index_name}</Nm></RefRate>"
        unit = get("underlying_index_term_unit")
        if unit is not None:
            texts.append(unit)
            value = _format_term(get("underlying_index_term_value"))
            single += f"<Term><Unit>{unit}</Unit><Val>{value}</Val></Term>"
        single += "</Nm></Indx>"
    xml += f"<UndrlygInstrm><Othr><Sngl>{single}</Sngl></Othr></UndrlygInstrm>"
    xml += _fast_opt(get, "option_type", "OptnTp", texts)
    strike = get("strike_price")
    if strike is not None:
        currency = get("strike_currency")
        if currency is None:
            raise _Fallback
        amount = _fast_signed(_format_price(strike), currency, attrs)
        xml += f"<StrkPric><Pric><MntryVal>{amount}</MntryVal></Pric></StrkPric>"
    xml += _fast_opt(get, "exercise_style", "OptnExrcStyle", texts)
    delivery = get("delivery_type")
    if delivery is None:
        raise _Fallback
    texts.append(delivery)
    xml += f"<DlvryTp>{delivery}</DlvryTp>"
    currency_2 = get("notional_currency_2")
    if currency_2 is not None:
        texts.append(currency_2)
        asset_class = "FX" if _is_fx_cfi(get("instrument_cfi")) else "Intrst"
        xml += (
            f"<AsstClssSpcfcAttrbts><{asset_class}><OthrNtnlCcy>{currency_2}</OthrNtnlCcy>"
            f"</{asset_class}></AsstClssSpcfcAttrbts>"
        )
    return xml + "</DerivInstrmAttrbts>"


def _fast_other_instrument(
    get: Callable[[str], Any], in_firds: Any, texts: list[Any], attrs: list[Any]
) -> str:
    """`FinInstrm/Othr` (see `_instrument`): the instrument is not in FIRDS."""
    if in_firds is not False:
        raise _Fallback
    name, cfi = get("instrument_full_name"), get("instrument_cfi")
    if name is None or cfi is None:
        raise _Fallback
    texts.append(name)
    texts.append(cfi)
    xml = (
        f"<FinInstrm><Othr><FinInstrmGnlAttrbts>{_fast_opt(get, 'instrument_isin', 'Id', texts)}"
        f"<FullNm>{name}</FullNm><ClssfctnTp>{cfi}</ClssfctnTp>"
        f"{_fast_opt(get, 'notional_currency', 'NtnlCcy', texts)}</FinInstrmGnlAttrbts>"
    )
    maturity = get("maturity_date")
    if maturity is not None:
        if maturity.__class__ is not date:
            raise _Fallback
        xml += f"<DebtInstrmAttrbts><MtrtyDt>{maturity.isoformat()}</MtrtyDt></DebtInstrmAttrbts>"
    for key in _DERIVATIVE_KEYS:
        if get(key) is not None:
            xml += _fast_derivative(get, texts, attrs)
            break
    return xml + "</Othr></FinInstrm>"


def _fast_codes(value: Any, tag: str, texts: list[Any]) -> str:
    if value is None:
        return ""
    if value.__class__ is not str:
        raise _Fallback
    codes = value.split()
    texts += codes
    return "".join([f"<{tag}>{code}</{tag}>" for code in codes])


def _fast_additional(get: Callable[[str], Any], texts: list[Any]) -> str:
    """`AddtlAttrbts` up to, not including, the SFT indicator (see `_additional_attributes`)."""
    short = get("short_selling_ind")
    if (
        get("waiver_ind") is None
        and get("otc_post_trade_ind") is None
        and get("commodity_derivative_ind") is None
    ):  # the common case: at most a short selling indicator
        if short is None:
            return ""
        texts.append(short)
        return f"<ShrtSellgInd>{short}</ShrtSellgInd>"
    extra = _fast_codes(get("waiver_ind"), "WvrInd", texts)
    extra += _fast_opt(get, "short_selling_ind", "ShrtSellgInd", texts)
    extra += _fast_codes(get("otc_post_trade_ind"), "OTCPstTradInd", texts)
    flag = get("commodity_derivative_ind")
    if flag is None:
        return extra
    if flag is True:
        return extra + "<RskRdcgTx>true</RskRdcgTx>"
    if flag is False:
        return extra + "<RskRdcgTx>false</RskRdcgTx>"
    raise _Fallback


def _fast_cancel(get: Callable[[str], Any]) -> str | None:
    texts = [get("tx_id"), get("executing_entity_lei"), get("submitting_entity_lei")]
    joined = "".join(texts)  # TypeError for None or non-str: the reference decides
    if _NOT_PLAIN.search(joined) is not None:
        return None
    return (
        f"<Tx><Cxl><TxId>{texts[0]}</TxId><ExctgPty>{texts[1]}</ExctgPty>"
        f"<SubmitgPty>{texts[2]}</SubmitgPty></Cxl></Tx>"
    )


def _fast_bool(flag: Any) -> str:
    if flag is True:
        return "true"
    if flag is False:
        return "false"
    raise _Fallback


def _fast_record(row: Mapping[str, Any]) -> str | None:
    """One `Tx/New` or `Tx/Cxl` as text, or None when the reference writer must render it."""
    record_type = row.get("record_type")
    if record_type is None or record_type == "NEWT":
        return _fast_new(row)
    if record_type == "CANC":
        return _fast_cancel(row.get)
    raise _Fallback


def _fast_new(row: Mapping[str, Any], *, escaped: bool = False) -> str | None:
    """One `Tx/New` as text, or None when the reference writer must render it.

    Raises `_Fallback` (or whatever a value provokes) for anything but the plain case; the
    caller then renders the record with `_new_record`. `texts` collects every value written
    verbatim in text, `attrs` every `Ccy` attribute value, so that one join checks their
    types (str only, as lxml requires) and one regex search their characters.
    """
    get = row.get
    texts: list[Any] = [get("tx_id"), get("executing_entity_lei"), get("submitting_entity_lei")]
    attrs: list[Any] = []
    investment_firm = _fast_bool(get("investment_firm_ind"))
    buyer = _fast_party(get, _BUYER, texts)
    seller = _fast_party(get, _SELLER, texts)
    transmission = _fast_bool(get("transmission_ind")) + "</TrnsmssnInd>"
    if get("transmitting_firm_buyer_lei") is not None:
        transmission += _fast_opt(get, "transmitting_firm_buyer_lei", "TrnsmttgBuyr", texts)
    if get("transmitting_firm_seller_lei") is not None:
        transmission += _fast_opt(get, "transmitting_firm_seller_lei", "TrnsmttgSellr", texts)
    transaction = _fast_transaction(get, texts, attrs)
    in_firds = get("instrument_in_firds")
    if in_firds is None or in_firds is True:
        isin = get("instrument_isin")
        texts.append(isin)
        instrument = f"<FinInstrm><Id>{isin}</Id></FinInstrm>"
    else:
        instrument = _fast_other_instrument(get, in_firds, texts, attrs)
    decision = _fast_person_or_algo(
        get, "InvstmtDcsnPrsn", "investment_decision", texts, allow_client=False
    )
    execution = _fast_person_or_algo(get, "ExctgPrsn", "executing_person", texts, allow_client=True)
    if not execution:
        raise _Fallback
    extra = _fast_additional(get, texts)
    sft = _fast_bool(get("securities_financing_ind"))
    if attrs:
        currencies = "".join(attrs)  # TypeError for a non-str currency
        if '"' in currencies:  # lxml writes &quot; in attributes only
            raise _Fallback
        texts.append(currencies)
    if not escaped:
        # TypeError for None or any non-str value; then the reference path decides.
        joined = "".join(texts)
        if _NOT_PLAIN.search(joined) is not None:
            if _UNSAFE.search(joined) is not None:
                return None
            return _fast_new(_EscapedRow(row), escaped=True)  # type: ignore[arg-type]
    tx_id, executing, submitting = texts[0], texts[1], texts[2]
    return (
        f"<Tx><New><TxId>{tx_id}</TxId><ExctgPty>{executing}</ExctgPty>"
        f"<InvstmtPtyInd>{investment_firm}</InvstmtPtyInd><SubmitgPty>{submitting}</SubmitgPty>"
        f"<Buyr>{buyer}</Buyr><Sellr>{seller}</Sellr>"
        f"<OrdrTrnsmssn><TrnsmssnInd>{transmission}</OrdrTrnsmssn>"
        f"{transaction}{instrument}"
        f"{decision}{execution}<AddtlAttrbts>{extra}"
        f"<SctiesFincgTxInd>{sft}</SctiesFincgTxInd></AddtlAttrbts></New></Tx>"
    )


def _record_text(row: Mapping[str, Any]) -> str:
    """One record as text: the fast writer's, else the reference writer's (or its error)."""
    try:
        text = _fast_record(row)
    except Exception:  # noqa: BLE001 - the reference writer raises the error, if any
        text = None
    if text is None:
        text = etree.tostring(_new_record(row), encoding="unicode")
    return text


def _app_header(header: ReportHeader) -> etree._Element:
    """`AppHdr` per head.001 ESMA usage guideline 1.0.0.

    `Fr` and `To` are `OrgId/Id/OrgId/Othr` (the only branch the usage guideline keeps), with
    `Id` Max35Text and an optional `SchmeNm/Prtry` (Max35Text): the sender's LEI with scheme
    "LEI", the receiving NCA's country code with scheme "NCA".
    """
    ns = f"{{{NS_HEAD001}}}"
    hdr = etree.Element(f"{ns}AppHdr", nsmap={None: NS_HEAD001})
    for tag, ident, scheme in (
        ("Fr", header.from_lei, FROM_SCHEME),
        ("To", header.to_country, TO_SCHEME),
    ):
        othr = _SE(
            _SE(_SE(_SE(_SE(hdr, ns + tag), ns + "OrgId"), ns + "Id"), ns + "OrgId"), ns + "Othr"
        )
        _SE(othr, ns + "Id").text = ident
        _SE(_SE(othr, ns + "SchmeNm"), ns + "Prtry").text = scheme
    _SE(hdr, ns + "BizMsgIdr").text = header.business_message_id
    _SE(hdr, ns + "MsgDefIdr").text = MSG_DEF_IDR_AUTH016
    _SE(hdr, ns + "CreDt").text = format_datetime(header.created_at)
    return hdr


def _nl(level: int) -> str:
    return "\n" + _INDENT * level


def _write_records(xf: Any, records: Iterable[Mapping[str, Any]], level: int) -> int:
    count = 0
    indent = _nl(level)
    for row in records:
        xf.write(indent)
        xf.write(_new_record(row))
        count += 1
    return count


def _write_envelope(fh: BinaryIO, header: ReportHeader, write_body: Callable[[Any], int]) -> int:
    """Write declaration and envelope, with `write_body(xf)` inside `FinInstrmRptgTxRpt`."""
    ns = schema_set(header.schema_version).auth016_namespace
    doc = f"{{{ns}}}"
    head = f"{{{NS_HEAD003}}}"
    # Written by hand: xmlfile's own declaration uses single quotes and lower-case "utf-8".
    fh.write(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    with (
        etree.xmlfile(fh, encoding="utf-8") as xf,
        xf.element(head + "BizData", nsmap={None: NS_HEAD003}),
    ):
        xf.write(_nl(1))
        with xf.element(head + "Hdr"):
            app_hdr = _app_header(header)
            etree.indent(app_hdr, space=_INDENT, level=2)
            xf.write(_nl(2))
            xf.write(app_hdr)
            xf.write(_nl(1))
        xf.write(_nl(1))
        with xf.element(head + "Pyld"):
            xf.write(_nl(2))
            with xf.element(doc + "Document", nsmap={None: ns}):
                xf.write(_nl(3))
                with xf.element(doc + "FinInstrmRptgTxRpt"):
                    count = write_body(xf)
                    xf.write(_nl(3))
                xf.write(_nl(2))
            xf.write(_nl(1))
        xf.write("\n")
    # xmlfile writes nothing after the root; end the file with a newline like a text file.
    fh.write(b"\n")
    return count


def _write_file_reference(
    fh: BinaryIO, header: ReportHeader, records: Iterable[Mapping[str, Any]]
) -> int:
    """The element-based writer: one lxml subtree per record. Reference for the tests."""
    return _write_envelope(fh, header, lambda xf: _write_records(xf, records, 4))


_PLACEHOLDER = "QSuiteRecordsGoHere"


def _envelope(header: ReportHeader) -> tuple[bytes, bytes]:
    """The file's bytes before the first record's separator and after the last record."""
    buf = io.BytesIO()

    def placeholder(xf: Any) -> int:
        xf.write(etree.Element(_PLACEHOLDER))
        return 0

    _write_envelope(buf, header, placeholder)
    before, mark, after = buf.getvalue().partition(f"<{_PLACEHOLDER}/>".encode())
    if not mark:  # pragma: no cover - lxml changed how it writes an empty element
        raise AssertionError("envelope placeholder not found")
    return before, after


def _write_file(fh: BinaryIO, header: ReportHeader, records: Iterable[Mapping[str, Any]]) -> int:
    """Write declaration, envelope and records; return the number of records."""
    before, after = _envelope(header)
    fh.write(before)
    count = 0
    chunk: list[str] = []
    append = chunk.append
    for row in records:
        append(_record_text(row))
        if len(chunk) >= _CHUNK_RECORDS:
            fh.write((_RECORD_SEP + _RECORD_SEP.join(chunk)).encode())
            count += len(chunk)
            chunk.clear()
    if chunk:
        fh.write((_RECORD_SEP + _RECORD_SEP.join(chunk)).encode())
        count += len(chunk)
    fh.write(after)
    return count


def _render(
    path: Path,
    header: ReportHeader,
    records: Iterable[Mapping[str, Any]],
    write_file: Callable[[BinaryIO, ReportHeader, Iterable[Mapping[str, Any]]], int],
) -> RenderResult:
    tmp = path.with_name(path.name + ".part")
    try:
        with tmp.open("wb") as fh:
            count = write_file(fh, header, records)
        if count == 0:
            raise RenderError("no records: auth.016 requires at least one Tx")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return RenderResult(path=path, record_count=count, bytes=path.stat().st_size)


def _render_reference(
    path: Path, header: ReportHeader, records: Iterable[Mapping[str, Any]]
) -> RenderResult:
    """`render_auth016` with the element-based writer; the tests compare the two."""
    return _render(path, header, records, _write_file_reference)


def render_auth016(
    path: Path, header: ReportHeader, records: Iterable[Mapping[str, Any]]
) -> RenderResult:
    """Write a complete submission file, streaming the records.

    The file is written next to `path` under a temporary name and renamed into place only when
    complete, so a failed run never leaves a truncated report where a valid one is expected.

    Args:
        path: Destination file.
        header: Envelope and `AppHdr` values.
        records: Rows of `rpt_mifir_rts22_transactions` (mappings keyed by column name);
            consumed once, so a server-side cursor works.

    Returns:
        Record count and size of the written file.

    Raises:
        RenderError: A record cannot be expressed in auth.016, or there are no records (the
            schema requires at least one `Tx`).
    """
    return _render(path, header, records, _write_file)


class _Part:
    """One file of a split submission while it is being written (under a temporary name)."""

    __slots__ = ("after", "count", "fh", "number", "size", "tmp")

    def __init__(self, directory: Path, number: int, header: ReportHeader) -> None:
        before, self.after = _envelope(header)
        fd, name = tempfile.mkstemp(prefix=".auth016-", suffix=".part", dir=directory)
        self.tmp = Path(name)
        self.fh = os.fdopen(fd, "wb", buffering=_PART_BUFFER)
        try:
            self.fh.write(before)
        except BaseException:
            self.fh.close()
            self.tmp.unlink(missing_ok=True)
            raise
        self.number = number
        self.count = 0
        self.size = len(before) + len(self.after)

    def fits(self, data: bytes, max_records: int, max_bytes: int) -> bool:
        """Whether one more record stays within the limits; a first record always fits."""
        if not self.count:
            return True
        if max_records and self.count >= max_records:
            return False
        return not (max_bytes and self.size + len(data) > max_bytes)

    def add(self, data: bytes) -> None:
        self.fh.write(data)
        self.count += 1
        self.size += len(data)

    def close(self) -> None:
        self.fh.write(self.after)
        self.fh.close()


#: Write buffer of a part file: records are written one by one, the buffer batches them.
_PART_BUFFER = 1 << 20


def _write_parts(
    directory: Path,
    header_for_part: Callable[[int], ReportHeader],
    records: Iterable[Mapping[str, Any]],
    max_records: int,
    max_bytes: int,
    parts: list[_Part],
) -> None:
    """Write the records into `parts` (appended as they open, so the caller can clean up)."""
    part: _Part | None = None
    for row in records:
        data = (_RECORD_SEP + _record_text(row)).encode()
        if part is None or not part.fits(data, max_records, max_bytes):
            if part is not None:
                part.close()
            part = _Part(directory, len(parts) + 1, header_for_part(len(parts) + 1))
            parts.append(part)
        part.add(data)
    if part is None:
        raise RenderError("no records: auth.016 requires at least one Tx")
    part.close()


def _part_names(name_for_part: Callable[[int, int], str], part_count: int) -> list[str]:
    names = [name_for_part(number, part_count) for number in range(1, part_count + 1)]
    for name in names:
        if not name or name != os.path.basename(name) or name in (".", ".."):
            raise ValueError("a part's file name must be a bare file name, not a path")
    if len(set(names)) != len(names):
        raise ValueError("the naming convention gives two parts the same file name")
    return names


def render_auth016_parts(
    directory: Path,
    name_for_part: Callable[[int, int], str],
    header_for_part: Callable[[int], ReportHeader],
    records: Iterable[Mapping[str, Any]],
    *,
    max_records: int = 0,
    max_bytes: int = 0,
) -> list[RenderResult]:
    """Stream records into consecutive submission files of bounded size.

    NCAs cap the size of a file (records and bytes), so a large period is sent as several
    files, each a complete document with its own `AppHdr` (its own `BizMsgIdr`). A new file
    starts when the next record would exceed `max_records` or `max_bytes` (0: no limit); a
    single record larger than `max_bytes` still goes, alone, in a file. The split depends only
    on the records and limits, so a rerun gives the same files, byte for byte.

    Parts are written under temporary names in `directory` and renamed only when every part
    is complete, because the name may need the number of parts (known only at the end). On
    any failure no part is left behind, neither temporary nor renamed.

    Args:
        directory: Where the files go (must exist).
        name_for_part: `(part, part_count) -> file name` (e.g. `regreport.naming.file_name`
            bound to a convention); a bare name, not a path.
        header_for_part: `part -> ReportHeader`, the header of that file (1-based part).
        records: Rows of `rpt_mifir_rts22_transactions`; consumed once.
        max_records: Most records per file; 0 for no limit.
        max_bytes: Most bytes per file; 0 for no limit.

    Returns:
        One `RenderResult` per file, in part order.

    Raises:
        RenderError: A record cannot be expressed in auth.016, or there are no records.
        ValueError: A limit is negative, or a name is not a bare, unique file name.
    """
    if max_records < 0 or max_bytes < 0:
        raise ValueError("max_records and max_bytes must be 0 (no limit) or positive")
    parts: list[_Part] = []
    renamed: list[Path] = []
    try:
        _write_parts(directory, header_for_part, records, max_records, max_bytes, parts)
        names = _part_names(name_for_part, len(parts))
        results = []
        for p, name in zip(parts, names, strict=True):
            path = directory / name
            os.replace(p.tmp, path)
            renamed.append(path)
            results.append(RenderResult(path=path, record_count=p.count, bytes=p.size))
    except BaseException:
        for p in parts:
            if not p.fh.closed:
                p.fh.close()
            p.tmp.unlink(missing_ok=True)
        for path in renamed:
            path.unlink(missing_ok=True)
        raise
    return results
