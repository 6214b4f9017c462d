"""Stream MiFIR RTS 22 transaction records into an ESMA auth.016 submission file.

The output is a head.003 `BizData` envelope: `Hdr/AppHdr` (head.001, ESMA usage guideline
1.0.0) and `Pyld/Document/FinInstrmRptgTxRpt` with one `Tx/New` per record. Records are the
rows of the dbt model `rpt_mifir_rts22_transactions`; the mapping of RTS 22 fields to elements
is in shared/domain/REGULATORY.md, section E1, and the element order is the XSD's.

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

Each XSD block has its own small function writing into its parent, so that the RTS 22 fields
not covered yet (cancellations, derivative and bond attributes, decision makers, joint
accounts, waivers) are additions rather than a rewrite.

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

`tests/plugins/regreport/xml/test_render.py` compares both writers byte for byte on
thousands of varied records and on every code point where lxml's handling differs.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
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
    from pathlib import Path

#: `AppHdr/Fr/.../Othr/SchmeNm/Prtry` for the sender, identified by its LEI.
FROM_SCHEME = "LEI"
#: `AppHdr/To/.../Othr/SchmeNm/Prtry` for the receiving NCA, identified by its country code.
TO_SCHEME = "NCA"

#: Digit limits of the XSD types: quantity is ESMA_NonNegativeExcludingZeroMax18 (18 total, 17
#: fractional), price is ActiveCurrencyAnd13DecimalAmount (18 total, 13 fractional).
QTY_MAX_FRACTION_DIGITS = 17
PRICE_MAX_FRACTION_DIGITS = 13
MAX_TOTAL_DIGITS = 18

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
    report_type: str, period_start: date, period_end: date, sequence: int = 1
) -> str:
    """Build a deterministic `BizMsgIdr` from what identifies a submission.

    A random or clock-based id would change on every rerun and break byte-identical output;
    report type, period and a per-period sequence identify the message just as uniquely.

    Args:
        report_type: e.g. "mifir_rts22".
        period_start: First day of the reporting period.
        period_end: End of the period, as the caller defines it (Airflow: exclusive).
        sequence: 1-based number of the file within the period (re-submissions, splits).

    Returns:
        e.g. "MIFIR_RTS22-20261126-20261127-001".

    Raises:
        ValueError: The id would exceed Max35Text or the sequence is out of range.
    """
    if not 1 <= sequence <= 999:
        raise ValueError(f"sequence {sequence} is outside 1..999")
    ident = f"{report_type.upper()}-{period_start:%Y%m%d}-{period_end:%Y%m%d}-{sequence:03d}"
    if len(ident) > _MAX35:
        raise ValueError(f"business message id {ident!r} is longer than 35 characters")
    return ident


def format_decimal(
    value: Decimal | int, *, max_fraction_digits: int, max_total_digits: int = MAX_TOTAL_DIGITS
) -> str:
    """Spell a decimal canonically: no exponent, no trailing fractional zeros, no "-0".

    Values are never rounded: a value the schema cannot hold is an upstream data error, and
    silently changing a reported quantity or price is worse than failing the run.

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
            raise ValueError(f"{value} is not a finite number")
        text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text == "-0":
        text = "0"
    integer, _, fraction = text.lstrip("-").partition(".")
    if len(fraction) > max_fraction_digits:
        raise ValueError(f"{text} has more than {max_fraction_digits} fractional digits")
    if len(integer.lstrip("0")) + len(fraction) > max_total_digits:
        raise ValueError(f"{text} has more than {max_total_digits} digits")
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
        raise ValueError(f"{value!r} has no timezone")
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


def _cached_decimal(value: Any, cache: dict[Any, str], max_fraction_digits: int) -> str:
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
            return format_decimal(value, max_fraction_digits=max_fraction_digits)
        if text is None:
            text = format_decimal(value, max_fraction_digits=max_fraction_digits)
            if len(cache) >= _DECIMAL_CACHE_MAX:
                cache.clear()
            cache[value] = text
        return text
    return format_decimal(value, max_fraction_digits=max_fraction_digits)


_QTY_CACHE: dict[Any, str] = {}
_PRICE_CACHE: dict[Any, str] = {}


def _format_quantity(value: Decimal | int) -> str:
    return _cached_decimal(value, _QTY_CACHE, QTY_MAX_FRACTION_DIGITS)


def _format_price(value: Decimal | int) -> str:
    # The sign is kept here and moved to `Sgn` by the caller: Amt has minInclusive 0.
    return _cached_decimal(value, _PRICE_CACHE, PRICE_MAX_FRACTION_DIGITS)


def _leaf(parent: etree._Element, tag: str, text: str) -> None:
    _SE(parent, tag).text = text


class _Record:
    """Read access to one row that names the transaction in every error."""

    __slots__ = ("row", "tx_id")

    def __init__(self, row: Mapping[str, Any]) -> None:
        self.row = row
        self.tx_id = row.get("tx_id")

    def req(self, key: str) -> Any:
        value = self.row.get(key)
        if value is None:
            raise RenderError(f"transaction {self.tx_id!r}: {key} is required")
        return value

    def opt(self, key: str) -> Any:
        return self.row.get(key)

    def formatted(self, key: str, formatter: Callable[[Any], str]) -> str:
        """Format a required value, naming the record and column if it does not fit."""
        try:
            return formatter(self.req(key))
        except RenderError:
            raise
        except (TypeError, ValueError) as exc:
            raise RenderError(f"transaction {self.tx_id!r}: {key}: {exc}") from exc


@dataclass(frozen=True)
class _PartyKeys:
    """Column names of one side (buyer/seller), computed once rather than per record."""

    id_type: str
    id: str
    scheme: str
    first_name: str
    surname: str
    birth_date: str
    branch_country: str

    @classmethod
    def of(cls, side: str) -> _PartyKeys:
        return cls(
            *(
                f"{side}_{name}"
                for name in (
                    "id_type",
                    "id",
                    "id_scheme",
                    "first_name",
                    "surname",
                    "birth_date",
                    "branch_country",
                )
            )
        )


_BUYER = _PartyKeys.of("buyer")
_SELLER = _PartyKeys.of("seller")
_NATIONAL_SCHEMES = frozenset({"NIDN", "CCPT"})


def _person_other(parent: etree._Element, rec: _Record, id_key: str, scheme_key: str) -> None:
    """`Othr/{Id, SchmeNm/{Cd|Prtry}}`: a national id (NIDN, CCPT) or the CONCAT code."""
    othr = _SE(parent, "Othr")
    _leaf(othr, "Id", rec.req(id_key))
    scheme = rec.req(scheme_key)
    schme_nm = _SE(othr, "SchmeNm")
    if scheme in _NATIONAL_SCHEMES:
        _leaf(schme_nm, "Cd", scheme)
    elif scheme == "CONCAT":
        _leaf(schme_nm, "Prtry", scheme)
    else:
        raise RenderError(
            f"transaction {rec.tx_id!r}: {scheme_key} {scheme!r} is not one of NIDN, CCPT, CONCAT"
        )


def _party(parent: etree._Element, tag: str, rec: _Record, keys: _PartyKeys) -> None:
    """`Buyr` or `Sellr` with one account owner (fields 7-11 and 16-20)."""
    owner = _SE(_SE(parent, tag), "AcctOwnr")
    ident = _SE(owner, "Id")
    id_type = rec.req(keys.id_type)
    if id_type == "LEI" or id_type == "MIC":
        _leaf(ident, id_type, rec.req(keys.id))
    elif id_type == "PERSON":
        prsn = _SE(ident, "Prsn")
        _leaf(prsn, "FrstNm", rec.req(keys.first_name))
        _leaf(prsn, "Nm", rec.req(keys.surname))
        _leaf(prsn, "BirthDt", rec.formatted(keys.birth_date, format_date))
        _person_other(prsn, rec, keys.id, keys.scheme)
    elif id_type == "INTC":
        _leaf(ident, "Intl", "INTC")
    else:
        raise RenderError(
            f"transaction {rec.tx_id!r}: {keys.id_type} {id_type!r} is not one "
            "of LEI, MIC, PERSON, INTC"
        )
    country = rec.opt(keys.branch_country)
    if country is not None:
        _leaf(owner, "CtryOfBrnch", country)


def _price(parent: etree._Element, rec: _Record) -> None:
    """`Pric/Pric/MntryVal`: Amt is non-negative in the XSD, so the sign goes in `Sgn`."""
    amount = rec.formatted("price", _format_price)
    mntry_val = _SE(_SE(_SE(parent, "Pric"), "Pric"), "MntryVal")
    if amount.startswith("-"):
        _SE(mntry_val, "Amt", Ccy=rec.req("price_currency")).text = amount[1:]
        _leaf(mntry_val, "Sgn", "false")
    else:
        _SE(mntry_val, "Amt", Ccy=rec.req("price_currency")).text = amount


def _transaction(parent: etree._Element, rec: _Record) -> None:
    """`New/Tx`: trading date, capacity, quantity, price, venue (fields 3, 28-37)."""
    tx = _SE(parent, "Tx")
    _leaf(tx, "TradDt", rec.formatted("trading_datetime", format_datetime))
    _leaf(tx, "TradgCpcty", rec.req("trading_capacity"))
    _leaf(_SE(tx, "Qty"), "Unit", rec.formatted("quantity", _format_quantity))
    _price(tx, rec)
    _leaf(tx, "TradVn", rec.req("venue"))
    country = rec.opt("country_of_branch")
    if country is not None:
        _leaf(tx, "CtryOfBrnch", country)
    venue_tx_id = rec.opt("venue_transaction_id")
    if venue_tx_id is not None:
        _leaf(tx, "TradPlcMtchgId", venue_tx_id)


def _instrument(parent: etree._Element, rec: _Record) -> None:
    """`FinInstrm/Id`: the ISIN of an instrument admitted to trading (field 41)."""
    _leaf(_SE(parent, "FinInstrm"), "Id", rec.req("instrument_isin"))


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
        _leaf(prsn, "CtryOfBrnch", rec.req(f"{prefix}_branch_country"))
        _person_other(prsn, rec, f"{prefix}_id", f"{prefix}_scheme")
    elif kind == "ALGO":
        _leaf(block, "Algo", rec.req(f"{prefix}_id"))
    elif kind == "CLIENT" and allow_client:
        _leaf(block, "Clnt", "NORE")
    else:
        raise RenderError(f"transaction {rec.tx_id!r}: {prefix}_type {kind!r} is not allowed")
    return True


def _additional_attributes(parent: etree._Element, rec: _Record) -> None:
    """`AddtlAttrbts`: short selling (62) and the mandatory SFT indicator (65)."""
    attrs = _SE(parent, "AddtlAttrbts")
    short = rec.opt("short_selling_ind")
    if short is not None:
        _leaf(attrs, "ShrtSellgInd", short)
    _leaf(attrs, "SctiesFincgTxInd", rec.formatted("securities_financing_ind", format_bool))


def _new_record(row: Mapping[str, Any]) -> etree._Element:
    """Build one `Tx/New` subtree (no namespace: see the module docstring)."""
    rec = _Record(row)
    tx = etree.Element("Tx")
    new = _SE(tx, "New")
    try:
        _leaf(new, "TxId", rec.req("tx_id"))
        _leaf(new, "ExctgPty", rec.req("executing_entity_lei"))
        _leaf(new, "InvstmtPtyInd", rec.formatted("investment_firm_ind", format_bool))
        _leaf(new, "SubmitgPty", rec.req("submitting_entity_lei"))
        _party(new, "Buyr", rec, _BUYER)
        _party(new, "Sellr", rec, _SELLER)
        _leaf(
            _SE(new, "OrdrTrnsmssn"), "TrnsmssnInd", rec.formatted("transmission_ind", format_bool)
        )
        _transaction(new, rec)
        _instrument(new, rec)
        _decision_or_execution(
            new, "InvstmtDcsnPrsn", rec, "investment_decision", allow_client=False
        )
        if not _decision_or_execution(new, "ExctgPrsn", rec, "executing_person", allow_client=True):
            raise RenderError(f"transaction {rec.tx_id!r}: executing_person_type is required")
        _additional_attributes(new, rec)
    except RenderError:
        raise
    except (TypeError, ValueError) as exc:
        # lxml refuses non-string text and control characters; name the record.
        raise RenderError(f"transaction {rec.tx_id!r}: {exc}") from exc
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


def _fast_party(get: Callable[[str], Any], keys: _PartyKeys, texts: list[Any]) -> str:
    id_type = get(keys.id_type)
    if id_type == "LEI" or id_type == "MIC":
        ident = get(keys.id)
        if ident is None:
            raise _Fallback
        texts.append(ident)
        tag = "LEI" if id_type == "LEI" else "MIC"
        xml = f"<AcctOwnr><Id><{tag}>{ident}</{tag}></Id>"
    elif id_type == "PERSON":
        first, surname, birth = get(keys.first_name), get(keys.surname), get(keys.birth_date)
        if first is None or surname is None or birth.__class__ is not date:
            raise _Fallback
        texts.append(first)
        texts.append(surname)
        other = _fast_other(get, keys.id, keys.scheme, texts)
        xml = (
            f"<AcctOwnr><Id><Prsn><FrstNm>{first}</FrstNm><Nm>{surname}</Nm>"
            f"<BirthDt>{birth.isoformat()}</BirthDt>{other}</Prsn></Id>"
        )
    elif id_type == "INTC":
        xml = "<AcctOwnr><Id><Intl>INTC</Intl></Id>"
    else:
        raise _Fallback
    country = get(keys.branch_country)
    if country is None:
        return xml + "</AcctOwnr>"
    texts.append(country)
    return f"{xml}<CtryOfBrnch>{country}</CtryOfBrnch></AcctOwnr>"


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


def _fast_transaction(get: Callable[[str], Any], texts: list[Any]) -> str:
    """`New/Tx` and `FinInstrm` (see `_transaction`, `_price` and `_instrument`)."""
    traded = format_datetime(get("trading_datetime"))
    capacity = get("trading_capacity")
    quantity = _format_quantity(get("quantity"))
    amount = _format_price(get("price"))
    currency = get("price_currency")
    venue = get("venue")
    isin = get("instrument_isin")
    texts += (capacity, currency, venue, isin)
    if '"' in currency:  # lxml writes &quot; in attributes only
        raise _Fallback
    if amount[0] == "-":
        price = f'<Amt Ccy="{currency}">{amount[1:]}</Amt><Sgn>false</Sgn>'
    else:
        price = f'<Amt Ccy="{currency}">{amount}</Amt>'
    tx_tail = ""
    country = get("country_of_branch")
    if country is not None:
        texts.append(country)
        tx_tail = f"<CtryOfBrnch>{country}</CtryOfBrnch>"
    venue_tx_id = get("venue_transaction_id")
    if venue_tx_id is not None:
        texts.append(venue_tx_id)
        tx_tail += f"<TradPlcMtchgId>{venue_tx_id}</TradPlcMtchgId>"
    return (
        f"<Tx><TradDt>{traded}</TradDt><TradgCpcty>{capacity}</TradgCpcty>"
        f"<Qty><Unit>{quantity}</Unit></Qty><Pric><Pric><MntryVal>{price}</MntryVal></Pric></Pric>"
        f"<TradVn>{venue}</TradVn>{tx_tail}</Tx><FinInstrm><Id>{isin}</Id></FinInstrm>"
    )


def _fast_record(row: Mapping[str, Any], *, escaped: bool = False) -> str | None:
    """One `Tx/New` as text, or None when the reference writer must render it.

    Raises `_Fallback` (or whatever a value provokes) for anything but the plain case; the
    caller then renders the record with `_new_record`. `texts` collects every value written
    verbatim, so that one join checks their types (str only, as lxml requires) and one
    regex search their characters.
    """
    get = row.get
    texts: list[Any] = [get("tx_id"), get("executing_entity_lei"), get("submitting_entity_lei")]
    flag = get("investment_firm_ind")
    investment_firm = "true" if flag is True else "false" if flag is False else None
    buyer = _fast_party(get, _BUYER, texts)
    seller = _fast_party(get, _SELLER, texts)
    flag = get("transmission_ind")
    transmission = "true" if flag is True else "false" if flag is False else None
    transaction = _fast_transaction(get, texts)
    decision = _fast_person_or_algo(
        get, "InvstmtDcsnPrsn", "investment_decision", texts, allow_client=False
    )
    execution = _fast_person_or_algo(get, "ExctgPrsn", "executing_person", texts, allow_client=True)
    if not execution:
        raise _Fallback
    short = get("short_selling_ind")
    if short is None:
        attrs = "<AddtlAttrbts>"
    else:
        texts.append(short)
        attrs = f"<AddtlAttrbts><ShrtSellgInd>{short}</ShrtSellgInd>"
    flag = get("securities_financing_ind")
    sft = "true" if flag is True else "false" if flag is False else None
    if investment_firm is None or transmission is None or sft is None:
        raise _Fallback
    if not escaped:
        # TypeError for None or any non-str value; then the reference path decides.
        joined = "".join(texts)
        if _NOT_PLAIN.search(joined) is not None:
            if _UNSAFE.search(joined) is not None:
                return None
            return _fast_record(_EscapedRow(row), escaped=True)  # type: ignore[arg-type]
    tx_id, executing, submitting = texts[0], texts[1], texts[2]
    return (
        f"<Tx><New><TxId>{tx_id}</TxId><ExctgPty>{executing}</ExctgPty>"
        f"<InvstmtPtyInd>{investment_firm}</InvstmtPtyInd><SubmitgPty>{submitting}</SubmitgPty>"
        f"<Buyr>{buyer}</Buyr><Sellr>{seller}</Sellr>"
        f"<OrdrTrnsmssn><TrnsmssnInd>{transmission}</TrnsmssnInd></OrdrTrnsmssn>"
        f"{transaction}"
        f"{decision}{execution}{attrs}<SctiesFincgTxInd>{sft}</SctiesFincgTxInd></AddtlAttrbts>"
        "</New></Tx>"
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
