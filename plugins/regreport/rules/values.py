"""Quantity and price rules (RTS 22 fields 30 and 33).

Codes: RR-VAL-001 (quantity > 0), RR-VAL-002 (quantity {DECIMAL-18/17}), RR-VAL-003 (monetary
price {DECIMAL-18/13}), RR-VAL-004 (warning: price zero or negative).

Digits are counted as XSD ``totalDigits``/``fractionDigits`` do: trailing zeros of the fraction
do not count (``100.0000`` has 3 digits, 0 decimals). Values that are not finite decimals fail
the digit rules. The price is the record's monetary value; percentage, yield and basis-point
prices and PNDG/NOAP are not in the record model yet.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from regreport.rules._registry import finding, rule_impl

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from regreport.rules._registry import Finding, RuleContext

MAX_TOTAL_DIGITS = 18
MAX_QUANTITY_DECIMALS = 17
MAX_PRICE_DECIMALS = 13


def as_decimal(value: Any) -> Decimal | None:
    """A finite `Decimal` from a number or numeric string; None otherwise."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def digits(number: Decimal) -> tuple[int, int]:
    """(total digits, decimal places) of `number` in the XSD sense, trailing zeros dropped."""
    if number.is_zero():
        return 1, 0
    _, digit_tuple, exponent = number.normalize().as_tuple()
    if not isinstance(exponent, int):
        raise ValueError("digits() needs a finite Decimal")
    if exponent >= 0:
        return len(digit_tuple) + exponent, 0
    return max(len(digit_tuple), -exponent), -exponent


def _fits(value: Any, max_decimals: int) -> bool:
    number = as_decimal(value)
    if number is None:
        return False
    total, decimals = digits(number)
    return total <= MAX_TOTAL_DIGITS and decimals <= max_decimals


@rule_impl("RR-VAL-001")
def quantity_positive(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-VAL-001: "The number of units of the financial instrument" (field 30) is > 0.

    A missing or non-numeric quantity fails too.
    """
    number = as_decimal(record.get("quantity"))
    if number is None or number <= 0:
        yield finding("RR-VAL-001", "quantity")


@rule_impl("RR-VAL-002")
def quantity_precision(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-VAL-002: "{DECIMAL-18/17}" for the quantity (field 30).

    "Decimal number of up to 18 numeric characters including up to 17 decimal places".
    """
    if not _fits(record.get("quantity"), MAX_QUANTITY_DECIMALS):
        yield finding("RR-VAL-002", "quantity")


@rule_impl("RR-VAL-003")
def price_precision(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-VAL-003: "{DECIMAL-18/13} in case the price is expressed as monetary value" (field 33)."""
    if not _fits(record.get("price"), MAX_PRICE_DECIMALS):
        yield finding("RR-VAL-003", "price")


@rule_impl("RR-VAL-004")
def price_positive(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-VAL-004: "Price" (field 33): warn when zero or negative.

    A warning, not an error: the schema carries the sign (``Sgn``), and some instruments trade
    at zero or negative prices; for cash equities it is almost always a defect.
    """
    number = as_decimal(record.get("price"))
    if number is not None and number <= 0:
        yield finding("RR-VAL-004", "price")
