"""ISIN rules (ISO 6166) for the instrument (field 41) and its underlying (field 47).

Codes: RR-ISIN-001 (format), RR-ISIN-002 (Luhn check digit), RR-ISIN-003 (country prefix).

Check digit and prefix list come from python-stdnum (`stdnum.isin`, through
`regreport.identifiers`); the strict format stays a regular expression, as stdnum accepts
lowercase and spaces that the auth.016 pattern does not.

`instrument_isin` is mandatory; `underlying_isin` is checked when populated (whether it must be
populated is an instrument-type rule, RR-INS-002).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from regreport.identifiers import ISIN_PATTERN, is_valid_isin, isin_country_known
from regreport.rules._registry import finding, present, rule_impl

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from regreport.rules._registry import Finding, RuleContext

FIELD = "instrument_isin"
UNDERLYING = "underlying_isin"
#: Most rows of a run trade a few hundred instruments.
_isin_ok = lru_cache(maxsize=65_536)(is_valid_isin)
_isin_country_ok = lru_cache(maxsize=65_536)(isin_country_known)


def _isins(record: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    yield FIELD, record.get(FIELD) or ""
    if present(record.get(UNDERLYING)):
        yield UNDERLYING, record[UNDERLYING]


@rule_impl("RR-ISIN-001")
def isin_format(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-ISIN-001: "Instrument identification code: ISIN, ISO 6166, 12 alphanumerical characters".

    Format ``[A-Z]{2}[A-Z0-9]{9}[0-9]`` (RTS 22 Annex I Table 1, {ISIN}), also for field 47.
    """
    for name, value in _isins(record):
        if not ISIN_PATTERN.fullmatch(value):
            yield finding("RR-ISIN-001", name)


@rule_impl("RR-ISIN-002")
def isin_check_digit(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-ISIN-002: "Code used to identify the financial instrument" (field 41), ISIN check digit.

    Luhn over the letter-expanded first 11 characters (python-stdnum); only run on well-formed
    ISINs.
    """
    for name, value in _isins(record):
        if ISIN_PATTERN.fullmatch(value) and not _isin_ok(value):
            yield finding("RR-ISIN-002", name)


@rule_impl("RR-ISIN-003")
def isin_country_prefix(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-ISIN-003: "ISIN, ISO 6166": the prefix is a country code or an ISIN-specific prefix.

    ISO 6166 prefixes an ISIN with the ISO 3166-1 alpha-2 code of the issuer's country or of
    the allocating agency, or with a prefix of its own (``XS`` international securities,
    ``EU``, the substitute agencies' ``XA``-``XD``...), as python-stdnum lists them. Only run on
    well-formed ISINs, whatever their check digit.
    """
    for name, value in _isins(record):
        if ISIN_PATTERN.fullmatch(value) and not _isin_country_ok(value):
            yield finding("RR-ISIN-003", name)
