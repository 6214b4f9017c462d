"""Instrument-type rules: which fields each instrument type needs or excludes (fields 30-56, 62).

Codes: RR-INS-001 (instrument type in scope), RR-INS-002 (mandatory fields per type),
RR-INS-003 (forbidden fields per type), RR-INS-004 (quantity and price notation per type),
RR-INS-005 (short selling indicator), RR-INS-006 (coded instrument attributes), RR-INS-007
(only derivatives outside FIRDS), RR-INS-008 (CFI valid under ISO 10962).

The record contract (docs/reporting/mifir/report-columns.md) drives the tables below:

- Every type: `instrument_in_firds` is known. An instrument in FIRDS is reported by ISIN only
  (`FinInstrm/Id`), so the description fields 42-44, 46-47 stay empty; one that is not is
  reported in `FinInstrm/Othr` with its full name and CFI (42, 43).
- BOND: nominal quantity in a currency and a percentage price (RR-INS-004), net amount (35);
  maturity date (54) when not in FIRDS; no derivative attributes.
- OPTION not in FIRDS: option type, strike, exercise style, expiry, underlying ISIN, price
  multiplier and delivery type (50-53, 55, 47, 46, 56).
- FUTURE not in FIRDS: expiry, underlying ISIN, price multiplier and delivery type; never the
  option attributes.
- SHARE, ETF: no derivative or debt attributes, no net amount.
- Fields the contract keeps NULL for every instrument in scope today (32, 38-39, 45, 48-49)
  are forbidden for all types, so that a stray value cannot reach the file unnoticed.

RR-INS-005 (field 62): the short selling indicator applies to a sale, by the firm or its
client, of a share or of sovereign debt (Regulation (EU) No 236/2012). The record has no
sovereign flag, so every bond is accepted; ETFs are not shares under that regulation and are
refused. The selling side is read with `parties.our_side`; when the record does not show it,
the side is not judged.

RR-INS-008 (field 43): a CFI of the right shape (RR-INS-006) must also be a code ISO 10962
defines: its category, group and each attribute letter must exist for that group (``X`` where
the attribute does not apply). Checked with python-stdnum's `stdnum.cfi`, which carries the
2021 edition's tables.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from regreport.identifiers import cfi_defined
from regreport.rules._registry import finding, present, rule_impl
from regreport.rules.parties import our_side

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from regreport.rules._registry import Finding, RuleContext

INSTRUMENT_TYPES = frozenset({"SHARE", "ETF", "BOND", "OPTION", "FUTURE"})
DERIVATIVE_TYPES = frozenset({"OPTION", "FUTURE"})
OPTION_FIELDS = ("option_type", "strike_price", "strike_currency", "exercise_style")
FUTURE_FIELDS = ("expiry_date", "underlying_isin", "price_multiplier", "delivery_type")
DERIVATIVE_FIELDS = OPTION_FIELDS + FUTURE_FIELDS
#: NULL for every instrument in scope today (report contract).
NEVER_FIELDS = (
    "deriv_notional_change",
    "upfront_payment",
    "upfront_payment_currency",
    "notional_currency_2",
    "underlying_index_name",
    "underlying_index_term_unit",
    "underlying_index_term_value",
)
#: `FinInstrm/Othr` only: empty when the instrument is identified in FIRDS.
OTHR_ONLY_FIELDS = (
    "instrument_full_name",
    "instrument_cfi",
    "notional_currency",
    "price_multiplier",
    "underlying_isin",
)

MANDATORY: dict[str, tuple[str, ...]] = {"BOND": ("net_amount",)}
MANDATORY_OTHR: dict[str, tuple[str, ...]] = {
    "SHARE": ("instrument_full_name", "instrument_cfi"),
    "ETF": ("instrument_full_name", "instrument_cfi"),
    "BOND": ("instrument_full_name", "instrument_cfi", "maturity_date"),
    "OPTION": (
        "instrument_full_name",
        "instrument_cfi",
        "option_type",
        "strike_price",
        "exercise_style",
        *FUTURE_FIELDS,
    ),
    "FUTURE": ("instrument_full_name", "instrument_cfi", *FUTURE_FIELDS),
}
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "SHARE": (*DERIVATIVE_FIELDS, "maturity_date", "net_amount"),
    "ETF": (*DERIVATIVE_FIELDS, "maturity_date", "net_amount"),
    "BOND": DERIVATIVE_FIELDS,
    "OPTION": ("maturity_date", "net_amount"),
    "FUTURE": (*OPTION_FIELDS, "maturity_date", "net_amount"),
}
#: (quantity types, price types) per instrument type; PNDG/NOAP are allowed for all.
NOTATION: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "BOND": (frozenset({"NMNL"}), frozenset({"PCTG"})),
    "SHARE": (frozenset({"UNIT"}), frozenset({"MNTRY"})),
    "ETF": (frozenset({"UNIT"}), frozenset({"MNTRY"})),
    "OPTION": (frozenset({"UNIT"}), frozenset({"MNTRY"})),
    "FUTURE": (frozenset({"UNIT"}), frozenset({"MNTRY"})),
}
NO_PRICE_TYPES = frozenset({"PNDG", "NOAP"})
SHORT_SELLING_CODES = frozenset({"SESH", "SSEX", "SELL", "UNDI"})
SHORT_SELLING_TYPES = frozenset({"SHARE", "BOND"})
CFI_PATTERN = re.compile(r"[A-Z]{6}")
CODES: dict[str, frozenset[str]] = {
    "option_type": frozenset({"CALL", "PUTO", "OTHR"}),
    "exercise_style": frozenset({"EURO", "AMER", "ASIA", "BERM", "OTHR"}),
    "delivery_type": frozenset({"PHYS", "CASH", "OPTL"}),
}


@rule_impl("RR-INS-001")
def instrument_type_in_scope(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-INS-001: MiFIR Art. 26(2) instruments handled by this report: SHARE ... FUTURE.

    The type drives every mandatory/forbidden rule; an unknown type could not be checked.
    """
    if record.get("instrument_type") not in INSTRUMENT_TYPES:
        yield finding("RR-INS-001", "instrument_type")


@rule_impl("RR-INS-002")
def mandatory_for_type(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-INS-002: fields 35 and 42-56 that the instrument type makes mandatory.

    "Net amount" for debt instruments; for an instrument not identified in FIRDS
    (`FinInstrm/Othr`), the description fields of its type.
    """
    in_firds = record.get("instrument_in_firds")
    if not isinstance(in_firds, bool):
        yield finding("RR-INS-002", "instrument_in_firds")
    kind = record.get("instrument_type")
    required = MANDATORY.get(kind, ())
    if in_firds is False:
        required += MANDATORY_OTHR.get(kind, ())
    for name in required:
        if not present(record.get(name)):
            yield finding("RR-INS-002", name)


@rule_impl("RR-INS-003")
def forbidden_for_type(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-INS-003: fields 32-56 that do not apply to the instrument type or to a FIRDS instrument.

    E.g. derivative attributes on a share, option attributes on a future, a net amount on an
    equity, or description fields when `FinInstrm/Id` identifies the instrument.
    """
    forbidden = NEVER_FIELDS + FORBIDDEN.get(record.get("instrument_type"), ())
    if record.get("instrument_in_firds") is True:
        forbidden += OTHR_ONLY_FIELDS
    for name in dict.fromkeys(forbidden):
        if present(record.get(name)):
            yield finding("RR-INS-003", name)


@rule_impl("RR-INS-004")
def notation_fits_type(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-INS-004: "Quantity" (30) and "Price" (33) are expressed as the instrument trades.

    Bonds trade in nominal value at a percentage of par; shares, ETFs and listed derivatives
    in units at a monetary price. PNDG/NOAP are allowed whatever the type.
    """
    notation = NOTATION.get(record.get("instrument_type"))
    if notation is None:
        return
    quantity_types, price_types = notation
    if record.get("quantity_type") not in quantity_types:
        yield finding("RR-INS-004", "quantity_type")
    if record.get("price_type") not in price_types | NO_PRICE_TYPES:
        yield finding("RR-INS-004", "price_type")


@rule_impl("RR-INS-005")
def short_selling_on_sales_only(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-INS-005: "Short selling indicator" (62) only on a short sale of shares or sovereign debt.

    RTS 22: "A short sale concluded by an investment firm on its own behalf or on behalf of a
    client". The value must be a known code, the instrument a share or a bond, and the firm's or
    client's side must not be the buyer.
    """
    value = record.get("short_selling_ind")
    if not present(value):
        return
    if (
        value not in SHORT_SELLING_CODES
        or record.get("instrument_type") not in SHORT_SELLING_TYPES
        or our_side(record) == "buyer"
    ):
        yield finding("RR-INS-005", "short_selling_ind")


@rule_impl("RR-INS-006")
def instrument_codes_valid(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-INS-006: "Instrument classification" (43, ISO 10962 CFI) and the codes of 50, 53, 56.

    Checked when populated: CFI ``[A-Z]{6}``; option type CALL/PUTO/OTHR; exercise style
    EURO/AMER/ASIA/BERM/OTHR; delivery type PHYS/CASH/OPTL (auth.016 code lists).
    """
    cfi = record.get("instrument_cfi")
    if present(cfi) and not CFI_PATTERN.fullmatch(str(cfi)):
        yield finding("RR-INS-006", "instrument_cfi")
    for name, allowed in CODES.items():
        value = record.get(name)
        if present(value) and value not in allowed:
            yield finding("RR-INS-006", name)


@rule_impl("RR-INS-007")
def othr_only_for_derivatives(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-INS-007: a share, ETF or bond without FIRDS reference data cannot be expressed.

    The usage guideline's `FinInstrm/Othr` requires `DerivInstrmAttrbts` (1..1), so such a
    record would make the whole file fail the XSD check; it is quarantined instead, until the
    instrument is in FIRDS (or the guideline changes).
    """
    if record.get("instrument_in_firds") is False and record.get("instrument_type") in (
        INSTRUMENT_TYPES - DERIVATIVE_TYPES
    ):
        yield finding("RR-INS-007", "instrument_in_firds")


@rule_impl("RR-INS-008")
def cfi_in_iso_10962(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-INS-008: "Instrument classification" (field 43) is a CFI code that ISO 10962 defines.

    Category, group and attribute letters must exist (python-stdnum, module docstring). Only
    run on six capital letters; other shapes are RR-INS-006's finding.
    """
    cfi = record.get("instrument_cfi")
    if present(cfi) and CFI_PATTERN.fullmatch(str(cfi)) and not cfi_defined(str(cfi)):
        yield finding("RR-INS-008", "instrument_cfi")
