"""Venue rules against ISO 10383, RTS 22 field 36.

Codes: RR-MIC-001 (known MIC or XOFF/XXXX), RR-MIC-002 (MIC active on the trade date),
RR-MIC-003 (XXXX only for instruments not in FIRDS), RR-MIC-004 (venue transaction id and
country of branch membership only on a venue), RR-MIC-005 (venue transaction id and complex
trade component id in their schema patterns).

"Active on the trade date" uses the CREATION DATE and EXPIRY DATE columns, not STATUS: a MIC
that is EXPIRED today was valid for trades before its expiry, which matters for back-reporting
and corrections. A MIC counts as active from its creation date (inclusive) to its expiry date
(exclusive). STATUS ``UPDATED`` rows are active. XOFF and XXXX are accepted as the special
values RTS 22 field 36 allows, whatever their ISO 10383 dates.

RTS 22 field 36 uses ``XOFF`` for an instrument admitted to trading or traded on a trading
venue (so known to FIRDS) that was traded off venue, and ``XXXX`` for one that is not; the
record's `instrument_in_firds` says which applies. Fields 3 and 37 describe the venue
execution, so they are empty off venue.

MIC-typed buyer/seller ids are checked against the venue by RR-PTY-002. Not covered: whether a
segment MIC rather than an operating MIC is used (ESMA asks for the segment MIC where one
exists).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from regreport.rules._registry import SPECIAL_MICS, finding, present, rule_impl, trade_date

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from regreport.rules._registry import Finding, RuleContext

FIELD = "venue"


@rule_impl("RR-MIC-001")
def venue_known(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-MIC-001: "Venue: ISO 10383 segment MIC ... 'XOFF' ... 'XXXX'" (RTS 22 field 36).

    The value must be a MIC listed in ISO 10383 or one of XOFF, XXXX.
    """
    value = record.get(FIELD) or ""
    if value not in SPECIAL_MICS and value not in ctx.refdata.mics:
        yield finding("RR-MIC-001", FIELD)


@rule_impl("RR-MIC-002")
def venue_active(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-MIC-002: "Identification of the venue where the transaction was executed", then.

    The ISO 10383 MIC must be valid on the trade date.

    Creation date <= trade date < expiry date; unknown MICs are left to RR-MIC-001.
    """
    value = record.get(FIELD) or ""
    entry = ctx.refdata.mics.get(value)
    day = trade_date(record)
    if value in SPECIAL_MICS or entry is None or day is None:
        return
    if not entry.active_on(day):
        yield finding("RR-MIC-002", FIELD)


@rule_impl("RR-MIC-003")
def xxxx_only_outside_firds(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-MIC-003: "'XXXX' ... financial instruments which are not admitted to trading or traded".

    Field 36 keeps XXXX for instruments outside the venues' scope; an instrument identified in
    FIRDS (`instrument_in_firds` true) traded off venue is XOFF.
    """
    if record.get(FIELD) == "XXXX" and record.get("instrument_in_firds") is True:
        yield finding("RR-MIC-003", FIELD)


@rule_impl("RR-MIC-004")
def venue_fields_only_on_venue(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-MIC-004: "Trading venue transaction identification code" (3) and field 37 on venue only.

    Both describe the execution on a trading venue, so neither applies to XOFF or XXXX.
    """
    if record.get(FIELD) not in SPECIAL_MICS:
        return
    for name in ("venue_transaction_id", "country_of_branch"):
        if present(record.get(name)):
            yield finding("RR-MIC-004", name)


#: The XSD patterns of fields 3 and 40: a value outside them fails the whole file at render.
_TEXT_IDS = {
    "venue_transaction_id": re.compile(r"[A-Z0-9]{1,52}"),
    "complex_trade_id": re.compile(r"[A-Z0-9]{1,35}"),
}


@rule_impl("RR-MIC-005")
def venue_ids_fit_the_schema(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-MIC-005: fields 3 and 40 hold capital letters and digits only (52 and 35 at most).

    Checked per record so that one malformed id from a venue quarantines its own record
    instead of failing the schema validation of the day's file.
    """
    for name, pattern in _TEXT_IDS.items():
        value = record.get(name)
        if value is not None and not pattern.fullmatch(str(value)):
            yield finding("RR-MIC-005", name)
