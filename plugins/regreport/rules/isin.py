"""ISIN rules (ISO 6166) for the instrument identification code, RTS 22 field 41.

Codes: RR-ISIN-001 (format), RR-ISIN-002 (Luhn check digit).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from regreport.identifiers import ISIN_PATTERN, is_valid_isin
from regreport.rules._registry import finding, rule_impl

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from regreport.rules._registry import Finding, RuleContext

FIELD = "instrument_isin"


@rule_impl("RR-ISIN-001")
def isin_format(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-ISIN-001: "Instrument identification code: ISIN, ISO 6166, 12 alphanumerical characters".

    Format ``[A-Z]{2}[A-Z0-9]{9}[0-9]`` (RTS 22 Annex I Table 1, {ISIN}).
    """
    if not ISIN_PATTERN.fullmatch(record.get(FIELD) or ""):
        yield finding("RR-ISIN-001", FIELD)


@rule_impl("RR-ISIN-002")
def isin_check_digit(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-ISIN-002: "Code used to identify the financial instrument" (field 41), ISIN check digit.

    Luhn over the letter-expanded first 11 characters; only run on well-formed ISINs.
    """
    value = record.get(FIELD) or ""
    if ISIN_PATTERN.fullmatch(value) and not is_valid_isin(value):
        yield finding("RR-ISIN-002", FIELD)
