"""Reference-data rules: instruments against FIRDS, LEIs against GLEIF, CFI against the record.

Codes: RR-REF-001 (ISIN-only instrument unknown to FIRDS), RR-REF-002 (instrument not valid in
FIRDS on the trade date), RR-REF-003 (underlying unknown or not valid), RR-REF-004 (CFI category
vs instrument type), RR-REF-005 (CFI attributes vs option type, exercise style, delivery type),
RR-REF-006 (executing and submitting entity LEI known to GLEIF and registered by the trade
date), RR-REF-007 (... and ISSUED on it), RR-REF-008 (party LEIs known and registered),
RR-REF-009 (party LEIs not retired, merged, annulled, duplicate or inactive on the trade date).

The tables come from `RuleContext.refdata.firds` / `.gleif` (`regreport.refdata`, loaded by
the rule gate for the run's identifiers). None means "not loaded": the rules that need the
table do not fire, since nothing can be told; once loaded, an identifier missing from it is a
finding. RR-REF-004 reads the record's own CFI (`FinInstrm/Othr`) or, for an instrument
identified by ISIN only, the FIRDS CFI; RR-REF-005 needs only the record.

Choices (see docs/reporting/mifir/reference-data.md):

- RR-REF-001 is a warning: ESMA holds such a record as pending (CON-411) and accepts it once
  the instrument reaches FIRDS, so holding it back would only make it late. RR-REF-002 is an
  error: the regulator rejects it (CON-412).
- RR-REF-003 is a warning: a derivative on a non-EU share may have an underlying that FIRDS
  never lists, which the report may still carry.
- Only well-formed LEIs with valid check digits are looked up: RR-LEI-001/002 report the
  others, so one bad value is one finding.
- The golden copy has no status history: a LAPSED LEI whose next renewal date is on or after
  the trade date was still ISSUED that day, and a retirement, merger or duplicate is dated by
  the entity's expiration date, else the record's last update (`regreport.refdata.LeiEntry`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from regreport.identifiers import LEI_PATTERN
from regreport.rules._registry import finding, present, rule_impl, trade_date
from regreport.rules.lei import ENTITY_FIELDS, cached_valid_lei, party_leis

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from regreport.refdata import FirdsEntry
    from regreport.rules._registry import Finding, RuleContext

#: ISO 10962 category letters per instrument type of the report.
CFI_CATEGORIES: dict[str, frozenset[str]] = {
    "SHARE": frozenset("E"),
    "ETF": frozenset("C"),
    "BOND": frozenset("D"),
    "OPTION": frozenset("O"),
    "FUTURE": frozenset("F"),
}
#: Options (O): group C call, P put; attribute 1 exercise style; attribute 3 delivery.
OPTION_GROUPS = {"C": "CALL", "P": "PUTO"}
EXERCISE_STYLES = {"E": "EURO", "A": "AMER", "B": "BERM"}
#: Delivery letters of options (attribute 3) and financial futures (attribute 2).
DELIVERY = {"P": "PHYS", "C": "CASH", "E": "OPTL"}


def _checkable_lei(value: Any) -> bool:
    return isinstance(value, str) and bool(LEI_PATTERN.fullmatch(value)) and cached_valid_lei(value)


def _firds_entry(record: Mapping[str, Any], ctx: RuleContext) -> FirdsEntry | None:
    firds = ctx.refdata.firds
    if firds is None:
        return None
    return firds.get(record.get("instrument_isin") or "")


@rule_impl("RR-REF-001")
def instrument_known_to_firds(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-REF-001: an instrument reported by ISIN only must be in FIRDS (CON-411 family).

    `instrument_in_firds` true means `FinInstrm/Id` alone identifies it, so the regulator must
    find it in FIRDS; with no FIRDS table loaded this cannot be told.
    """
    if ctx.refdata.firds is None or record.get("instrument_in_firds") is not True:
        return
    isin = record.get("instrument_isin")
    if present(isin) and isin not in ctx.refdata.firds:
        yield finding("RR-REF-001", "instrument_isin")


@rule_impl("RR-REF-002")
def instrument_valid_on_trade_date(
    record: Mapping[str, Any], ctx: RuleContext
) -> Iterator[Finding]:
    """RR-REF-002: "Instrument is not valid in reference data on transaction date" (CON-412).

    Valid: on some venue, first traded on or before the trade date and not terminated before
    it. Checked for any record whose ISIN FIRDS lists.
    """
    entry = _firds_entry(record, ctx)
    day = trade_date(record)
    if entry is not None and day is not None and not entry.valid_on(day):
        yield finding("RR-REF-002", "instrument_isin")


@rule_impl("RR-REF-003")
def underlying_known_and_valid(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-REF-003: "Underlying instrument code" (47) is an ISIN FIRDS knows on the trade date.

    Only where the record carries field 47 (`FinInstrm/Othr`); with a FIRDS table loaded.
    """
    firds = ctx.refdata.firds
    underlying = record.get("underlying_isin")
    if firds is None or not present(underlying):
        return
    entry = firds.get(underlying)
    day = trade_date(record)
    if entry is None or (day is not None and not entry.valid_on(day)):
        yield finding("RR-REF-003", "underlying_isin")


@rule_impl("RR-REF-004")
def cfi_matches_instrument_type(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-REF-004: "Instrument classification" (43, ISO 10962) agrees with the instrument type.

    The CFI's first letter is its category: E equities, C collective investment vehicles
    (ETFs), D debt, O listed options, F futures. Read from the record (`Othr`), else from
    FIRDS for an instrument identified by ISIN only.
    """
    allowed = CFI_CATEGORIES.get(record.get("instrument_type"))
    if allowed is None:
        return  # RR-INS-001 reports an unknown type
    cfi, name = record.get("instrument_cfi"), "instrument_cfi"
    if not present(cfi):
        entry = _firds_entry(record, ctx)
        cfi, name = (entry.cfi if entry is not None else None), "instrument_isin"
    if isinstance(cfi, str) and len(cfi) == 6 and cfi[0] not in allowed:
        yield finding("RR-REF-004", name)


@rule_impl("RR-REF-005")
def cfi_attributes_match_fields(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-REF-005: fields 50, 53, 56 agree with the CFI's group and attributes (ISO 10962).

    Options ``O[C|P][E|A|B]x[P|C|E]x``: call/put group vs option type (CALL/PUTO), exercise
    style (EURO/AMER/BERM), delivery (PHYS/CASH/OPTL). Financial futures ``FFx[P|C]xx``:
    delivery. A letter outside these (M others, X not applicable, N non-deliverable) or an
    empty field is not compared.
    """
    cfi = record.get("instrument_cfi")
    if not isinstance(cfi, str) or len(cfi) != 6:
        return
    pairs: list[tuple[str, dict[str, str], str]] = []
    if cfi[0] == "O":
        pairs = [
            ("option_type", OPTION_GROUPS, cfi[1]),
            ("exercise_style", EXERCISE_STYLES, cfi[2]),
            ("delivery_type", DELIVERY, cfi[4]),
        ]
    elif cfi.startswith("FF"):
        pairs = [("delivery_type", DELIVERY, cfi[3])]
    for name, codes, letter in pairs:
        value = record.get(name)
        if letter in codes and present(value) and value != codes[letter]:
            yield finding("RR-REF-005", name)


@rule_impl("RR-REF-006")
def entity_lei_known(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-REF-006: executing and submitting entity LEIs (4, 6) are in GLEIF, registered by then.

    RTS 22 Art. 13(2): the LEI must be in the Global LEI database; an LEI first registered
    after the trade date did not exist on it.
    """
    gleif, day = ctx.refdata.gleif, trade_date(record)
    if gleif is None or day is None:
        return
    for name in ENTITY_FIELDS:
        value = record.get(name)
        if not _checkable_lei(value):
            continue
        entry = gleif.get(value)
        if entry is None or not entry.registered_by(day):
            yield finding("RR-REF-006", name)


@rule_impl("RR-REF-007")
def entity_lei_issued(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-REF-007: executing and submitting entity LEIs were ISSUED on the trade date.

    ISSUED, PENDING_TRANSFER or PENDING_ARCHIVAL; a LAPSED LEI is refused (the firm must keep
    its own LEI renewed), unless it lapsed after the trade date.
    """
    gleif, day = ctx.refdata.gleif, trade_date(record)
    if gleif is None or day is None:
        return
    for name in ENTITY_FIELDS:
        value = record.get(name)
        entry = gleif.get(value) if _checkable_lei(value) else None
        if entry is not None and entry.registered_by(day) and not entry.issued_on(day):
            yield finding("RR-REF-007", name)


@rule_impl("RR-REF-008")
def party_lei_known(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-REF-008: buyer, seller, decision maker and transmitting firm LEIs are in GLEIF.

    Fields 7, 12, 16, 21, 26, 27 where they hold an LEI: the LEI must be in the GLEIF database
    and registered on or before the trade date (ESMA CON-070 family).
    """
    gleif, day = ctx.refdata.gleif, trade_date(record)
    if gleif is None or day is None:
        return
    for name, value in party_leis(record):
        if not _checkable_lei(value):
            continue
        entry = gleif.get(value)
        if entry is None or not entry.registered_by(day):
            yield finding("RR-REF-008", name)


@rule_impl("RR-REF-009")
def party_lei_not_ended(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-REF-009: party LEIs were not retired, merged, annulled or duplicate on the trade date.

    A LAPSED LEI still identifies a client or counterparty and is accepted; an entity GLEIF
    reports INACTIVE on or before the trade date is not.
    """
    gleif, day = ctx.refdata.gleif, trade_date(record)
    if gleif is None or day is None:
        return
    for name, value in party_leis(record):
        entry = gleif.get(value) if _checkable_lei(value) else None
        if entry is not None and entry.registered_by(day) and not entry.usable_for_party_on(day):
            yield finding("RR-REF-009", name)
