"""Read an auth.016 file back into report records: the inverse of `regreport.xml.render`.

`regreport validate FILE` and the regulator simulator run the rule catalogue
(`regreport.rules.check_record`) on files written by any tool, so each `Tx` is turned back into
a mapping with the keys of the report table `rpt_mifir_rts22_transactions` (the keys
`render.py` reads), holding what the renderer would have been given: `Decimal` for numbers,
timezone-aware `datetime` for the trading time, `date` for dates, `bool` for indicators, and
space-separated codes for the repeatable waiver and OTC post-trade indicators. A column whose
element is absent is None.

Columns a file cannot carry are derived where the file determines them, else left None:

* `record_type`: NEWT for `Tx/New`, CANC for `Tx/Cxl`.
* `trading_date`: the UTC date of `TradDt`.
* `instrument_in_firds`: True when `FinInstrm/Id` identifies the instrument, False for
  `FinInstrm/Othr`.
* `instrument_type`: from the first letter of the CFI (`ClssfctnTp`), which only
  `FinInstrm/Othr` carries: E share, C (collective investment vehicle) ETF, D bond,
  O option, F future; None for an instrument identified by ISIN only or another category.
* `price_type` and `quantity_type` are always set from the element used (the renderer writes
  MNTRY and UNIT for None, so the two spellings mean the same file).
* `leg`, `execution_id`, `extract_run_id` and the like stay out: they are the platform's.

The file is read with `iterparse` and every record is cleared once read, so memory stays flat
however many records the file holds. Both roots are accepted: a head.003 `BizData` envelope and
a bare `Document`, in either auth.016 namespace (production or the 2017 draft): elements are
matched by local name. The parser resolves no entities and opens no network connection.

No value is ever put into an exception message: records carry names, birth dates and national
ids. Values that do not parse (possible only in a file that is not XSD-valid) are kept as their
text, so that the rules, not the reader, report them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from lxml import etree

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

#: CFI category (ISO 10962, first letter) -> the report's `instrument_type`.
CFI_INSTRUMENT_TYPES = {"E": "SHARE", "C": "ETF", "D": "BOND", "O": "OPTION", "F": "FUTURE"}

_SIDES = (("Buyr", "buyer"), ("Sellr", "seller"))
_RATE_PRICE = {"Pctg": "PCTG", "Yld": "YLD", "BsisPts": "BSISPTS"}
_QUANTITY = {"Unit": "UNIT", "NmnlVal": "NMNL", "MntryVal": "MNTRY"}
_PERSON_PARTS = ("id", "first_name", "surname", "birth_date")


class ReadError(ValueError):
    """The file is not well-formed XML; the message carries libxml2's reason, never content."""


@dataclass(frozen=True)
class ReadRecord:
    """One `FinInstrmRptgTxRpt/Tx` of a file.

    Attributes:
        index: 1-based position of the record in the file.
        tx_id: `TxId` ("" when absent).
        action: "New" or "Cxl" (the element under `Tx`).
        record: Report-table columns (see the module docstring).
        line: Line of the `Tx` element in the file, for messages.
    """

    index: int
    tx_id: str
    action: str
    record: dict[str, Any]
    line: int | None = None


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


class _Flat:
    """The elements of one record by path of local names ("Buyr/AcctOwnr"), in one walk.

    One pass over the record's subtree, then dictionary lookups: measured several times
    faster than walking children per field. Each `AcctOwnr` is kept whole (a joint account
    has two, whose leaves would otherwise share paths); `owners` flattens one of them.
    """

    __slots__ = ("items",)

    def __init__(self, elem: etree._Element) -> None:
        self.items: dict[str, list[etree._Element]] = {}
        self._walk(elem, "")

    def _walk(self, elem: etree._Element, prefix: str) -> None:
        items = self.items
        for child in elem:
            tag = child.tag
            if not isinstance(tag, str):
                continue  # comments, processing instructions
            path = prefix + tag[tag.find("}") + 1 :]
            found = items.get(path)
            if found is None:
                items[path] = [child]
            else:
                found.append(child)
            if len(child) and not path.endswith("AcctOwnr"):
                self._walk(child, path + "/")

    def get(self, path: str) -> etree._Element | None:
        found = self.items.get(path)
        return found[0] if found else None

    def all(self, path: str) -> list[etree._Element]:
        return self.items.get(path, [])

    def has(self, path: str) -> bool:
        return path in self.items

    def text(self, path: str) -> str | None:
        found = self.items.get(path)
        if not found:
            return None
        text = found[0].text
        return text.strip() if text is not None else None

    def attr(self, path: str, name: str) -> str | None:
        found = self.items.get(path)
        return found[0].get(name) if found else None


def _decimal(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return text


def _date(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return text


def _datetime(text: str | None) -> Any:
    """An ISO 8601 moment; "Z" and offsets give aware values, a naive text stays naive."""
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return text


def _bool(text: str | None) -> Any:
    if text is None:
        return None
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    return text


def _signed(flat: _Flat, path: str) -> tuple[Any, str | None]:
    """(value, currency) of `<path>/Amt` with the sign of `<path>/Sgn` (false: negative)."""
    value = _decimal(flat.text(path + "/Amt"))
    if isinstance(value, Decimal) and flat.text(path + "/Sgn") == "false":
        value = -value
    return value, flat.attr(path + "/Amt", "Ccy")


def _person(flat: _Flat, path: str, out: dict[str, Any], prefix: str, scheme: str) -> None:
    """`Prsn/{FrstNm, Nm, BirthDt, Othr/{Id, SchmeNm/{Cd|Prtry}}}` into `<prefix>_...`."""
    out[f"{prefix}_first_name"] = flat.text(path + "/FrstNm")
    out[f"{prefix}_surname"] = flat.text(path + "/Nm")
    out[f"{prefix}_birth_date"] = _date(flat.text(path + "/BirthDt"))
    _other(flat, path + "/Othr", out, f"{prefix}_id", f"{prefix}_{scheme}")


def _other(flat: _Flat, path: str, out: dict[str, Any], id_key: str, scheme_key: str) -> None:
    out[id_key] = flat.text(path + "/Id")
    out[scheme_key] = flat.text(path + "/SchmeNm/Cd") or flat.text(path + "/SchmeNm/Prtry")


def _owner(owner: etree._Element, out: dict[str, Any], prefix: str) -> None:
    """The first `AcctOwnr` (fields 7-11, 16-20): LEI, MIC, person or INTC, branch country."""
    flat = _Flat(owner)
    out[f"{prefix}_branch_country"] = flat.text("CtryOfBrnch")
    if flat.has("Id/LEI") or flat.has("Id/MIC"):
        kind = "LEI" if flat.has("Id/LEI") else "MIC"
        out[f"{prefix}_id_type"] = kind
        out[f"{prefix}_id"] = flat.text("Id/" + kind)
    elif flat.has("Id/Prsn"):
        out[f"{prefix}_id_type"] = "PERSON"
        _person(flat, "Id/Prsn", out, prefix, "id_scheme")
    elif flat.has("Id/Intl"):
        out[f"{prefix}_id_type"] = flat.text("Id/Intl")  # INTC; the id stays None


def _second_owner(owner: etree._Element, out: dict[str, Any], prefix: str) -> None:
    """A joint account's second `AcctOwnr`: a person, or (another tool's) other id kept."""
    flat = _Flat(owner)
    if flat.has("Id/Prsn"):
        _person(flat, "Id/Prsn", out, f"{prefix}2", "id_scheme")
    else:
        out[f"{prefix}2_id"] = flat.text("Id/LEI") or flat.text("Id/MIC") or flat.text("Id/Intl")


def _party(flat: _Flat, tag: str, out: dict[str, Any], prefix: str) -> None:
    """`Buyr`/`Sellr` (fields 7-24): first and second account owner, decision maker."""
    for key in ("id_type", "id", "id_scheme", "first_name", "surname", "birth_date"):
        out[f"{prefix}_{key}"] = None
    out[f"{prefix}_branch_country"] = None
    for part in (*_PERSON_PARTS, "id_scheme"):
        out[f"{prefix}2_{part}"] = None
    out[f"{prefix}_decision_maker_type"] = None
    for part in (*_PERSON_PARTS, "scheme"):
        out[f"{prefix}_decision_maker_{part}"] = None
    owners = flat.all(tag + "/AcctOwnr")
    if owners:
        _owner(owners[0], out, prefix)
    if len(owners) > 1:
        _second_owner(owners[1], out, prefix)
    if flat.has(tag + "/DcsnMakr/LEI"):
        out[f"{prefix}_decision_maker_type"] = "LEI"
        out[f"{prefix}_decision_maker_id"] = flat.text(tag + "/DcsnMakr/LEI")
    elif flat.has(tag + "/DcsnMakr/Prsn"):
        out[f"{prefix}_decision_maker_type"] = "PERSON"
        _person(flat, tag + "/DcsnMakr/Prsn", out, f"{prefix}_decision_maker", "scheme")


def _quantity(flat: _Flat, out: dict[str, Any]) -> None:
    out["quantity_type"] = out["quantity"] = out["quantity_currency"] = None
    for name, kind in _QUANTITY.items():
        path = "Tx/Qty/" + name
        if flat.has(path):
            out["quantity_type"] = kind
            out["quantity"] = _decimal(flat.text(path))
            out["quantity_currency"] = flat.attr(path, "Ccy")
            return


def _price(flat: _Flat, out: dict[str, Any]) -> None:
    """`Pric/{Pric/{MntryVal|Pctg|Yld|BsisPts} | NoPric/{Pdg, Ccy}}` (fields 33, 34)."""
    out["price_type"] = out["price"] = out["price_currency"] = None
    if flat.has("Tx/Pric/Pric/MntryVal"):
        out["price_type"] = "MNTRY"
        out["price"], out["price_currency"] = _signed(flat, "Tx/Pric/Pric/MntryVal")
    elif flat.has("Tx/Pric/NoPric"):
        out["price_type"] = flat.text("Tx/Pric/NoPric/Pdg")
        out["price_currency"] = flat.text("Tx/Pric/NoPric/Ccy")
    else:
        for name, kind in _RATE_PRICE.items():
            if flat.has("Tx/Pric/Pric/" + name):
                out["price_type"] = kind
                out["price"] = _decimal(flat.text("Tx/Pric/Pric/" + name))
                return


def _transaction(flat: _Flat, out: dict[str, Any]) -> None:
    """`New/Tx` (fields 3, 28-40)."""
    moment = _datetime(flat.text("Tx/TradDt"))
    out["trading_datetime"] = moment
    out["trading_date"] = (
        moment.astimezone(UTC).date()
        if isinstance(moment, datetime) and moment.utcoffset() is not None
        else None
    )
    out["trading_capacity"] = flat.text("Tx/TradgCpcty")
    _quantity(flat, out)
    out["deriv_notional_change"] = flat.text("Tx/DerivNtnlChng")
    _price(flat, out)
    out["net_amount"] = _decimal(flat.text("Tx/NetAmt"))
    out["venue"] = flat.text("Tx/TradVn")
    out["country_of_branch"] = flat.text("Tx/CtryOfBrnch")
    out["upfront_payment"], out["upfront_payment_currency"] = _signed(flat, "Tx/UpFrntPmt")
    out["venue_transaction_id"] = flat.text("Tx/TradPlcMtchgId")
    out["complex_trade_id"] = flat.text("Tx/CmplxTradCmpntId")


_INSTRUMENT_KEYS = (
    "instrument_isin",
    "instrument_in_firds",
    "instrument_full_name",
    "instrument_cfi",
    "instrument_type",
    "notional_currency",
    "notional_currency_2",
    "price_multiplier",
    "underlying_isin",
    "underlying_index_name",
    "underlying_index_term_unit",
    "underlying_index_term_value",
    "option_type",
    "strike_price",
    "strike_currency",
    "exercise_style",
    "maturity_date",
    "expiry_date",
    "delivery_type",
)
_OTHR = "FinInstrm/Othr/"
_DERIV = _OTHR + "DerivInstrmAttrbts/"
_SINGLE = _DERIV + "UndrlygInstrm/Othr/Sngl/"


def instrument_type_of_cfi(cfi: Any) -> str | None:
    """The report's instrument type for a CFI code (ISO 10962 category), or None."""
    if not isinstance(cfi, str) or not cfi:
        return None
    return CFI_INSTRUMENT_TYPES.get(cfi[0])


def _underlying(flat: _Flat, out: dict[str, Any]) -> None:
    """`UndrlygInstrm/Othr/Sngl/{ISIN | Indx/{ISIN, Nm/{RefRate/Nm, Term}}}` (47-49)."""
    if flat.has(_SINGLE + "ISIN"):
        out["underlying_isin"] = flat.text(_SINGLE + "ISIN")
        return
    index = _SINGLE + "Indx/"
    out["underlying_isin"] = flat.text(index + "ISIN")
    out["underlying_index_name"] = flat.text(index + "Nm/RefRate/Nm")
    out["underlying_index_term_unit"] = flat.text(index + "Nm/Term/Unit")
    out["underlying_index_term_value"] = _decimal(flat.text(index + "Nm/Term/Val"))


def _derivative(flat: _Flat, out: dict[str, Any]) -> None:
    """`DerivInstrmAttrbts` (fields 45-53, 55, 56)."""
    out["expiry_date"] = _date(flat.text(_DERIV + "XpryDt"))
    out["price_multiplier"] = _decimal(flat.text(_DERIV + "PricMltplr"))
    _underlying(flat, out)
    out["option_type"] = flat.text(_DERIV + "OptnTp")
    strike = _DERIV + "StrkPric/Pric/"
    if flat.has(strike + "MntryVal"):
        out["strike_price"], out["strike_currency"] = _signed(flat, strike + "MntryVal")
    else:
        for name in _RATE_PRICE:
            if flat.has(strike + name):
                out["strike_price"] = _decimal(flat.text(strike + name))
    out["exercise_style"] = flat.text(_DERIV + "OptnExrcStyle")
    out["delivery_type"] = flat.text(_DERIV + "DlvryTp")
    out["notional_currency_2"] = flat.text(
        _DERIV + "AsstClssSpcfcAttrbts/FX/OthrNtnlCcy"
    ) or flat.text(_DERIV + "AsstClssSpcfcAttrbts/Intrst/OthrNtnlCcy")


def _instrument(flat: _Flat, out: dict[str, Any]) -> None:
    """`FinInstrm/{Id | Othr}` (fields 41-56)."""
    for key in _INSTRUMENT_KEYS:
        out[key] = None
    if flat.has("FinInstrm/Id"):
        out["instrument_isin"] = flat.text("FinInstrm/Id")
        out["instrument_in_firds"] = True
        return
    if not flat.has("FinInstrm/Othr"):
        return
    general = _OTHR + "FinInstrmGnlAttrbts/"
    out["instrument_in_firds"] = False
    out["instrument_isin"] = flat.text(general + "Id")
    out["instrument_full_name"] = flat.text(general + "FullNm")
    out["instrument_cfi"] = flat.text(general + "ClssfctnTp")
    out["instrument_type"] = instrument_type_of_cfi(out["instrument_cfi"])
    out["notional_currency"] = flat.text(general + "NtnlCcy")
    out["maturity_date"] = _date(flat.text(_OTHR + "DebtInstrmAttrbts/MtrtyDt"))
    if flat.has(_OTHR + "DerivInstrmAttrbts"):
        _derivative(flat, out)


def _firm_person(
    flat: _Flat, tag: str, out: dict[str, Any], prefix: str, *, allow_client: bool
) -> None:
    """`InvstmtDcsnPrsn` / `ExctgPrsn` (fields 57-60): Prsn, Algo or (executor) Clnt."""
    for key in ("type", "id", "scheme", "branch_country"):
        out[f"{prefix}_{key}"] = None
    if flat.has(tag + "/Prsn"):
        out[f"{prefix}_type"] = "PERSON"
        out[f"{prefix}_branch_country"] = flat.text(tag + "/Prsn/CtryOfBrnch")
        _other(flat, tag + "/Prsn/Othr", out, f"{prefix}_id", f"{prefix}_scheme")
    elif flat.has(tag + "/Algo"):
        out[f"{prefix}_type"] = "ALGO"
        out[f"{prefix}_id"] = flat.text(tag + "/Algo")
    elif flat.has(tag + "/Clnt") and allow_client:
        out[f"{prefix}_type"] = "CLIENT"


def _codes(elems: list[etree._Element]) -> str | None:
    codes = [e.text.strip() for e in elems if e.text and e.text.strip()]
    return " ".join(codes) if codes else None


def _additional(flat: _Flat, out: dict[str, Any]) -> None:
    """`AddtlAttrbts` (fields 61-65)."""
    out["waiver_ind"] = _codes(flat.all("AddtlAttrbts/WvrInd"))
    out["short_selling_ind"] = flat.text("AddtlAttrbts/ShrtSellgInd")
    out["otc_post_trade_ind"] = _codes(flat.all("AddtlAttrbts/OTCPstTradInd"))
    out["commodity_derivative_ind"] = _bool(flat.text("AddtlAttrbts/RskRdcgTx"))
    out["securities_financing_ind"] = _bool(flat.text("AddtlAttrbts/SctiesFincgTxInd"))


def new_record(new: etree._Element) -> dict[str, Any]:
    """The report columns of one `Tx/New` element (see the module docstring)."""
    flat = _Flat(new)
    out: dict[str, Any] = {
        "record_type": "NEWT",
        "tx_id": flat.text("TxId"),
        "executing_entity_lei": flat.text("ExctgPty"),
        "investment_firm_ind": _bool(flat.text("InvstmtPtyInd")),
        "submitting_entity_lei": flat.text("SubmitgPty"),
    }
    for tag, prefix in _SIDES:
        _party(flat, tag, out, prefix)
    out["transmission_ind"] = _bool(flat.text("OrdrTrnsmssn/TrnsmssnInd"))
    out["transmitting_firm_buyer_lei"] = flat.text("OrdrTrnsmssn/TrnsmttgBuyr")
    out["transmitting_firm_seller_lei"] = flat.text("OrdrTrnsmssn/TrnsmttgSellr")
    _transaction(flat, out)
    _instrument(flat, out)
    _firm_person(flat, "InvstmtDcsnPrsn", out, "investment_decision", allow_client=False)
    _firm_person(flat, "ExctgPrsn", out, "executing_person", allow_client=True)
    _additional(flat, out)
    return out


def cancel_record(cxl: etree._Element) -> dict[str, Any]:
    """The report columns of one `Tx/Cxl` element: the three keys of the cancelled report."""
    flat = _Flat(cxl)
    return {
        "record_type": "CANC",
        "tx_id": flat.text("TxId"),
        "executing_entity_lei": flat.text("ExctgPty"),
        "submitting_entity_lei": flat.text("SubmitgPty"),
    }


def read_auth016(path: Path) -> Iterator[ReadRecord]:
    """Stream the records of an auth.016 file (`BizData` envelope or bare `Document`).

    Args:
        path: The file.

    Yields:
        One `ReadRecord` per `FinInstrmRptgTxRpt/Tx`, in file order; a `Tx` holding neither
        `New` nor `Cxl` (impossible in an XSD-valid file) is yielded with action "" and an
        empty record.

    Raises:
        ReadError: The file is not well-formed XML.
    """
    context = etree.iterparse(
        str(path),
        events=("end",),
        tag="{*}Tx",
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=True,
    )
    index = 0
    try:
        for _event, elem in context:
            parent = elem.getparent()
            if parent is None or _local(parent.tag) != "FinInstrmRptgTxRpt":
                continue  # New/Tx, the trade block, is read with its record
            index += 1
            body = elem[0] if len(elem) else None
            action = _local(body.tag) if body is not None else ""
            if action == "New" and body is not None:
                record = new_record(body)
            elif action == "Cxl" and body is not None:
                record = cancel_record(body)
            else:
                record = {}
            yield ReadRecord(
                index=index,
                tx_id=record.get("tx_id") or "",
                action=action,
                record=record,
                line=elem.sourceline,
            )
            # Flat memory: drop the record and every earlier sibling still attached.
            elem.clear(keep_tail=True)
            while elem.getprevious() is not None:
                del parent[0]
    except etree.XMLSyntaxError as exc:
        raise ReadError(str(exc.msg)) from None
