"""LEI rules (ISO 17442) for every field of the record that holds a legal entity identifier.

Codes: RR-LEI-001 (format), RR-LEI-002 (ISO 7064 MOD 97-10 check digits).

Both rules check `executing_entity_lei` and `submitting_entity_lei` (mandatory), `buyer_id` /
`seller_id` where `<side>_id_type` is ``LEI`` (clients and counterparties alike),
`<side>_decision_maker_id` where `<side>_decision_maker_type` is ``LEI`` (fields 12, 21), and
`transmitting_firm_buyer_lei` / `transmitting_firm_seller_lei` when populated (fields 26, 27).
A value that fails the format is not also checked for its check digits, so each bad LEI yields
one finding. The check digits are verified by python-stdnum (`stdnum.lei`, through
`regreport.identifiers.is_valid_lei`); the strict format stays a regular expression, as stdnum
accepts lowercase and separators that the auth.016 pattern does not.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from regreport.identifiers import LEI_PATTERN, is_valid_lei
from regreport.rules._registry import finding, party_ids, present, rule_impl

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from regreport.rules._registry import Finding, RuleContext

ENTITY_FIELDS = ("executing_entity_lei", "submitting_entity_lei")
TRANSMITTING_FIELDS = ("transmitting_firm_buyer_lei", "transmitting_firm_seller_lei")
#: The same few LEIs (the firm, CCPs, big clients) recur on most rows of a run.
cached_valid_lei = lru_cache(maxsize=65_536)(is_valid_lei)


def _leis(record: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for name in ENTITY_FIELDS:
        yield name, record.get(name) or ""
    yield from party_leis(record)


def party_leis(record: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(field, LEI) of the parties: LEI-typed buyer/seller, decision makers, transmitters."""
    yield from party_ids(record, "LEI")
    for side in ("buyer", "seller"):
        if record.get(f"{side}_decision_maker_type") == "LEI":
            yield f"{side}_decision_maker_id", record.get(f"{side}_decision_maker_id") or ""
    for name in TRANSMITTING_FIELDS:
        if present(record.get(name)):
            yield name, record[name]


@rule_impl("RR-LEI-001")
def lei_format(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-LEI-001: "{LEI}: 20 alphanumerical characters code as defined in ISO 17442".

    Format ``[A-Z0-9]{18}[0-9]{2}`` (RTS 22 Annex I Table 1, {LEI}).
    """
    for name, value in _leis(record):
        if not LEI_PATTERN.fullmatch(value):
            yield finding("RR-LEI-001", name)


@rule_impl("RR-LEI-002")
def lei_check_digits(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-LEI-002: "Legal entity identifier code as defined in ISO 17442", check digits.

    The whole LEI, letters expanded to A=10 ... Z=35, must be 1 modulo 97 (python-stdnum).
    """
    for name, value in _leis(record):
        if LEI_PATTERN.fullmatch(value) and not cached_valid_lei(value):
            yield finding("RR-LEI-002", name)
