"""Trading date time rules (RTS 22 field 28).

Codes: RR-TS-001 (present and time-zone aware), RR-TS-002 (inside the reporting period
``[period_start, period_end)`` in UTC), RR-TS-003 (`trading_date` is its UTC date), RR-TS-004
(expiry and maturity dates not before the trade date).

Naive datetimes are rejected rather than assumed UTC: guessing the zone is how a trade lands in
the wrong reporting day. ISO 8601 strings are accepted and parsed.
"""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING, Any

from regreport.rules._registry import as_date, as_datetime, finding, rule_impl, trade_date

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from datetime import datetime

    from regreport.rules._registry import Finding, RuleContext

FIELD = "trading_datetime"


def _aware(record: Mapping[str, Any]) -> datetime | None:
    moment = as_datetime(record.get(FIELD))
    if moment is None or moment.utcoffset() is None:
        return None
    return moment


@rule_impl("RR-TS-001")
def trading_datetime_aware(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-TS-001: "Date and time when the transaction was executed" (field 28, UTC).

    The value must be a datetime that carries its offset, so it converts to UTC unambiguously.
    """
    if _aware(record) is None:
        yield finding("RR-TS-001", FIELD)


@rule_impl("RR-TS-002")
def trading_datetime_in_period(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-TS-002: "Trading date time" must fall within the reporting period [start, end) in UTC."""
    moment = _aware(record)
    if moment is not None and not ctx.period_start_utc <= moment < ctx.period_end_utc:
        yield finding("RR-TS-002", FIELD)


@rule_impl("RR-TS-003")
def trading_date_matches(record: Mapping[str, Any], ctx: RuleContext) -> Iterator[Finding]:
    """RR-TS-003: "Trading date time" (field 28, UTC): `trading_date` is its UTC date."""
    moment = _aware(record)
    day = as_date(record.get("trading_date"))
    if moment is not None and day is not None and moment.astimezone(UTC).date() != day:
        yield finding("RR-TS-003", "trading_date")


@rule_impl("RR-TS-004")
def instrument_alive_on_trade_date(
    record: Mapping[str, Any], ctx: RuleContext
) -> Iterator[Finding]:
    """RR-TS-004: "Expiry date" (55) and "Maturity date" (54) are not before the trade date (28).

    An instrument cannot be traded after it expired or matured; trading on the day itself is
    allowed. Unparseable dates are left alone (the contract types them as dates).
    """
    day = trade_date(record)
    if day is None:
        return
    for name in ("expiry_date", "maturity_date"):
        end = as_date(record.get(name))
        if end is not None and end < day:
            yield finding("RR-TS-004", name)
