"""Quantity, price and amount rules (RTS 22 fields 30-35, 46, 51-52).

Codes: RR-VAL-001 (quantity > 0), RR-VAL-002 (quantity {DECIMAL-18/17}), RR-VAL-003 (monetary
price {DECIMAL-18/13}), RR-VAL-004 (warning: price zero or negative where the instrument may
trade so), RR-VAL-005 (nominal or monetary quantity 18/5), RR-VAL-006 (percentage/yield price
11/10, basis points 18/17), RR-VAL-007 (price type code), RR-VAL-008 (quantity type code),
RR-VAL-009 (price present iff priced), RR-VAL-010 (price currency iff monetary price),
RR-VAL-011 (quantity currency iff nominal or monetary quantity), RR-VAL-012 (net amount >= 0,
2 decimals), RR-VAL-013 (strike price >= 0, 18/13), RR-VAL-014 (price multiplier > 0, 18/17),
RR-VAL-015 (strike currency iff strike price), RR-VAL-016 (price > 0 where the instrument
cannot trade at zero or below), RR-VAL-017 (net amount = quantity x price x multiplier +
accrued interest), RR-VAL-018 (whole units for shares, ETFs and listed derivatives).

Price sign (RR-VAL-016, RR-VAL-004), by instrument type and price notation:

- A monetary or percentage price of a share, an ETF, a bond or an option (the premium) must
  be > 0: none of them can change hands at zero or below, so such a price is a booking defect
  (RR-VAL-016, blocking). A strategy's legs are each reported at their own premium.
- A monetary or percentage price <= 0 of a future (or of a type the catalogue does not know)
  is possible: futures on commodities or spreads have traded below zero. It is reported with
  a warning (RR-VAL-004).
- Yield and basis-point prices may be zero or negative (negative yields, spreads); no rule.

Quantity notation (RR-VAL-018): shares, ETFs, options and futures quantified in units (field
30 ``Unit``) trade in whole shares or contracts. Fractional shares exist in some retail
offerings, but QSuite does not offer them: a fraction is a booking defect here (a firm that
offers them would narrow WHOLE_UNIT_INSTRUMENTS). Nominal and monetary quantities are held to
> 0 (RR-VAL-001) and 18/5 digits (RR-VAL-005).

Net amount (RR-VAL-017, field 35, bonds): "the cash amount which is paid by the buyer of the
debt instrument upon the settlement of the transaction", i.e. quantity x price (a percentage
price over 100) x price multiplier (1 when not reported) + accrued interest. The accrued
interest is not a report field: the gate's source `int_mifir__transactions` carries it as
`accrued_interest`; a record without that column (a file validated on its own) cannot be
checked, and passes. Tolerance: one cent, plus what rounding the price to 6 decimals and the
quantity to 4 (the report contract's ``numeric(18,6)`` and ``numeric(18,4)``) can move the
product.

Digits are counted as XSD ``totalDigits``/``fractionDigits`` do: trailing zeros of the fraction
do not count (``100.0000`` has 3 digits, 0 decimals). Values that are not finite decimals fail
the digit rules. Limits come from the auth.016 types: ``ESMA_NonNegativeExcludingZeroMax18``
(units, price multiplier: 18/17), ``ESMA_PositiveExcludingZeroMax18`` (nominal and monetary
quantities: 18/5), ``ActiveCurrencyAnd13DecimalAmount`` (monetary price, strike: 18/13),
``PercentageRate`` (11/10) and ``DecimalNumber`` (basis points: 18/17). The net amount is held
to the report contract's ``numeric(18,2)``: the schema allows 5 decimals, but a bond's cash
amount is settled in cents and more decimals point at an unrounded computation.

A record without `price_type` is read as a monetary price, as before the field existed;
RR-VAL-007 still flags the missing type.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from regreport.rules._registry import finding, present, rule_impl

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from regreport.rules._registry import Finding, RuleContext

MAX_TOTAL_DIGITS = 18
MAX_QUANTITY_DECIMALS = 17
MAX_NOMINAL_DECIMALS = 5
MAX_PRICE_DECIMALS = 13
MAX_PERCENT_DIGITS, MAX_PERCENT_DECIMALS = 11, 10
MAX_NET_AMOUNT_DECIMALS = 2

PRICE_TYPES = frozenset({"MNTRY", "PCTG", "YLD", "BSISPTS", "PNDG", "NOAP"})
NO_PRICE_TYPES = frozenset({"PNDG", "NOAP"})
RATE_PRICE_TYPES = frozenset({"PCTG", "YLD", "BSISPTS"})
QUANTITY_TYPES = frozenset({"UNIT", "NMNL", "MNTRY"})
CURRENCY_QUANTITY_TYPES = frozenset({"NMNL", "MNTRY"})
#: Price notations whose sign RR-VAL-004/016 judge: an amount of money or a percentage of par.
SIGNED_PRICE_TYPES = frozenset({"MNTRY", "PCTG"})
#: Instruments that cannot trade at a zero or negative monetary or percentage price.
POSITIVE_PRICE_INSTRUMENTS = frozenset({"SHARE", "ETF", "BOND", "OPTION"})
#: Instruments whose unit quantity is a whole number of shares or contracts.
WHOLE_UNIT_INSTRUMENTS = frozenset({"SHARE", "ETF", "OPTION", "FUTURE"})
CENT = Decimal("0.01")
#: One unit in the last decimal the report contract keeps of the price (6) and of the
#: quantity (4): twice the largest rounding error, to stay clear of the boundary.
PRICE_ROUNDING, QUANTITY_ROUNDING = Decimal("1E-6"), Decimal("1E-4")
HUNDRED = Decimal(100)


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


def _fits(value: Any, max_decimals: int, max_total: int = MAX_TOTAL_DIGITS) -> bool:
    number = as_decimal(value)
    if number is None:
        return False
    total, decimals = digits(number)
    return total <= max_total and decimals <= max_decimals


def _price_type(record: Mapping[str, Any]) -> str:
    """The price type, MNTRY when the record does not say (see module docstring)."""
    return record.get("price_type") or "MNTRY"


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
    """RR-VAL-003: "{DECIMAL-18/13} in case the price is expressed as monetary value" (field 33).

    Only for monetary prices; a missing price is RR-VAL-009's concern.
    """
    price = record.get("price")
    if _price_type(record) == "MNTRY" and present(price) and not _fits(price, MAX_PRICE_DECIMALS):
        yield finding("RR-VAL-003", "price")


def _non_positive_price(record: Mapping[str, Any]) -> bool:
    """Whether the record has a monetary or percentage price that is zero or negative."""
    if _price_type(record) not in SIGNED_PRICE_TYPES:
        return False
    number = as_decimal(record.get("price"))
    return number is not None and number <= 0


@rule_impl("RR-VAL-004")
def price_positive(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-VAL-004: "Price" (field 33): warn when zero or negative where that can happen.

    A warning, not an error: the schema carries the sign (``Sgn``), and futures (or types
    outside the catalogue) can trade at zero or negative prices. Where the instrument cannot,
    RR-VAL-016 blocks instead; yield and basis-point prices are not judged (module docstring).
    """
    if record.get("instrument_type") not in POSITIVE_PRICE_INSTRUMENTS and _non_positive_price(
        record
    ):
        yield finding("RR-VAL-004", "price")


@rule_impl("RR-VAL-005")
def nominal_quantity_precision(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-VAL-005: "{DECIMAL-18/5} in case the quantity is expressed as nominal or monetary value".

    auth.016 ``NmnlVal``/``MntryVal`` are ``ESMA_PositiveExcludingZeroMax18``: 5 decimals.
    """
    if record.get("quantity_type") in CURRENCY_QUANTITY_TYPES and not _fits(
        record.get("quantity"), MAX_NOMINAL_DECIMALS
    ):
        yield finding("RR-VAL-005", "quantity")


@rule_impl("RR-VAL-006")
def rate_price_precision(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-VAL-006: "{DECIMAL-11/10} in case the price is expressed as percentage or yield".

    Basis points are ``DecimalNumber`` (18/17). A missing price is RR-VAL-009's concern.
    """
    kind, price = _price_type(record), record.get("price")
    if not present(price) or kind not in RATE_PRICE_TYPES:
        return
    if kind == "BSISPTS":
        fits = _fits(price, MAX_QUANTITY_DECIMALS)
    else:
        fits = _fits(price, MAX_PERCENT_DECIMALS, MAX_PERCENT_DIGITS)
    if not fits:
        yield finding("RR-VAL-006", "price")


@rule_impl("RR-VAL-007")
def price_type_known(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-VAL-007: "Price" (field 33) is MntryVal, Pctg, Yld, BsisPts, or NoPric PNDG/NOAP."""
    if record.get("price_type") not in PRICE_TYPES:
        yield finding("RR-VAL-007", "price_type")


@rule_impl("RR-VAL-008")
def quantity_type_known(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-VAL-008: "Quantity" (field 30) is Unit, NmnlVal or MntryVal."""
    if record.get("quantity_type") not in QUANTITY_TYPES:
        yield finding("RR-VAL-008", "quantity_type")


@rule_impl("RR-VAL-009")
def price_matches_type(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-VAL-009: "Where price is currently not available but pending ... 'PNDG'" (field 33).

    A priced type needs a numeric price; PNDG/NOAP (``NoPric``) must not carry one.
    """
    kind, price = _price_type(record), record.get("price")
    if kind in NO_PRICE_TYPES:
        if present(price):
            yield finding("RR-VAL-009", "price")
    elif kind in PRICE_TYPES and as_decimal(price) is None:
        yield finding("RR-VAL-009", "price")


@rule_impl("RR-VAL-010")
def price_currency_matches_type(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-VAL-010: "Price currency" (field 34) for a price "expressed as monetary value".

    Mandatory for MNTRY, not applicable to PCTG/YLD/BSISPTS, optional for PNDG/NOAP
    (``NoPric/Ccy``).
    """
    kind, currency = _price_type(record), record.get("price_currency")
    if (kind == "MNTRY" and not present(currency)) or (
        kind in RATE_PRICE_TYPES and present(currency)
    ):
        yield finding("RR-VAL-010", "price_currency")


@rule_impl("RR-VAL-011")
def quantity_currency_matches_type(
    record: Mapping[str, Any], ctx: RuleContext
) -> Iterator[Finding]:
    """RR-VAL-011: "Quantity currency" (field 31) "where the quantity is expressed as ... value".

    Mandatory for NMNL/MNTRY quantities, not applicable to units.
    """
    kind, currency = record.get("quantity_type"), record.get("quantity_currency")
    if (kind in CURRENCY_QUANTITY_TYPES and not present(currency)) or (
        kind == "UNIT" and present(currency)
    ):
        yield finding("RR-VAL-011", "quantity_currency")


@rule_impl("RR-VAL-012")
def net_amount_format(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-VAL-012: "Net amount of the transaction" (field 35): >= 0 with at most 2 decimals.

    Whether it must be populated is RR-INS-002's concern (bonds).
    """
    amount = record.get("net_amount")
    if not present(amount):
        return
    number = as_decimal(amount)
    if number is None or number < 0 or not _fits(number, MAX_NET_AMOUNT_DECIMALS):
        yield finding("RR-VAL-012", "net_amount")


@rule_impl("RR-VAL-013")
def strike_price_format(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-VAL-013: "Strike price" (field 51), monetary: >= 0, {DECIMAL-18/13}.

    The exchange-traded equity and index options in scope have no negative strikes.
    """
    strike = record.get("strike_price")
    if not present(strike):
        return
    number = as_decimal(strike)
    if number is None or number < 0 or not _fits(number, MAX_PRICE_DECIMALS):
        yield finding("RR-VAL-013", "strike_price")


@rule_impl("RR-VAL-014")
def price_multiplier_format(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-VAL-014: "Price multiplier" (field 46): > 0, {DECIMAL-18/17}."""
    multiplier = record.get("price_multiplier")
    if not present(multiplier):
        return
    number = as_decimal(multiplier)
    if number is None or number <= 0 or not _fits(number, MAX_QUANTITY_DECIMALS):
        yield finding("RR-VAL-014", "price_multiplier")


@rule_impl("RR-VAL-015")
def strike_currency_matches(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-VAL-015: "Strike price currency" (field 52) goes with a monetary strike price (51)."""
    if present(record.get("strike_price")) != present(record.get("strike_currency")):
        yield finding("RR-VAL-015", "strike_currency")


@rule_impl("RR-VAL-016")
def price_positive_for_type(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-VAL-016: "Price" (field 33) of a share, ETF, bond or option premium is > 0.

    Monetary and percentage prices only; these instruments cannot change hands at zero or a
    negative price, so it is a booking defect (module docstring).
    """
    if record.get("instrument_type") in POSITIVE_PRICE_INSTRUMENTS and _non_positive_price(record):
        yield finding("RR-VAL-016", "price")


@rule_impl("RR-VAL-017")
def net_amount_consistent(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-VAL-017: "Net amount" (field 35) is quantity x price x multiplier + accrued interest.

    Only where the net amount is reported with a numeric quantity and a monetary or percentage
    price, and the record carries `accrued_interest` (NULL counts as none); otherwise the rule
    cannot be evaluated and passes. Tolerance in the module docstring.
    """
    kind = _price_type(record)
    if kind not in SIGNED_PRICE_TYPES or "accrued_interest" not in record:
        return
    amount = as_decimal(record.get("net_amount"))
    quantity = as_decimal(record.get("quantity"))
    price = as_decimal(record.get("price"))
    if amount is None or quantity is None or price is None:
        return
    multiplier = as_decimal(record.get("price_multiplier"))
    if multiplier is None or multiplier <= 0:
        multiplier = Decimal(1)
    scale = multiplier / HUNDRED if kind == "PCTG" else multiplier
    accrued = as_decimal(record.get("accrued_interest")) or Decimal(0)
    expected = quantity * price * scale + accrued
    tolerance = (
        CENT + abs(quantity * scale) * PRICE_ROUNDING + abs(price * scale) * QUANTITY_ROUNDING
    )
    if abs(amount - expected) > tolerance:
        yield finding("RR-VAL-017", "net_amount")


@rule_impl("RR-VAL-018")
def whole_units(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-VAL-018: "Quantity" (field 30) in units of a share, ETF or derivative is whole.

    Shares and contracts trade in whole units; QSuite offers no fractional shares (module
    docstring). A non-numeric quantity is RR-VAL-001's concern.
    """
    if (
        record.get("quantity_type") != "UNIT"
        or record.get("instrument_type") not in WHOLE_UNIT_INSTRUMENTS
    ):
        return
    number = as_decimal(record.get("quantity"))
    if number is not None and number != number.to_integral_value():
        yield finding("RR-VAL-018", "quantity")
