"""Currency rules against ISO 4217, RTS 22 field 34 (price currency).

Codes: RR-CCY-001 (ISO 4217 alphabetic code), RR-CCY-002 (not withdrawn before the trade date).

A code is current on a day if any ISO 4217 listing of it has no WithdrawalDate or was withdrawn
after that day. WithdrawalDate gives only a month or a year (sometimes a range); the code counts
as current to the end of the last month or year named. codes-all.csv has no introduction date,
so a code introduced after the trade date (e.g. VES in 2018) is not caught here.

Not covered: quantity currency (field 31), notional currencies (44, 45), up-front payment and
strike currencies: the record model has no such columns yet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from regreport.rules._registry import finding, rule_impl, trade_date

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from regreport.rules._registry import Finding, RuleContext

FIELD = "price_currency"


@rule_impl("RR-CCY-001")
def currency_known(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-CCY-001: "Price currency: {CURRENCYCODE_3}, 3 alphabetic characters, ISO 4217".

    The value must be an alphabetic code listed in ISO 4217 (current or historic).
    """
    if (record.get(FIELD) or "") not in ctx.refdata.currencies:
        yield finding("RR-CCY-001", FIELD)


@rule_impl("RR-CCY-002")
def currency_current(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-CCY-002: "Currency in which the price is expressed" must be current on the trade date.

    Uses ISO 4217 WithdrawalDate; unknown codes are left to RR-CCY-001.
    """
    code = record.get(FIELD) or ""
    day = trade_date(record)
    if code not in ctx.refdata.currencies or day is None:
        return
    if not ctx.refdata.currency_current_on(code, day):
        yield finding("RR-CCY-002", FIELD)
