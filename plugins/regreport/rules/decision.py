"""Decision maker and executor rules (RTS 22 fields 12-15, 21-24, 57-60).

Codes: RR-DEC-001 (client decision maker fields fit its type), RR-DEC-002 (a decision maker
only for a client side), RR-DEC-003 (investment decision within the firm fits its type),
RR-DEC-004 (field 57 populated when the firm decides for a client), RR-DEC-005 (execution
within the firm fits its type).

Fields 12/21 name who decided for the buyer/seller when that is not the buyer/seller itself:
a third party under a power of attorney (``PERSON`` or ``LEI``) or the executing firm under a
discretionary mandate (its own ``LEI``). They stay empty when the client decides (no type), and
they do not apply when the side is the executing firm, a venue (MIC) or INTC. When the firm
decides under a mandate, field 57 says who inside the firm decided (a person or an algo).

Identifier scheme and form of natural persons are RR-PRS-004; names and birth dates RR-PRS-001.
Here: the presence or absence of fields per type, and the algo identifier's form.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from regreport.rules._registry import finding, present, rule_impl
from regreport.rules.parties import SIDES, normalised_id

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from regreport.rules._registry import Finding, RuleContext

ALGO_PATTERN = re.compile(r"[A-Z0-9]{1,50}")
DECISION_MAKER_TYPES = frozenset({"LEI", "PERSON"})
PERSON_PARTS = ("scheme", "first_name", "surname", "birth_date")


def _firm(record: Mapping[str, Any]) -> str:
    return str(record.get("executing_entity_lei") or "").strip().upper()


def _populated(record: Mapping[str, Any], code: str, names: Iterable[str]) -> Iterator[Finding]:
    """A finding for each of `names` that is populated although it must be empty."""
    for name in names:
        if present(record.get(name)):
            yield finding(code, name)


def _missing(record: Mapping[str, Any], code: str, names: Iterable[str]) -> Iterator[Finding]:
    """A finding for each of `names` that is empty although it is mandatory."""
    for name in names:
        if not present(record.get(name)):
            yield finding(code, name)


def _decision_maker_findings(record: Mapping[str, Any], prefix: str) -> Iterator[Finding]:
    kind = record.get(f"{prefix}_type")
    person_parts = [f"{prefix}_{part}" for part in PERSON_PARTS]
    if kind is None:
        yield from _populated(record, "RR-DEC-001", [f"{prefix}_id", *person_parts])
    elif kind not in DECISION_MAKER_TYPES:
        yield finding("RR-DEC-001", f"{prefix}_type")
    elif kind == "LEI":
        yield from _missing(record, "RR-DEC-001", [f"{prefix}_id"])
        yield from _populated(record, "RR-DEC-001", person_parts)
    else:
        yield from _missing(record, "RR-DEC-001", [f"{prefix}_id", f"{prefix}_scheme"])


@rule_impl("RR-DEC-001")
def client_decision_maker_fits_type(
    record: Mapping[str, Any], ctx: RuleContext
) -> Iterator[Finding]:
    """RR-DEC-001: "Buyer/Seller decision maker code" (12, 21) and fields 13-15/22-24 fit the type.

    LEI: the identifier only. PERSON: identifier and scheme (names and birth date are
    RR-PRS-001). No type: no decision maker field at all.
    """
    for side in SIDES:
        yield from _decision_maker_findings(record, f"{side}_decision_maker")


@rule_impl("RR-DEC-002")
def decision_maker_only_for_clients(
    record: Mapping[str, Any], ctx: RuleContext
) -> Iterator[Finding]:
    """RR-DEC-002: "Buyer/Seller decision maker" (12, 21) is reported for a client side only.

    The field applies where the decision is made by someone other than the buyer/seller. The
    executing firm deciding for itself is field 57, and a venue or INTC has no mandate.
    """
    firm = _firm(record)
    for side in SIDES:
        if record.get(f"{side}_decision_maker_type") is None:
            continue
        not_client = record.get(f"{side}_id_type") in ("MIC", "INTC") or (
            bool(firm) and normalised_id(record, side) == firm
        )
        if not_client:
            yield finding("RR-DEC-002", f"{side}_decision_maker_type")


def _firm_party_fits(
    record: Mapping[str, Any], prefix: str, code: str, kinds: frozenset[str | None]
) -> Iterator[Finding]:
    """Presence rules shared by fields 57/58 and 59/60 (`prefix` = the column prefix)."""
    kind = record.get(f"{prefix}_type")
    id_field, scheme, branch = (f"{prefix}_{part}" for part in ("id", "scheme", "branch_country"))
    if kind not in kinds:
        yield finding(code, f"{prefix}_type")
    elif kind is None:
        yield from _populated(record, code, (id_field, scheme, branch))
    elif kind == "PERSON":
        yield from _missing(record, code, (id_field, branch))
    else:
        if kind == "ALGO" and not ALGO_PATTERN.fullmatch(str(record.get(id_field) or "")):
            yield finding(code, id_field)
        yield from _populated(record, code, (scheme, branch))


@rule_impl("RR-DEC-003")
def investment_decision_fits_type(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-DEC-003: "Investment decision within firm" (57) and its branch country (58) fit the type.

    PERSON: national id (form and scheme are RR-PRS-004) and branch country. ALGO: an
    algorithm code ``[A-Z0-9]{1,50}``, no scheme, no branch. Empty when the firm did not decide.
    """
    yield from _firm_party_fits(
        record, "investment_decision", "RR-DEC-003", frozenset({None, "PERSON", "ALGO"})
    )


@rule_impl("RR-DEC-004")
def firm_decision_identified(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-DEC-004: "Investment decision within firm" (57) when the firm is the decision maker.

    Under a discretionary mandate the firm's own LEI is the client's decision maker (12/21),
    so the person or algorithm inside the firm who decided must be reported.
    """
    firm = _firm(record)
    if not firm or present(record.get("investment_decision_type")):
        return
    for side in SIDES:
        maker = str(record.get(f"{side}_decision_maker_id") or "").strip().upper()
        if record.get(f"{side}_decision_maker_type") == "LEI" and maker == firm:
            yield finding("RR-DEC-004", "investment_decision_type")
            return


@rule_impl("RR-DEC-005")
def execution_fits_type(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-DEC-005: "Execution within firm" (59) and its branch country (60) fit the type.

    Mandatory. PERSON: national id and branch country. ALGO: an algorithm code, no scheme, no
    branch. CLIENT (``NORE``, the client executed itself): no scheme, no branch.
    """
    yield from _firm_party_fits(
        record, "executing_person", "RR-DEC-005", frozenset({"PERSON", "ALGO", "CLIENT"})
    )
