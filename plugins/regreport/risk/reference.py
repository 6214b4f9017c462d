"""The reference engine: one order at a time, written to be read as the specification.

For each order of a day, in time order (then order id):

1. **INPUT**: the order must have a timestamp inside the day, a known account and instrument, a
   side, an order type, a positive quantity, and a positive limit price if it is a limit order.
   Otherwise it is INVALID with that reason, no control is evaluated, and it changes no state.
2. Every control is evaluated against the rules in force at the order's instant
   (`RuleBook.in_force`); when several rules of a control apply, the tightest binds.
3. The order is REJECTED if any control rejects it, ACCEPTED otherwise.
4. State: every valid order counts towards its account's message rate; an accepted order adds
   its notional to the account's credit used, its signed quantity to the position, and becomes
   the latest order a duplicate is compared with.

The fast engine (`regreport.risk.fast`) must return exactly the same results.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field

from regreport.risk.codes import Check, Decision, Outcome, Reason
from regreport.risk.model import CheckResult, Order, OrderResult, Universe
from regreport.risk.rules import US_PER_S, RuleType, RuleVersion, covers_mic, day_bounds, session
from regreport.risk.rules import tightest as binding

_SIDES = {"BUY": 1, "SELL": -1}
_TYPES = ("LIMIT", "MARKET")


@dataclass
class _DayState:
    credit_used: dict[str, float] = field(default_factory=dict)
    position: dict[tuple[str, int], float] = field(default_factory=dict)
    last_identical: dict[tuple[object, ...], int] = field(default_factory=dict)
    message_times: dict[str, list[int]] = field(default_factory=dict)


def _input_reason(order: Order, universe: Universe, start: int, end: int) -> Reason | None:
    if order.ts_us is None:
        return Reason.MISSING_TIMESTAMP
    if not start <= order.ts_us < end:
        return Reason.TIMESTAMP_OUTSIDE_DAY
    if order.account_id not in universe.account_index:
        return Reason.UNKNOWN_ACCOUNT
    if order.instrument_id not in universe.instruments:
        return Reason.UNKNOWN_INSTRUMENT
    if order.side not in _SIDES:
        return Reason.INVALID_SIDE
    if order.order_type not in _TYPES:
        return Reason.INVALID_ORDER_TYPE
    if order.quantity is None or order.quantity != order.quantity:  # None or NaN
        return Reason.MISSING_QUANTITY
    if order.quantity <= 0:
        return Reason.NON_POSITIVE_QUANTITY
    if order.order_type == "LIMIT" and not (
        order.limit_price is not None and order.limit_price > 0
    ):
        return Reason.MISSING_LIMIT_PRICE
    return None


def _no_rule(check: Check) -> CheckResult:
    return CheckResult(check, Outcome.NOT_APPLICABLE, Reason.NO_RULE_IN_FORCE)


_RULE = object()  # the threshold is the rule's own


def _result(
    check: Check,
    rule: RuleVersion,
    failed: bool,
    reason: Reason,
    observed: float | None,
    threshold: object = _RULE,
) -> CheckResult:
    return CheckResult(
        check,
        Outcome.REJECT if failed else Outcome.PASS,
        reason if failed else Reason.WITHIN_LIMIT,
        rule.threshold if threshold is _RULE else threshold,  # type: ignore[arg-type]
        observed,
        rule.rule_id,
        rule.version,
    )


def replay_day(orders: Iterable[Order], universe: Universe) -> list[OrderResult]:
    """Replay one day's orders through every control; results in replay order."""
    start, end = day_bounds(universe.day)
    state = _DayState()
    results = []
    for order in sorted(orders, key=lambda o: (o.ts_us is not None, o.ts_us or 0, o.order_id)):
        invalid = _input_reason(order, universe, start, end)
        if invalid is not None:
            checks = (CheckResult(Check.INPUT, Outcome.REJECT, invalid),) + tuple(
                CheckResult(c, Outcome.NOT_EVALUATED, Reason.INVALID_INPUT)
                for c in Check
                if c is not Check.INPUT
            )
            results.append(OrderResult(order.order_id, Decision.INVALID, checks))
            continue
        results.append(_evaluate(order, universe, state, start))
    return results


def _evaluate(order: Order, universe: Universe, state: _DayState, day_start: int) -> OrderResult:
    # INPUT passed: every field below is present (asserts narrow the types only).
    assert order.ts_us is not None  # noqa: S101
    assert order.quantity is not None  # noqa: S101
    assert order.account_id is not None  # noqa: S101
    assert order.instrument_id is not None  # noqa: S101
    t, account, instrument_id = order.ts_us, order.account_id, order.instrument_id
    instrument = universe.instruments[instrument_id]
    quantity, side = order.quantity, _SIDES[str(order.side)]
    is_limit = order.order_type == "LIMIT"

    # The prevailing reference price: the mid of the instrument's latest quote at or before t.
    reference, reference_ts = None, None
    quotes = universe.quotes.get(instrument_id)
    if quotes is not None:
        at = bisect.bisect_right(quotes.ts_us, t) - 1
        if at >= 0:
            reference, reference_ts = quotes.mid[at], quotes.ts_us[at]
    price = order.limit_price if is_limit else reference
    notional = None if price is None else quantity * price * instrument.value_factor
    if notional is not None and notional != notional:  # NaN: no EUR rate for the currency
        notional = None

    rules = [r for r in universe.rules.in_force(t) if r.applies_to(account, instrument_id)]

    def of(rule_type: RuleType) -> list[RuleVersion]:
        return [r for r in rules if r.rule_type is rule_type]

    checks = [CheckResult(Check.INPUT, Outcome.PASS, Reason.WITHIN_LIMIT)]

    # ACCOUNT_ACCESS: a suspended account may not trade.
    suspended = of(RuleType.ACCOUNT_SUSPENDED)
    checks.append(
        _result(Check.ACCOUNT_ACCESS, suspended[0], True, Reason.ACCOUNT_NOT_PERMITTED, None)
        if suspended
        else _no_rule(Check.ACCOUNT_ACCESS)
    )

    # APPROVED_INSTRUMENTS: the symbol is on every approval list of the account.
    approvals = of(RuleType.APPROVED_INSTRUMENTS)
    missing = [r for r in approvals if instrument_id not in r.params["instrument_ids"]]
    if missing:
        checks.append(
            _result(Check.APPROVED_INSTRUMENTS, missing[0], True, Reason.SYMBOL_NOT_APPROVED, None)
        )
    elif approvals:
        checks.append(
            _result(Check.APPROVED_INSTRUMENTS, approvals[0], False, Reason.WITHIN_LIMIT, None)
        )
    else:
        checks.append(_no_rule(Check.APPROVED_INSTRUMENTS))

    # RESTRICTED_LIST
    restricted = of(RuleType.RESTRICTED_INSTRUMENT)
    checks.append(
        _result(Check.RESTRICTED_LIST, restricted[0], True, Reason.RESTRICTED_INSTRUMENT, None)
        if restricted
        else _no_rule(Check.RESTRICTED_LIST)
    )

    # TRADING_HOURS: inside every applicable session [open, close); seconds after UTC midnight.
    seconds = (t - day_start) / US_PER_S
    hours = [r for r in of(RuleType.TRADING_HOURS) if covers_mic(r, instrument.mic)]
    hours_result = _no_rule(Check.TRADING_HOURS)
    for rule in hours:
        bounds = session(rule, universe.day)
        if bounds.closed:
            hours_result = _result(
                Check.TRADING_HOURS, rule, True, Reason.MARKET_CLOSED, seconds, None
            )
            break
        if t < bounds.open_us or t >= bounds.close_us:
            bound = bounds.open_us if t < bounds.open_us else bounds.close_us
            hours_result = _result(
                Check.TRADING_HOURS, rule, True, Reason.OUTSIDE_TRADING_HOURS, seconds,
                (bound - day_start) / US_PER_S,
            )  # fmt: skip
            break
        if hours_result.outcome is Outcome.NOT_APPLICABLE:
            hours_result = _result(
                Check.TRADING_HOURS, rule, False, Reason.WITHIN_LIMIT, seconds,
                (bounds.close_us - day_start) / US_PER_S,
            )  # fmt: skip
    checks.append(hours_result)

    # Size and notional limits.
    def limit(check: Check, rule_type: RuleType, value: float | None, reason: Reason) -> None:
        rule = binding(of(rule_type))
        if rule is None:
            checks.append(_no_rule(check))
        elif value is None:  # a market order's notional with no reference price
            checks.append(_result(check, rule, True, Reason.NO_REFERENCE_PRICE, None))
        else:
            assert rule.threshold is not None  # noqa: S101 - required for limits
            below = rule_type in (RuleType.MIN_ORDER_QUANTITY, RuleType.MIN_ORDER_NOTIONAL)
            failed = value < rule.threshold if below else value > rule.threshold
            checks.append(_result(check, rule, failed, reason, value))

    limit(
        Check.MIN_ORDER_QUANTITY, RuleType.MIN_ORDER_QUANTITY, quantity, Reason.BELOW_MIN_QUANTITY
    )
    limit(
        Check.MIN_ORDER_NOTIONAL, RuleType.MIN_ORDER_NOTIONAL, notional, Reason.BELOW_MIN_NOTIONAL
    )
    limit(
        Check.MAX_ORDER_QUANTITY, RuleType.MAX_ORDER_QUANTITY, quantity, Reason.ABOVE_MAX_QUANTITY
    )
    limit(
        Check.MAX_ORDER_NOTIONAL, RuleType.MAX_ORDER_NOTIONAL, notional, Reason.ABOVE_MAX_NOTIONAL
    )

    # PRICE_COLLAR: |limit - reference| / reference in percent; market orders are not collared.
    collar = binding(of(RuleType.PRICE_COLLAR_PCT))
    if collar is None:
        checks.append(_no_rule(Check.PRICE_COLLAR))
    elif not is_limit:
        checks.append(
            CheckResult(
                Check.PRICE_COLLAR, Outcome.NOT_APPLICABLE, Reason.NOT_APPLICABLE_ORDER_TYPE
            )
        )
    elif reference is None:
        checks.append(_result(Check.PRICE_COLLAR, collar, True, Reason.NO_REFERENCE_PRICE, None))
    else:
        assert order.limit_price is not None  # noqa: S101 - a valid limit order has one
        assert collar.threshold is not None  # noqa: S101 - required for limits
        deviation = abs(order.limit_price - reference) / reference * 100.0
        checks.append(
            _result(
                Check.PRICE_COLLAR, collar, deviation > collar.threshold,
                Reason.OUTSIDE_PRICE_COLLAR, deviation,
            )
        )  # fmt: skip

    # DUPLICATE_ORDER: an identical accepted order less than the window ago (observed: how
    # many seconds ago).
    limit_price = order.limit_price if is_limit else None
    identical = (account, instrument_id, side, order.order_type, quantity, limit_price)
    duplicate_rule = binding(of(RuleType.DUPLICATE_WINDOW))
    if duplicate_rule is None:
        checks.append(_no_rule(Check.DUPLICATE_ORDER))
    else:
        previous = state.last_identical.get(identical)
        gap = None if previous is None else t - previous
        failed = gap is not None and gap < duplicate_rule.window_us
        observed = gap / US_PER_S if failed else None  # type: ignore[operator]
        checks.append(
            _result(Check.DUPLICATE_ORDER, duplicate_rule, failed, Reason.DUPLICATE_ORDER, observed)
        )

    # MESSAGE_RATE: the account's valid orders in (t - window, t], this one included.
    times = state.message_times.setdefault(account, [])
    rate_rule = binding(of(RuleType.MESSAGE_RATE))
    if rate_rule is None:
        checks.append(_no_rule(Check.MESSAGE_RATE))
    else:
        count = 1 + sum(1 for s in times if s > t - rate_rule.window_us)
        assert rate_rule.threshold is not None  # noqa: S101 - required for limits
        checks.append(
            _result(
                Check.MESSAGE_RATE, rate_rule, count > rate_rule.threshold,
                Reason.MESSAGE_RATE_EXCEEDED, float(count),
            )
        )  # fmt: skip

    # CREDIT_LIMIT: the account's accepted notional of the day, this order included.
    used = state.credit_used.get(account, 0.0)
    limit(
        Check.CREDIT_LIMIT, RuleType.CREDIT_LIMIT,
        None if notional is None else used + notional, Reason.CREDIT_LIMIT_EXCEEDED,
    )  # fmt: skip

    # POSITION_LIMIT: the absolute net position in the instrument after the order.
    held = state.position.get((account, instrument_id), 0.0)
    limit(
        Check.POSITION_LIMIT, RuleType.MAX_POSITION_QUANTITY, abs(held + side * quantity),
        Reason.POSITION_LIMIT_EXCEEDED,
    )  # fmt: skip

    accepted = all(c.outcome is not Outcome.REJECT for c in checks)
    times.append(t)
    # Keep only the times a window can still see.
    horizon = universe.rules.max_window_us(RuleType.MESSAGE_RATE)
    while times and times[0] <= t - horizon:
        times.pop(0)
    if accepted:
        state.credit_used[account] = used + (notional if notional is not None else 0.0)
        state.position[(account, instrument_id)] = held + side * quantity
        state.last_identical[identical] = t
    return OrderResult(
        order.order_id,
        Decision.ACCEPT if accepted else Decision.REJECT,
        tuple(checks),
        reference,
        reference_ts,
    )
