"""Currency rules against ISO 4217 for every currency field of the record.

Codes: RR-CCY-001 (ISO 4217 alphabetic code), RR-CCY-002 (not withdrawn before the trade date).

Fields: price (34), quantity (31), up-front payment (39), notional 1 and 2 (44, 45) and strike
price (52) currencies. Each is checked when populated; whether it must be populated depends on
the price/quantity type and the instrument (RR-VAL-010, RR-VAL-011, RR-VAL-015, RR-INS-002).

A code is current on a day if any ISO 4217 listing of it has no WithdrawalDate or was withdrawn
after that day. WithdrawalDate gives only a month or a year (sometimes a range); the code counts
as current to the end of the last month or year named. codes-all.csv has no introduction date,
so a code introduced after the trade date (e.g. VES in 2018) is not caught here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from regreport.rules._registry import finding, present, rule_impl, trade_date

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from regreport.rules._registry import Finding, RuleContext

FIELDS = (
    "price_currency",
    "quantity_currency",
    "strike_currency",
    "notional_currency",
    "notional_currency_2",
    "upfront_payment_currency",
)


def _currencies(record: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for name in FIELDS:
        value = record.get(name)
        if present(value):
            yield name, value


@rule_impl("RR-CCY-001")
def currency_known(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-CCY-001: "{CURRENCYCODE_3}: 3 alphabetic character code as defined in ISO 4217".

    Each populated currency field must hold an alphabetic code listed in ISO 4217 (current or
    historic).
    """
    for name, value in _currencies(record):
        if value not in ctx.refdata.currencies:
            yield finding("RR-CCY-001", name)


@rule_impl("RR-CCY-002")
def currency_current(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-CCY-002: "Currency in which the price is expressed" must be current on the trade date.

    Uses ISO 4217 WithdrawalDate, for every populated currency field; unknown codes are left to
    RR-CCY-001.
    """
    day = trade_date(record)
    if day is None:
        return
    for name, value in _currencies(record):
        if value in ctx.refdata.currencies and not ctx.refdata.currency_current_on(value, day):
            yield finding("RR-CCY-002", name)
