"""Buyer/seller consistency rules (RTS 22 fields 7-11, 16-20, and the country codes).

Codes: RR-PTY-001 (buyer and seller ids differ, joint holders included), RR-PTY-002 (a
MIC-typed party is the venue, on venue), RR-PTY-003 (party fields fit the id type),
RR-PTY-004 (country codes are ISO 3166-1 alpha-2 in form), RR-PTY-005 (country codes are
assigned ISO 3166-1 alpha-2 codes).

Ids are compared case-insensitively with surrounding spaces removed; an INTC party (the
aggregate client account, whose id is NULL in the record) compares as ``INTC``. A MIC-typed
counterparty is the venue itself (no CCP): it must be the record's venue, and it cannot occur
off venue (XOFF, XXXX), where there is no venue to face. Country codes are checked for form
(RR-PTY-004) and then against the ISO 3166-1 list that pycountry maintains (RR-PTY-005), plus
``XK``: a user-assigned code, not in ISO 3166-1, that the EU uses for Kosovo.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pycountry

from regreport.rules._registry import SPECIAL_MICS, finding, present, rule_impl

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from regreport.rules._registry import Finding, RuleContext

SIDES = ("buyer", "seller")
ID_TYPES = frozenset({"LEI", "MIC", "PERSON", "INTC"})
PERSON_ONLY = ("id_scheme", "first_name", "surname", "birth_date")
COUNTRY_FIELDS = (
    "buyer_branch_country",
    "seller_branch_country",
    "country_of_branch",
    "investment_decision_branch_country",
    "executing_person_branch_country",
)
COUNTRY_PATTERN = re.compile(r"[A-Z]{2}")
#: ISO 3166-1 alpha-2 codes (pycountry's copy of the ISO list) and Kosovo's EU code.
COUNTRY_CODES = frozenset(country.alpha_2 for country in pycountry.countries) | {"XK"}


def normalised_id(record: Mapping[str, Any], side: str) -> str:
    """The `<side>_id` value, stripped and uppercased (``INTC`` for an INTC party)."""
    if record.get(f"{side}_id_type") == "INTC":
        return "INTC"
    return str(record.get(f"{side}_id") or "").strip().upper()


def our_side(record: Mapping[str, Any]) -> str | None:
    """The side the executing firm or its client is on, when the record shows it.

    A side is ours when it is the executing entity itself, a natural person, or a client (a
    branch country, fields 8/17, is reported for clients only). None when neither or both sides
    look like ours, so that callers do not guess.

    The client leg of a matched principal trade (``leg`` CLIENT: the firm faces its own
    client) is the exception: both sides are ours, and the side that acts is the client's, the
    one that is not the firm. Without this, a legal-entity client without a branch country
    would leave the firm's side as the only one that looks like ours.
    """
    firm = str(record.get("executing_entity_lei") or "").strip().upper()
    if firm and record.get("leg") == "CLIENT":
        clients = [side for side in SIDES if normalised_id(record, side) != firm]
        return clients[0] if len(clients) == 1 else None
    ours = [
        side
        for side in SIDES
        if (firm and normalised_id(record, side) == firm)
        or record.get(f"{side}_id_type") == "PERSON"
        or present(record.get(f"{side}_branch_country"))
    ]
    return ours[0] if len(ours) == 1 else None


@rule_impl("RR-PTY-001")
def buyer_differs_from_seller(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-PTY-001: "Buyer identification code" (7) differs from "Seller identification code" (16).

    Every account owner counts: the first holder and a joint second holder on each side. Missing
    ids are not compared (the schema makes the first holders mandatory).
    """
    buyers = {normalised_id(record, "buyer"), str(record.get("buyer2_id") or "").strip().upper()}
    buyers.discard("")
    for field in ("seller_id", "seller2_id"):
        value = (
            normalised_id(record, "seller")
            if field == "seller_id"
            else str(record.get(field) or "").strip().upper()
        )
        if value and value in buyers:
            yield finding("RR-PTY-001", field)


@rule_impl("RR-PTY-002")
def mic_party_is_the_venue(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-PTY-002: "MIC" as buyer/seller (fields 7, 16) is the venue of field 36, on venue only.

    The MIC choice identifies a trading venue as counterparty where it does not clear through a
    CCP, which can only be the venue the transaction was executed on.
    """
    venue = str(record.get("venue") or "").strip().upper()
    for side in SIDES:
        if record.get(f"{side}_id_type") != "MIC":
            continue
        if venue in SPECIAL_MICS or normalised_id(record, side) != venue:
            yield finding("RR-PTY-002", f"{side}_id")


@rule_impl("RR-PTY-003")
def party_fields_fit_type(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-PTY-003: "Buyer/Seller identification code" (7, 16) and fields 9-11/18-20 fit its type.

    LEI, MIC or PERSON need the identifier; INTC has none. Scheme, names and birth date are only
    reported for a natural person (fields 9-11 and 18-20 "where the buyer is a natural person").
    """
    for side in SIDES:
        kind = record.get(f"{side}_id_type")
        if kind not in ID_TYPES:
            yield finding("RR-PTY-003", f"{side}_id_type")
            continue
        if present(record.get(f"{side}_id")) == (kind == "INTC"):
            yield finding("RR-PTY-003", f"{side}_id")
        if kind != "PERSON":
            for part in PERSON_ONLY:
                if present(record.get(f"{side}_{part}")):
                    yield finding("RR-PTY-003", f"{side}_{part}")


@rule_impl("RR-PTY-004")
def country_code_form(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-PTY-004: "{COUNTRYCODE_2}: 2 alphanumerical characters ... ISO 3166-1 alpha-2".

    Applies to the branch countries of fields 8, 17, 37, 58 and 60 when populated.
    """
    for name in COUNTRY_FIELDS:
        value = record.get(name)
        if present(value) and not COUNTRY_PATTERN.fullmatch(str(value)):
            yield finding("RR-PTY-004", name)


@rule_impl("RR-PTY-005")
def country_code_assigned(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-PTY-005: "{COUNTRYCODE_2}: ... country code as defined in ISO 3166-1 alpha-2".

    A two-letter code (RR-PTY-004) must also be assigned: ``UK`` or ``EL`` look right but are
    not ISO 3166-1 codes. Fields 8, 17, 37, 58 and 60 when populated.
    """
    for name in COUNTRY_FIELDS:
        value = record.get(name)
        if present(value) and COUNTRY_PATTERN.fullmatch(str(value)) and value not in COUNTRY_CODES:
            yield finding("RR-PTY-005", name)
