"""Trading capacity rules (RTS 22 field 29).

Codes: RR-CAP-001 (DEAL/MTCH/AOTC), RR-CAP-002 (warning: AOTC with the firm as buyer or
seller), RR-CAP-003 (warning: DEAL without the firm as buyer or seller), RR-CAP-004 (warning:
MTCH without the firm as buyer or seller).

RR-CAP-002/003 follow ESMA's transaction reporting guidelines (ESMA/2016/1452, Part I, the
trading capacity section, **recalled, not re-checked against the text**): a firm dealing on own
account is itself the buyer or the seller, and a firm acting on behalf of a client is not. They
are warnings until that is verified. RR-CAP-004 applies the same reading to matched principal
trading: the firm interposes itself, so each of its two reports shows it on one side (the
market side facing the venue/CCP, the client side facing the client). Venue consistency of
the parties is RR-PTY-002 (a MIC counterparty is the venue, and only on venue) and RR-MIC-004
(venue fields only on venue). Left out, for lack of a checked source: further capacity-vs-venue
checks (e.g. whether MTCH is allowed off venue).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from regreport.rules._registry import finding, rule_impl
from regreport.rules.parties import normalised_id

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from regreport.rules._registry import Finding, RuleContext

FIELD = "trading_capacity"
CAPACITIES = frozenset({"DEAL", "MTCH", "AOTC"})


def _firm_is_party(record: Mapping[str, Any]) -> bool:
    firm = str(record.get("executing_entity_lei") or "").strip().upper()
    return bool(firm) and firm in (normalised_id(record, "buyer"), normalised_id(record, "seller"))


@rule_impl("RR-CAP-001")
def capacity_valid(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-CAP-001: "Trading capacity: 'DEAL' ... 'MTCH' ... 'AOTC'" (field 29)."""
    if record.get(FIELD) not in CAPACITIES:
        yield finding("RR-CAP-001", FIELD)


@rule_impl("RR-CAP-002")
def aotc_firm_not_party(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-CAP-002: "AOTC - Any other capacity" (field 29), firm not buyer or seller.

    Acting for a client, the firm is not itself a counterparty of the reported transaction.
    """
    if record.get(FIELD) == "AOTC" and _firm_is_party(record):
        yield finding("RR-CAP-002", FIELD)


@rule_impl("RR-CAP-003")
def deal_firm_is_party(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-CAP-003: "DEAL - Dealing on own account" (field 29), firm is buyer or seller.

    Dealing on own account, the firm is itself one side of the reported transaction.
    """
    if record.get(FIELD) == "DEAL" and not _firm_is_party(record):
        yield finding("RR-CAP-003", FIELD)


@rule_impl("RR-CAP-004")
def mtch_firm_is_party(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-CAP-004: "MTCH - Matched principal" (field 29), firm is buyer or seller.

    In a matched principal trade the firm is interposed between the buyer and the seller, so
    it is itself one side of each reported leg.
    """
    if record.get(FIELD) == "MTCH" and not _firm_is_party(record):
        yield finding("RR-CAP-004", FIELD)
