"""The fast engine returns exactly the reference engine's results (hypothesis).

Random days are drawn on small grids on purpose, so that the edge cases are common rather than
lucky: quantities and prices that hit thresholds exactly, orders at the open and the close,
instruments with no quote, identical orders seconds apart, message bursts, rule versions that
change, expire and take effect mid-day, TESTING and PENDING rules, and bad input.
"""

from __future__ import annotations

import math
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regreport.risk import fast, reference
from regreport.risk.model import Instrument, Order, Quotes, Universe
from regreport.risk.rules import RuleBook, RuleStatus, RuleType, RuleVersion, day_bounds

pytestmark = pytest.mark.unit

DAY = date(2026, 12, 24)  # a Thursday, a half day in the TARGET-style rule below
START, END = day_bounds(DAY)
HOUR = 3_600_000_000
OPEN, CLOSE = START + 8 * HOUR, START + 16 * HOUR + HOUR // 2
ACCOUNTS = ("ACC-A", "ACC-B", "ACC-C")
INSTRUMENTS = {
    1: Instrument(1, "XPAR", 1.0),
    2: Instrument(2, "XLON", 0.5),
    3: Instrument(3, "XETR", 1.0),
}
GRID = 500_000  # half a second: orders share instants and fall inside windows

edge_times = st.sampled_from(
    [OPEN, CLOSE, OPEN - 1, CLOSE - 1, START, END - 1, START + 12 * HOUR, START + 12 * HOUR + 1]
)
grid_times = st.integers((OPEN - HOUR) // GRID, (CLOSE + HOUR) // GRID).map(lambda x: x * GRID)
times = st.one_of(edge_times, grid_times, grid_times.map(lambda x: x + GRID // 2))
quantities = st.sampled_from([1.0, 10.0, 100.0, 250.0, 1000.0, 2.5])
prices = st.sampled_from([9.5, 10.0, 10.25, 10.5, 12.5, 20.0])


def rare(
    usual: st.SearchStrategy, unusual: st.SearchStrategy, one_in: int = 12
) -> st.SearchStrategy:
    """`unusual` once in `one_in` draws, `usual` otherwise."""
    return st.integers(1, one_in).flatmap(lambda n: unusual if n == 1 else usual)


thresholds = st.sampled_from([0.0, 1.0, 2.5, 5.0, 10.0, 100.0, 250.0, 1000.0, 2500.0, 10000.0])


@st.composite
def orders(draw: st.DrawFn) -> list[Order]:
    templates = draw(
        st.lists(
            st.tuples(
                st.sampled_from([*ACCOUNTS * 8, "UNKNOWN", None]),
                st.sampled_from([1, 2, 3] * 8 + [99, None]),
                st.sampled_from(["BUY", "SELL"] * 10 + ["HOLD"]),
                st.sampled_from(["LIMIT"] * 14 + ["MARKET"] * 6 + ["STOP"]),
                rare(quantities, st.sampled_from([None, -5.0, 0.0, math.nan])),
                rare(prices, st.sampled_from([None, 0.0])),
            ),
            min_size=1,
            max_size=6,
        )
    )
    count = draw(st.integers(0, 40))
    result = []
    for order_id in range(count):
        account, instrument, side, kind, quantity, price = draw(st.sampled_from(templates))
        ts = draw(rare(times, st.sampled_from([None, END, START - 1]), 40))
        result.append(Order(order_id, ts, account, instrument, side, kind, quantity, price))
    return result


@st.composite
def quotes(draw: st.DrawFn) -> dict[int, Quotes]:
    book = {}
    for instrument in draw(st.sets(st.sampled_from([1, 2, 3]))):
        moments = sorted(draw(st.sets(times, min_size=1, max_size=8)))
        book[instrument] = Quotes(moments, [draw(prices) for _ in moments])
    return book


def _rule_fields(draw: st.DrawFn, rule_type: RuleType) -> dict[str, object]:  # noqa: C901
    account = st.sampled_from([None, *ACCOUNTS])
    instrument = st.sampled_from([None, 1, 2, 3])
    if rule_type is RuleType.ACCOUNT_SUSPENDED:
        return {"account_id": draw(st.sampled_from(ACCOUNTS))}
    if rule_type is RuleType.APPROVED_INSTRUMENTS:
        listed = draw(st.lists(st.sampled_from([1, 2, 3]), unique=True))
        return {"account_id": draw(st.sampled_from(ACCOUNTS)), "params": {"instrument_ids": listed}}
    if rule_type is RuleType.RESTRICTED_INSTRUMENT:
        return {"account_id": draw(account), "instrument_id": draw(st.sampled_from([1, 2, 3]))}
    if rule_type is RuleType.TRADING_HOURS:
        params = draw(
            st.sampled_from(
                [
                    {"tz": "UTC", "open": "08:00", "close": "16:30", "half_days": ["12-24"],
                     "half_day_close": "12:00", "calendar": "TARGET"},
                    {"tz": "Europe/Paris", "open": "09:00", "close": "17:30"},
                    {"tz": "Europe/London", "open": "08:00", "close": "16:30", "mics": ["XLON"]},
                    {"tz": "UTC", "open": "08:00", "close": "16:30",
                     "closed_dates": [DAY.isoformat()], "mics": ["XETR"]},
                ]
            )
        )  # fmt: skip
        return {"params": params}
    # Thresholds an order can hit exactly: its quantity, its notional, sums of a few orders.
    if rule_type in (
        RuleType.MIN_ORDER_NOTIONAL,
        RuleType.MAX_ORDER_NOTIONAL,
        RuleType.CREDIT_LIMIT,
    ):
        exact = st.builds(
            lambda q, p, n: q * p * n, quantities, prices, st.sampled_from([0.5, 1, 2])
        )
    else:
        exact = st.builds(lambda q, n: q * n, quantities, st.sampled_from([1, 1, 2, 3]))
    fields: dict[str, object] = {"threshold": draw(st.one_of(exact, thresholds))}
    if rule_type is RuleType.DUPLICATE_WINDOW:
        fields["threshold"] = draw(st.sampled_from([0.5, 1.0, 2.0, 30.0]))
    if rule_type is RuleType.MESSAGE_RATE:
        fields["threshold"] = draw(st.sampled_from([1.0, 2.0, 3.0]))
        fields["window_seconds"] = draw(st.sampled_from([0.5, 1.0, 2.0]))
    if rule_type is RuleType.PRICE_COLLAR_PCT:
        fields["threshold"] = draw(st.sampled_from([0.0, 2.5, 5.0, 25.0]))
    scope = draw(st.sampled_from(["firm", "account", "instrument"]))
    if scope == "account":
        fields["account_id"] = draw(st.sampled_from(ACCOUNTS))
    elif scope == "instrument" and rule_type not in (
        RuleType.DUPLICATE_WINDOW, RuleType.MESSAGE_RATE, RuleType.CREDIT_LIMIT,
    ):  # fmt: skip
        fields["instrument_id"] = draw(instrument.filter(lambda i: i is not None))
    return fields


@st.composite
def rule_books(draw: st.DrawFn) -> RuleBook:
    moments = rare(st.just(START - 10 * HOUR), st.one_of(st.just(START), times), 2)
    versions: list[RuleVersion] = []
    changes = []
    for number in range(draw(st.integers(0, 14))):
        rule_type = draw(st.sampled_from(list(RuleType)))
        fields = _rule_fields(draw, rule_type)
        for version in range(1, draw(st.integers(1, 3)) + 1):
            if version > 1 and draw(st.booleans()):  # a version may change the rule's fields
                fields = _rule_fields(draw, rule_type)
            effective = draw(moments)
            expires = draw(
                st.one_of(st.none(), st.none(), times.filter(lambda t, e=effective: t > e))
            )
            changes.append(
                (
                    draw(moments),
                    dict(
                        rule_id=f"R{number:02d}",
                        version=version,
                        rule_type=rule_type,
                        status=draw(
                            rare(st.just(RuleStatus.ACTIVE), st.sampled_from(list(RuleStatus)), 3)
                        ),
                        effective_from_us=effective,
                        expires_us=expires,
                        **fields,
                    ),
                )
            )
    # The global change number follows the recording time (ties by rule and version).
    changes.sort(key=lambda c: (c[0], c[1]["rule_id"], c[1]["version"]))
    for number, (changed, fields) in enumerate(changes, start=1):
        versions.append(RuleVersion(ruleset_version=number, changed_us=changed, **fields))
    mode = draw(st.one_of(st.none(), st.integers(1, max(1, len(versions)))))
    return RuleBook(versions, ruleset_version=mode, include_testing=draw(st.booleans()))


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(day_orders=orders(), book=rule_books(), day_quotes=quotes())
def test_fast_engine_equals_reference(day_orders, book, day_quotes) -> None:
    universe = Universe(DAY, ACCOUNTS, INSTRUMENTS, day_quotes, book)
    expected = [r.key() for r in reference.replay_day(day_orders, universe)]
    assert [r.key() for r in fast.replay_day_results(day_orders, universe)] == expected


@settings(max_examples=60, deadline=None)
@given(day_orders=orders(), book=rule_books(), day_quotes=quotes(), size=st.integers(1, 7))
def test_chunking_does_not_change_results(day_orders, book, day_quotes, size) -> None:
    """State carries across chunks: small chunks give the one-chunk results."""
    universe = Universe(DAY, ACCOUNTS, INSTRUMENTS, day_quotes, book)
    arrays = fast.OrderArrays.from_orders(day_orders, universe)
    whole = [r.key() for c in fast.replay_day(arrays, universe) for r in c.results(book.versions)]
    parts = [
        r.key()
        for c in fast.replay_day(arrays, universe, chunk_size=size)
        for r in c.results(book.versions)
    ]
    assert parts == whole
