"""Venue rules against ISO 10383, RTS 22 field 36.

Codes: RR-MIC-001 (known MIC or XOFF/XXXX), RR-MIC-002 (MIC active on the trade date).

"Active on the trade date" uses the CREATION DATE and EXPIRY DATE columns, not STATUS: a MIC
that is EXPIRED today was valid for trades before its expiry, which matters for back-reporting
and corrections. A MIC counts as active from its creation date (inclusive) to its expiry date
(exclusive). STATUS ``UPDATED`` rows are active. XOFF and XXXX are accepted as the special
values RTS 22 field 36 allows, whatever their ISO 10383 dates.

Not covered here: MIC-typed buyer/seller ids (fields 7/16 ``MIC`` choice) and whether a segment
MIC rather than an operating MIC is used (ESMA asks for the segment MIC where one exists).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from regreport.rules._registry import SPECIAL_MICS, finding, rule_impl, trade_date

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
