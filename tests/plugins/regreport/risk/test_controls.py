"""Every control on hand-worked orders, through both engines (the expected values are here).

Day: Thursday 24 December 2026 (a half day for the rules that list it). Unless a test says
otherwise the account is ACC-A, instrument 1 (XPAR, value factor 1), and there is one quote at
08:00 with mid 100.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import pytest

from regreport.risk import fast, reference
from regreport.risk.codes import Check, Decision, Outcome, Reason
from regreport.risk.model import Instrument, Order, Quotes, Universe
from regreport.risk.rules import RuleBook, RuleError, RuleStatus, RuleType, RuleVersion, day_bounds

pytestmark = pytest.mark.unit

DAY = date(2026, 12, 24)
START, END = day_bounds(DAY)
S, HOUR = 1_000_000, 3_600_000_000
T0 = START + 9 * HOUR  # 09:00 UTC
BEFORE = START - 24 * HOUR
INSTRUMENTS = {1: Instrument(1, "XPAR", 1.0), 2: Instrument(2, "XLON", 0.5)}
QUOTES = {1: Quotes([START + 8 * HOUR], [100.0])}


def rule(rule_id: str, rule_type: RuleType, number: int = 1, **fields: Any) -> RuleVersion:
    fields.setdefault("status", RuleStatus.ACTIVE)
    fields.setdefault("effective_from_us", BEFORE)
    fields.setdefault("changed_us", BEFORE)
    return RuleVersion(rule_id, fields.pop("version", 1), number, rule_type, **fields)


def order(n: int, at: int = T0, **fields: Any) -> Order:
    values: dict[str, Any] = {"account_id": "ACC-A", "instrument_id": 1, "side": "BUY",
                              "order_type": "LIMIT", "quantity": 100.0,
                              "limit_price": 100.0}  # fmt: skip
    values.update(fields)
    return Order(n, at, **values)


def replay(  # noqa: ANN201
    orders,
    rules,
    *,
    quotes=QUOTES,
    ruleset_version=None,
    include_testing=False,  # noqa: ANN001
    instruments=INSTRUMENTS,  # noqa: ANN001
):  # noqa: ANN001, ANN201
    """Both engines' results; they must agree. The reference's, by order id, are returned."""
    book = RuleBook(rules, ruleset_version=ruleset_version, include_testing=include_testing)
    universe = Universe(DAY, ["ACC-A", "ACC-B"], instruments, quotes, book)
    expected = reference.replay_day(orders, universe)
    assert [r.key() for r in fast.replay_day_results(orders, universe)] == [
        r.key() for r in expected
    ]
    return sorted(expected, key=lambda r: r.order_id)


def check(result, which: Check):  # noqa: ANN001, ANN201
    return result.checks[which]


def test_credit_limit_counts_accepted_orders_and_allows_the_exact_limit() -> None:
    rules = [rule("CREDIT", RuleType.CREDIT_LIMIT, threshold=20_000.0, account_id="ACC-A")]
    results = replay(
        [
            order(1, T0),  # 100 x 100 = 10,000
            order(2, T0 + S, quantity=50.0, limit_price=200.0),  # 10,000 more: 20,000 = limit
            order(3, T0 + 2 * S, quantity=1.0, limit_price=0.5),  # 20,000.5 > 20,000
            order(4, T0 + 3 * S, account_id="ACC-B"),  # another account: no rule
        ],
        rules,
    )
    first, second, third, other = (check(r, Check.CREDIT_LIMIT) for r in results)
    assert (first.outcome, first.observed, first.threshold) == (Outcome.PASS, 10_000.0, 20_000.0)
    assert (second.outcome, second.observed) == (Outcome.PASS, 20_000.0)
    assert (third.outcome, third.reason, third.observed) == (
        Outcome.REJECT, Reason.CREDIT_LIMIT_EXCEEDED, 20_000.5,
    )  # fmt: skip
    assert results[2].decision is Decision.REJECT
    assert (other.outcome, other.reason) == (Outcome.NOT_APPLICABLE, Reason.NO_RULE_IN_FORCE)


def test_a_rejected_order_does_not_use_credit() -> None:
    rules = [rule("CREDIT", RuleType.CREDIT_LIMIT, threshold=15_000.0)]
    results = replay([order(1, T0), order(2, T0 + S), order(3, T0 + 2 * S, quantity=50.0)], rules)
    assert [check(r, Check.CREDIT_LIMIT).observed for r in results] == [
        10_000.0,
        20_000.0,
        15_000.0,
    ]
    assert [r.decision for r in results] == [Decision.ACCEPT, Decision.REJECT, Decision.ACCEPT]


def test_market_order_notional_uses_the_reference_price_and_fx() -> None:
    rules = [rule("MAXN", RuleType.MAX_ORDER_NOTIONAL, threshold=1_000.0)]
    quotes = {**QUOTES, 2: Quotes([START + 8 * HOUR], [40.0])}
    results = replay(
        [
            order(1, order_type="MARKET", limit_price=None, quantity=10.0),  # 10 x 100 = 1,000
            order(2, instrument_id=2, quantity=60.0, limit_price=40.0),  # 60 x 40 x 0.5 = 1,200
            order(3, START + 7 * HOUR, order_type="MARKET", limit_price=None),  # before any quote
        ],
        rules,
        quotes=quotes,
    )
    assert check(results[0], Check.MAX_ORDER_NOTIONAL).outcome is Outcome.PASS
    assert check(results[0], Check.MAX_ORDER_NOTIONAL).observed == 1_000.0
    assert check(results[1], Check.MAX_ORDER_NOTIONAL).observed == 1_200.0
    assert check(results[1], Check.MAX_ORDER_NOTIONAL).reason is Reason.ABOVE_MAX_NOTIONAL
    assert check(results[2], Check.MAX_ORDER_NOTIONAL).reason is Reason.NO_REFERENCE_PRICE
    assert results[2].reference_price is None


def test_size_limits_at_the_threshold() -> None:
    rules = [
        rule("MAXQ", RuleType.MAX_ORDER_QUANTITY, threshold=100.0),
        rule("MINQ", RuleType.MIN_ORDER_QUANTITY, threshold=10.0),
        rule("MINN", RuleType.MIN_ORDER_NOTIONAL, threshold=1_000.0),
    ]
    results = replay(
        [order(1, quantity=100.0), order(2, T0 + S, quantity=101.0),
         order(3, T0 + 2 * S, quantity=10.0), order(4, T0 + 3 * S, quantity=9.0)],
        rules,
    )  # fmt: skip
    assert [check(r, Check.MAX_ORDER_QUANTITY).outcome for r in results] == [
        Outcome.PASS, Outcome.REJECT, Outcome.PASS, Outcome.PASS,
    ]  # fmt: skip
    assert [check(r, Check.MIN_ORDER_QUANTITY).outcome for r in results] == [
        Outcome.PASS, Outcome.PASS, Outcome.PASS, Outcome.REJECT,
    ]  # fmt: skip
    # 10 x 100 = 1,000 is the minimum notional exactly; 9 x 100 is below it.
    assert [check(r, Check.MIN_ORDER_NOTIONAL).reason for r in results][2:] == [
        Reason.WITHIN_LIMIT, Reason.BELOW_MIN_NOTIONAL,
    ]  # fmt: skip


def test_price_collar_against_the_prevailing_mid() -> None:
    rules = [rule("COLLAR", RuleType.PRICE_COLLAR_PCT, threshold=5.0)]
    results = replay(
        [
            order(1, limit_price=105.0),  # 5 % exactly
            order(2, T0 + S, limit_price=94.0),  # 6 %
            order(3, T0 + 2 * S, order_type="MARKET", limit_price=None),
            order(4, START + 7 * HOUR),  # no quote yet
        ],
        rules,
    )
    at_limit, outside, market, early = (check(r, Check.PRICE_COLLAR) for r in results)
    assert (at_limit.outcome, at_limit.observed, at_limit.threshold) == (Outcome.PASS, 5.0, 5.0)
    assert (outside.reason, outside.observed) == (Reason.OUTSIDE_PRICE_COLLAR, 6.0)
    assert (market.outcome, market.reason) == (
        Outcome.NOT_APPLICABLE, Reason.NOT_APPLICABLE_ORDER_TYPE,
    )  # fmt: skip
    assert (early.outcome, early.reason) == (Outcome.REJECT, Reason.NO_REFERENCE_PRICE)
    assert results[0].reference_price == 100.0
    assert results[0].reference_ts_us == START + 8 * HOUR


def test_duplicates_inside_the_window_only() -> None:
    rules = [rule("DUP", RuleType.DUPLICATE_WINDOW, threshold=1.0)]
    results = replay(
        [
            order(1, T0),
            order(2, T0 + S // 2),  # identical, half a second later
            order(3, T0 + S),  # identical, 1 s after the accepted one: the window is over
            order(4, T0 + S + 1, quantity=99.0),  # not identical
        ],
        rules,
    )
    outcomes = [check(r, Check.DUPLICATE_ORDER) for r in results]
    assert [c.outcome for c in outcomes] == [
        Outcome.PASS, Outcome.REJECT, Outcome.PASS, Outcome.PASS,
    ]  # fmt: skip
    assert outcomes[1].observed == 0.5
    assert outcomes[2].observed is None


def test_message_rate_counts_every_valid_order_of_the_account() -> None:
    rules = [rule("RATE", RuleType.MESSAGE_RATE, threshold=2.0, window_seconds=1.0)]
    results = replay(
        [
            order(1, T0),
            order(2, T0 + 100_000, quantity=1.0),
            order(3, T0 + 200_000, quantity=2.0),  # third in (t - 1 s, t]: rejected
            order(4, T0 + 300_000, account_id="ACC-B"),  # another account
            order(5, T0 + S, quantity=3.0),  # orders 1 is out: 2, 3 and 5 -> 3 > 2
            order(6, T0 + S + 200_000, quantity=4.0),  # 5 and 6 (3 is out) -> 2
        ],
        rules,
    )
    observed = [check(r, Check.MESSAGE_RATE).observed for r in results]
    assert observed == [1.0, 2.0, 3.0, 1.0, 3.0, 2.0]
    assert [r.decision for r in results] == [
        Decision.ACCEPT, Decision.ACCEPT, Decision.REJECT, Decision.ACCEPT, Decision.REJECT,
        Decision.ACCEPT,
    ]  # fmt: skip


def test_position_limit_nets_buys_and_sells() -> None:
    rules = [rule("POS", RuleType.MAX_POSITION_QUANTITY, threshold=150.0)]
    results = replay(
        [order(1, T0), order(2, T0 + S), order(3, T0 + 2 * S, side="SELL", quantity=250.0)],
        rules,
    )
    observed = [check(r, Check.POSITION_LIMIT).observed for r in results]
    assert observed == [100.0, 200.0, 150.0]  # 100, (rejected) 200, 100 - 250 = -150
    assert [r.decision for r in results] == [Decision.ACCEPT, Decision.REJECT, Decision.ACCEPT]


def test_trading_hours_open_inclusive_close_exclusive_and_half_days() -> None:
    paris = rule("HOURS", RuleType.TRADING_HOURS, params={
        "tz": "Europe/Paris", "open": "09:00", "close": "17:30",
        "half_days": ["12-24"], "half_day_close": "14:05",
    })  # fmt: skip
    open_utc, close_utc = START + 8 * HOUR, START + 13 * HOUR + 5 * 60 * S  # CET = UTC+1
    results = replay(
        [order(1, open_utc), order(2, open_utc - 1, quantity=1.0),
         order(3, close_utc - 1, quantity=2.0), order(4, close_utc, quantity=3.0)],
        [paris],
    )  # fmt: skip
    hours = [check(r, Check.TRADING_HOURS) for r in results]
    assert [h.outcome for h in hours] == [
        Outcome.PASS, Outcome.REJECT, Outcome.PASS, Outcome.REJECT,
    ]  # fmt: skip
    assert hours[1].threshold == 8 * 3600.0
    assert hours[3].threshold == 13 * 3600.0 + 300.0
    assert hours[0].observed == 8 * 3600.0


def test_holiday_closes_the_market() -> None:
    target = rule("HOURS", RuleType.TRADING_HOURS, params={
        "tz": "UTC", "open": "08:00", "close": "16:30", "closed_dates": ["2026-12-24"],
        "mics": ["XPAR"],
    })  # fmt: skip
    results = replay([order(1), order(2, instrument_id=2, limit_price=None,
                                        order_type="MARKET")], [target])  # fmt: skip
    assert check(results[0], Check.TRADING_HOURS).reason is Reason.MARKET_CLOSED
    assert check(results[1], Check.TRADING_HOURS).reason is Reason.NO_RULE_IN_FORCE  # XLON


def test_market_access_restricted_list_and_approvals() -> None:
    rules = [
        rule("SUSP-B", RuleType.ACCOUNT_SUSPENDED, account_id="ACC-B"),
        rule("RESTRICT-2", RuleType.RESTRICTED_INSTRUMENT, instrument_id=2),
        rule("APPROVED-A", RuleType.APPROVED_INSTRUMENTS, account_id="ACC-A",
             params={"instrument_ids": [1]}),
    ]  # fmt: skip
    a1, a2, b1 = replay(
        [order(1), order(2, T0 + S, instrument_id=2), order(3, T0 + 2 * S, account_id="ACC-B")],
        rules,
    )
    assert check(a1, Check.APPROVED_INSTRUMENTS).outcome is Outcome.PASS
    assert check(a2, Check.APPROVED_INSTRUMENTS).reason is Reason.SYMBOL_NOT_APPROVED
    assert check(a2, Check.RESTRICTED_LIST).reason is Reason.RESTRICTED_INSTRUMENT
    assert check(b1, Check.ACCOUNT_ACCESS).reason is Reason.ACCOUNT_NOT_PERMITTED
    assert check(b1, Check.ACCOUNT_ACCESS).rule_id == "SUSP-B"
    assert [r.decision for r in (a1, a2, b1)] == [Decision.ACCEPT, Decision.REJECT, Decision.REJECT]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"at": None}, Reason.MISSING_TIMESTAMP),
        ({"at": END}, Reason.TIMESTAMP_OUTSIDE_DAY),
        ({"account_id": "NOBODY"}, Reason.UNKNOWN_ACCOUNT),
        ({"instrument_id": 404}, Reason.UNKNOWN_INSTRUMENT),
        ({"side": "SHORT"}, Reason.INVALID_SIDE),
        ({"order_type": "STOP"}, Reason.INVALID_ORDER_TYPE),
        ({"quantity": None}, Reason.MISSING_QUANTITY),
        ({"quantity": math.nan}, Reason.MISSING_QUANTITY),
        ({"quantity": -5.0}, Reason.NON_POSITIVE_QUANTITY),
        ({"quantity": 0.0}, Reason.NON_POSITIVE_QUANTITY),
        ({"limit_price": None}, Reason.MISSING_LIMIT_PRICE),
    ],
)
def test_bad_input_has_its_own_reason_and_is_never_skipped(fields, reason) -> None:
    results = replay(
        [order(7, **fields)], [rule("MAXQ", RuleType.MAX_ORDER_QUANTITY, threshold=1.0)]
    )
    (result,) = results
    assert result.decision is Decision.INVALID
    assert (check(result, Check.INPUT).outcome, check(result, Check.INPUT).reason) == (
        Outcome.REJECT, reason,
    )  # fmt: skip
    assert all(c.outcome is Outcome.NOT_EVALUATED for c in result.checks[1:])


def test_rule_changes_mid_day_as_recorded_and_by_ruleset_version() -> None:
    noon = START + 12 * HOUR
    v1 = rule("MAXQ", RuleType.MAX_ORDER_QUANTITY, number=1, threshold=150.0)
    v2 = rule("MAXQ", RuleType.MAX_ORDER_QUANTITY, number=2, version=2, threshold=50.0,
              changed_us=noon)  # fmt: skip
    orders = [order(1, noon - 1), order(2, noon, quantity=99.0)]
    as_recorded = replay(orders, [v1, v2])
    assert [check(r, Check.MAX_ORDER_QUANTITY).rule_version for r in as_recorded] == [1, 2]
    assert [r.decision for r in as_recorded] == [Decision.ACCEPT, Decision.REJECT]
    book_v1 = replay(orders, [v1, v2], ruleset_version=1)
    assert [check(r, Check.MAX_ORDER_QUANTITY).threshold for r in book_v1] == [150.0, 150.0]
    book_v2 = replay(orders, [v1, v2], ruleset_version=2)
    assert [check(r, Check.MAX_ORDER_QUANTITY).threshold for r in book_v2] == [50.0, 50.0]


def test_statuses_effective_dates_and_the_tightest_rule() -> None:
    rules = [
        rule("A-TEST", RuleType.MAX_ORDER_QUANTITY, number=1, threshold=10.0,
             status=RuleStatus.TESTING),
        rule("B-PENDING", RuleType.MAX_ORDER_QUANTITY, number=2, threshold=1.0,
             status=RuleStatus.PENDING),
        rule("C-LATER", RuleType.MAX_ORDER_QUANTITY, number=3, threshold=2.0,
             effective_from_us=T0 + HOUR),
        rule("D-FIRM", RuleType.MAX_ORDER_QUANTITY, number=4, threshold=500.0),
        rule("E-ACCOUNT", RuleType.MAX_ORDER_QUANTITY, number=5, threshold=500.0,
             account_id="ACC-A"),
    ]  # fmt: skip
    (live,) = replay([order(1)], rules)
    assert check(live, Check.MAX_ORDER_QUANTITY).rule_id == "D-FIRM"  # a tie: lowest rule id
    (testing,) = replay([order(1)], rules, include_testing=True)
    assert check(testing, Check.MAX_ORDER_QUANTITY).rule_id == "A-TEST"
    (later,) = replay([order(1, T0 + HOUR)], rules)
    assert check(later, Check.MAX_ORDER_QUANTITY).rule_id == "C-LATER"


def test_invalid_rules_are_refused() -> None:
    with pytest.raises(RuleError, match="needs a threshold"):
        rule("X", RuleType.CREDIT_LIMIT)
    with pytest.raises(RuleError, match="needs an account"):
        rule("X", RuleType.ACCOUNT_SUSPENDED)
    with pytest.raises(RuleError, match="no instrument scope"):
        rule("X", RuleType.CREDIT_LIMIT, threshold=1.0, instrument_id=1)
    with pytest.raises(RuleError, match="window_seconds"):
        rule("X", RuleType.MESSAGE_RATE, threshold=1.0)


def test_no_fx_rate_means_no_notional() -> None:
    """An instrument whose currency has no EUR rate: notional controls fail closed."""
    (result,) = replay(
        [order(1, instrument_id=3)],
        [rule("MAXN", RuleType.MAX_ORDER_NOTIONAL, threshold=1e9)],
        instruments={**INSTRUMENTS, 3: Instrument(3, "XPAR", math.nan)},
    )
    assert check(result, Check.MAX_ORDER_NOTIONAL).reason is Reason.NO_REFERENCE_PRICE
