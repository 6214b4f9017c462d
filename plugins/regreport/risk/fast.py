"""The fast replay engine: the reference engine's semantics as one compiled streaming loop.

The rules in force only change at a day's breakpoints (`RuleBook.breakpoints`), so the rule
book is resolved once per *segment* between breakpoints into arrays (the binding threshold per
control for the firm, each account and each instrument; session bounds per instrument), and the
loop over orders is a numba kernel that reads those arrays and carries the intraday state:
credit used per account, position per account and instrument, a ring of recent message times
per account, and the latest accepted identical order (pruned beyond the longest window).

Orders stream through in chunks, so memory is the state plus one chunk's results, whatever
the number of orders. Results are arrays (`ResultChunk`) with the codes of `regreport.risk.codes`;
`ResultChunk.results` turns them into the reference engine's `OrderResult`s.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

from regreport.risk.codes import Check, Decision, Outcome, Reason
from regreport.risk.model import CheckResult, Order, OrderResult, Universe
from regreport.risk.rules import (
    TIGHTEST,
    RuleType,
    RuleVersion,
    covers_mic,
    day_bounds,
    session,
    tightest,
)

MISSING_TS = np.iinfo(np.int64).min
N_CHECKS = len(Check)
#: Threshold controls, in kernel order (the L axis of the limit arrays).
LIMITS: tuple[RuleType, ...] = (
    RuleType.MIN_ORDER_QUANTITY,
    RuleType.MIN_ORDER_NOTIONAL,
    RuleType.MAX_ORDER_QUANTITY,
    RuleType.MAX_ORDER_NOTIONAL,
    RuleType.PRICE_COLLAR_PCT,
    RuleType.DUPLICATE_WINDOW,
    RuleType.MESSAGE_RATE,
    RuleType.CREDIT_LIMIT,
    RuleType.MAX_POSITION_QUANTITY,
)
if set(LIMITS) != set(TIGHTEST):  # a new threshold rule type needs a kernel branch
    raise ImportError("fast.LIMITS does not cover every threshold rule type")
_L = {rule_type: i for i, rule_type in enumerate(LIMITS)}
_SIDE = {"BUY": 1, "SELL": -1}
_TYPE = {"LIMIT": 1, "MARKET": 2}


@dataclass
class OrderArrays:
    """A day's orders as columns; codes for what may be missing or unknown.

    ts: MISSING_TS when missing; account and instrument: -1 when unknown (indexes into the
    universe's sorted accounts and instruments); side: 1 buy, -1 sell, 0 invalid; order_type:
    1 limit, 2 market, 0 invalid; quantity and limit_price: NaN when missing.
    """

    order_id: np.ndarray
    ts: np.ndarray
    account: np.ndarray
    instrument: np.ndarray
    side: np.ndarray
    order_type: np.ndarray
    quantity: np.ndarray
    limit_price: np.ndarray

    def __len__(self) -> int:
        return len(self.order_id)

    @classmethod
    def from_orders(cls, orders: Sequence[Order], universe: Universe) -> OrderArrays:
        """Encode order objects (the reference engine's input) as columns."""
        instrument_index = {i: k for k, i in enumerate(universe.instrument_ids)}

        def num(value: float | None) -> float:
            return math.nan if value is None else float(value)

        return cls(
            np.array([o.order_id for o in orders], dtype=np.int64),
            np.array([MISSING_TS if o.ts_us is None else o.ts_us for o in orders], dtype=np.int64),
            np.array(
                [universe.account_index.get(o.account_id, -1) for o in orders], dtype=np.int32
            ),  # type: ignore[arg-type]
            np.array([instrument_index.get(o.instrument_id, -1) for o in orders], dtype=np.int32),  # type: ignore[arg-type]
            np.array([_SIDE.get(o.side, 0) for o in orders], dtype=np.int8),  # type: ignore[arg-type]
            np.array([_TYPE.get(o.order_type, 0) for o in orders], dtype=np.int8),  # type: ignore[arg-type]
            np.array([num(o.quantity) for o in orders], dtype=np.float64),
            np.array([num(o.limit_price) for o in orders], dtype=np.float64),
        )

    def sorted(self) -> OrderArrays:
        """In replay order: time (missing first), then order id (no copy if already so)."""
        ts, ids = self.ts, self.order_id
        if len(ts) < 2 or bool(
            np.all((ts[1:] > ts[:-1]) | ((ts[1:] == ts[:-1]) & (ids[1:] > ids[:-1])))
        ):
            return self
        order = np.lexsort((self.order_id, self.ts))
        return OrderArrays(*(getattr(self, f)[order] for f in self.__dataclass_fields__))

    def slice(self, lo: int, hi: int) -> OrderArrays:
        """Orders lo..hi (views, no copy)."""
        return OrderArrays(*(getattr(self, f)[lo:hi] for f in self.__dataclass_fields__))


@dataclass
class Segments:
    """The rule book resolved per segment of the day (arrays indexed [segment, ...])."""

    start: np.ndarray  # int64 [S]
    # Limits: binding rule per level (firm / account / instrument): key, threshold, window, rule.
    firm_key: np.ndarray  # [S, L]
    firm_thr: np.ndarray
    firm_win: np.ndarray
    firm_rule: np.ndarray
    acc_key: np.ndarray  # [S, L, A]
    acc_thr: np.ndarray
    acc_win: np.ndarray
    acc_rule: np.ndarray
    ins_key: np.ndarray  # [S, L, I]
    ins_thr: np.ndarray
    ins_win: np.ndarray
    ins_rule: np.ndarray
    suspended: np.ndarray  # [S, A] lowest rule or -1
    appr_row: np.ndarray  # [S, A] row of appr_first/appr_fail or -1
    appr_first: np.ndarray  # [R] first applicable approval rule
    appr_fail: np.ndarray  # [R, I] first approval rule lacking the instrument, or -1
    restr_ins: np.ndarray  # [S, I] lowest firm-wide restriction or -1
    restr_row: np.ndarray  # [S, A] row of restr_acc or -1
    restr_acc: np.ndarray  # [R2, I] lowest account restriction or -1
    hrs_n: np.ndarray  # [S, I]
    hrs_rule: np.ndarray  # [S, I, K]
    hrs_open: np.ndarray
    hrs_close: np.ndarray
    hrs_closed: np.ndarray


def _level(
    rules: list[RuleVersion], index: dict[tuple[str, int], int]
) -> tuple[float, float, int, int]:
    rule = tightest(rules)
    if rule is None:
        return math.inf, math.nan, 0, -1
    assert rule.threshold is not None  # noqa: S101 - RuleVersion requires one for limits
    return rule.tightness, rule.threshold, rule.window_us, index[(rule.rule_id, rule.version)]


def resolve_segments(universe: Universe) -> Segments:
    """Resolve the rule book into per-segment arrays for the day of `universe`."""
    start, end = day_bounds(universe.day)
    book = universe.rules
    starts = [start, *book.breakpoints(start, end)]
    n_seg, n_lim = len(starts), len(LIMITS)
    accounts, instruments = universe.accounts, universe.instrument_ids
    n_acc, n_ins = len(accounts), len(instruments)
    acc_of, ins_of = universe.account_index, {i: k for k, i in enumerate(instruments)}
    index = book.index

    def limits(shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
        return (
            np.full(shape, math.inf),
            np.full(shape, math.nan),
            np.zeros(shape, dtype=np.int64),
            np.full(shape, -1, dtype=np.int32),
        )

    firm = limits((n_seg, n_lim))
    acc = limits((n_seg, n_lim, n_acc))
    ins = limits((n_seg, n_lim, n_ins))
    suspended = np.full((n_seg, n_acc), -1, dtype=np.int32)
    appr_row = np.full((n_seg, n_acc), -1, dtype=np.int32)
    restr_ins = np.full((n_seg, n_ins), -1, dtype=np.int32)
    restr_row = np.full((n_seg, n_acc), -1, dtype=np.int32)
    appr_first: list[int] = []
    appr_fail: list[np.ndarray] = []
    restr_acc: list[np.ndarray] = []
    hours: list[list[list[tuple[int, int, int, bool]]]] = []

    for s, at in enumerate(starts):
        in_force = book.in_force(at)
        by_type: dict[RuleType, list[RuleVersion]] = {}
        for rule in in_force:
            by_type.setdefault(rule.rule_type, []).append(rule)
        for rule_type, lim in _L.items():
            rules = by_type.get(rule_type, [])
            values = _level(
                [r for r in rules if r.account_id is None and r.instrument_id is None], index
            )
            for array, value in zip(firm, values, strict=True):
                array[s, lim] = value
            scoped_acc: dict[int, list[RuleVersion]] = {}
            scoped_ins: dict[int, list[RuleVersion]] = {}
            for r in rules:
                if r.account_id is not None and r.account_id in acc_of:
                    scoped_acc.setdefault(acc_of[r.account_id], []).append(r)
                elif r.instrument_id is not None and r.instrument_id in ins_of:
                    scoped_ins.setdefault(ins_of[r.instrument_id], []).append(r)
            for a, group in scoped_acc.items():
                for array, value in zip(acc, _level(group, index), strict=True):
                    array[s, lim, a] = value
            for i, group in scoped_ins.items():
                for array, value in zip(ins, _level(group, index), strict=True):
                    array[s, lim, i] = value
        for r in by_type.get(RuleType.ACCOUNT_SUSPENDED, []):
            a = acc_of.get(str(r.account_id), -1)
            if a >= 0 and suspended[s, a] < 0:  # rule id order: the first is the lowest
                suspended[s, a] = index[(r.rule_id, r.version)]
        approvals: dict[int, list[RuleVersion]] = {}
        for r in by_type.get(RuleType.APPROVED_INSTRUMENTS, []):
            if r.account_id in acc_of:
                approvals.setdefault(acc_of[str(r.account_id)], []).append(r)
        for a, group in approvals.items():
            fail = np.full(n_ins, -1, dtype=np.int32)
            for r in reversed(group):  # the lowest rule id ends up written last
                listed = {ins_of[i] for i in r.params["instrument_ids"] if i in ins_of}
                for i in range(n_ins):
                    if i not in listed:
                        fail[i] = index[(r.rule_id, r.version)]
            appr_row[s, a] = len(appr_first)
            appr_first.append(index[(group[0].rule_id, group[0].version)])
            appr_fail.append(fail)
        by_account: dict[int, np.ndarray] = {}
        for r in by_type.get(RuleType.RESTRICTED_INSTRUMENT, []):
            i = ins_of.get(r.instrument_id, -1)  # type: ignore[arg-type]
            if i < 0:
                continue
            rule = index[(r.rule_id, r.version)]
            if r.account_id is None:
                if restr_ins[s, i] < 0:
                    restr_ins[s, i] = rule
            elif r.account_id in acc_of:
                row = by_account.setdefault(
                    acc_of[r.account_id], np.full(n_ins, -1, dtype=np.int32)
                )
                if row[i] < 0:
                    row[i] = rule
        for a, row in by_account.items():
            restr_row[s, a] = len(restr_acc)
            restr_acc.append(row)
        sessions = [(r, session(r, universe.day)) for r in by_type.get(RuleType.TRADING_HOURS, [])]
        hours.append(
            [
                [
                    (index[(r.rule_id, r.version)], b.open_us, b.close_us, b.closed)
                    for r, b in sessions
                    if covers_mic(r, universe.instruments[instrument_id].mic)
                ]
                for instrument_id in instruments
            ]
        )

    k = max((len(h) for seg in hours for h in seg), default=0) or 1
    hrs_n = np.zeros((n_seg, n_ins), dtype=np.int32)
    hrs_rule = np.full((n_seg, n_ins, k), -1, dtype=np.int32)
    hrs_open = np.zeros((n_seg, n_ins, k), dtype=np.int64)
    hrs_close = np.zeros((n_seg, n_ins, k), dtype=np.int64)
    hrs_closed = np.zeros((n_seg, n_ins, k), dtype=np.bool_)
    for s, seg in enumerate(hours):
        for i, entries in enumerate(seg):
            hrs_n[s, i] = len(entries)
            for j, (rule, open_us, close_us, closed) in enumerate(entries):
                hrs_rule[s, i, j], hrs_open[s, i, j] = rule, open_us
                hrs_close[s, i, j], hrs_closed[s, i, j] = close_us, closed
    return Segments(
        np.array(starts, dtype=np.int64),
        *firm,
        *acc,
        *ins,
        suspended,
        appr_row,
        np.array(appr_first, dtype=np.int32),
        np.stack(appr_fail) if appr_fail else np.full((0, n_ins), -1, dtype=np.int32),
        restr_ins,
        restr_row,
        np.stack(restr_acc) if restr_acc else np.full((0, n_ins), -1, dtype=np.int32),
        hrs_n,
        hrs_rule,
        hrs_open,
        hrs_close,
        hrs_closed,
    )


@dataclass
class ResultChunk:
    """Results of consecutive orders in replay order (arrays; codes of regreport.risk.codes)."""

    order_id: np.ndarray
    decision: np.ndarray  # uint8 [n]
    outcome: np.ndarray  # uint8 [n, checks]
    reason: np.ndarray  # uint8 [n, checks]
    threshold: np.ndarray  # float64 [n, checks], NaN when unused
    observed: np.ndarray  # float64 [n, checks], NaN when unused
    rule: np.ndarray  # int32 [n, checks], index into the rule book's versions, -1 when none
    reference_price: np.ndarray  # float64 [n], NaN when none
    reference_ts: np.ndarray  # int64 [n], MISSING_TS when none

    def __len__(self) -> int:
        return len(self.order_id)

    def results(self, versions: Sequence[RuleVersion]) -> list[OrderResult]:
        """The chunk as the reference engine's result objects."""

        def num(value: float) -> float | None:
            return None if math.isnan(value) else float(value)

        out = []
        for n in range(len(self)):
            checks = []
            for c in Check:
                rule = int(self.rule[n, c])
                version = versions[rule] if rule >= 0 else None
                checks.append(
                    CheckResult(
                        c,
                        Outcome(int(self.outcome[n, c])),
                        Reason(int(self.reason[n, c])),
                        num(self.threshold[n, c]),
                        num(self.observed[n, c]),
                        version.rule_id if version else None,
                        version.version if version else None,
                    )
                )
            has_ref = not math.isnan(self.reference_price[n])
            out.append(
                OrderResult(
                    int(self.order_id[n]),
                    Decision(int(self.decision[n])),
                    tuple(checks),
                    float(self.reference_price[n]) if has_ref else None,
                    int(self.reference_ts[n]) if has_ref else None,
                )
            )
        return out


class ResultBuffers:
    """Result arrays reused from chunk to chunk (and day to day, when passed in).

    Fresh arrays cost a page fault per 4 KiB on first write, which at ~300 bytes of results
    per order is most of the kernel's time; reused ones cost nothing. A chunk's arrays are
    overwritten by the next chunk: consume each chunk before asking for the next one.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.decision = np.empty(capacity, dtype=np.uint8)
        self.outcome = np.empty((capacity, N_CHECKS), dtype=np.uint8)
        self.reason = np.empty((capacity, N_CHECKS), dtype=np.uint8)
        self.threshold = np.empty((capacity, N_CHECKS))
        self.observed = np.empty((capacity, N_CHECKS))
        self.rule = np.empty((capacity, N_CHECKS), dtype=np.int32)
        self.reference_price = np.empty(capacity)
        self.reference_ts = np.empty(capacity, dtype=np.int64)

    def chunk(self, order_id: np.ndarray) -> ResultChunk:
        """The first len(order_id) rows, as a chunk of results for those orders."""
        n = len(order_id)
        return ResultChunk(
            order_id, self.decision[:n], self.outcome[:n], self.reason[:n], self.threshold[:n],
            self.observed[:n], self.rule[:n], self.reference_price[:n], self.reference_ts[:n],
        )  # fmt: skip


class DayState:
    """Intraday state carried from one chunk to the next."""

    def __init__(
        self, n_accounts: int, n_instruments: int, rate_window_us: int, dup_window_us: int
    ):
        self.credit = np.zeros(n_accounts)
        self.position = np.zeros((n_accounts, n_instruments))
        self.ring = np.zeros((n_accounts, 16), dtype=np.int64)
        self.ring_head = np.zeros(n_accounts, dtype=np.int64)
        self.ring_size = np.zeros(n_accounts, dtype=np.int64)
        self.rate_window_us = rate_window_us
        self.dup_window_us = dup_window_us
        # Recent accepted orders per account: time, instrument, side, type, quantity, price.
        self.dup = np.zeros((n_accounts, 8, 6))
        self.dup_head = np.zeros(n_accounts, dtype=np.int64)
        self.dup_size = np.zeros(n_accounts, dtype=np.int64)


def replay_day(
    orders: OrderArrays,
    universe: Universe,
    chunk_size: int = 1 << 18,
    buffers: ResultBuffers | None = None,
) -> Iterator[ResultChunk]:
    """Replay one day's orders in chunks of `chunk_size`; yields each chunk's results.

    A chunk's arrays are reused for the next one (see `ResultBuffers`): consume it first.
    Pass `buffers` to reuse them across days too.
    """
    start, end = day_bounds(universe.day)
    segments = resolve_segments(universe)
    ordered = orders.sorted()
    n_ins = len(universe.instrument_ids)
    quote_offsets = np.zeros(n_ins + 1, dtype=np.int64)
    quote_ts, quote_mid = [], []
    for i, instrument_id in enumerate(universe.instrument_ids):
        quotes = universe.quotes.get(instrument_id)
        count = 0 if quotes is None else len(quotes.ts_us)
        if quotes is not None:
            quote_ts.append(np.asarray(quotes.ts_us, dtype=np.int64))
            quote_mid.append(np.asarray(quotes.mid, dtype=np.float64))
        quote_offsets[i + 1] = quote_offsets[i] + count
    q_ts = np.concatenate(quote_ts) if quote_ts else np.zeros(0, dtype=np.int64)
    q_mid = np.concatenate(quote_mid) if quote_mid else np.zeros(0)
    factor = np.array(
        [universe.instruments[i].value_factor for i in universe.instrument_ids], dtype=np.float64
    )
    state = DayState(
        len(universe.accounts),
        n_ins,
        universe.rules.max_window_us(RuleType.MESSAGE_RATE),
        universe.rules.max_window_us(RuleType.DUPLICATE_WINDOW),
    )
    if buffers is None or buffers.capacity < min(chunk_size, len(ordered)):
        buffers = ResultBuffers(min(chunk_size, max(len(ordered), 1)))
    for lo in range(0, len(ordered), chunk_size):
        part = ordered.slice(lo, min(lo + chunk_size, len(ordered)))
        chunk = buffers.chunk(part.order_id)
        state.ring, state.dup = _kernel(
            start, end, part.ts, part.account, part.instrument, part.side, part.order_type,
            part.quantity, part.limit_price, quote_offsets, q_ts, q_mid, factor,
            segments.start, segments.firm_key, segments.firm_thr, segments.firm_win,
            segments.firm_rule, segments.acc_key, segments.acc_thr, segments.acc_win,
            segments.acc_rule, segments.ins_key, segments.ins_thr, segments.ins_win,
            segments.ins_rule, segments.suspended, segments.appr_row, segments.appr_first,
            segments.appr_fail, segments.restr_ins, segments.restr_row, segments.restr_acc,
            segments.hrs_n, segments.hrs_rule, segments.hrs_open, segments.hrs_close,
            segments.hrs_closed, state.credit, state.position, state.ring, state.ring_head,
            state.ring_size, state.rate_window_us, state.dup_window_us, state.dup, state.dup_head,
            state.dup_size, chunk.decision, chunk.outcome, chunk.reason, chunk.threshold,
            chunk.observed, chunk.rule, chunk.reference_price, chunk.reference_ts,
        )  # fmt: skip
        yield chunk


def replay_day_results(orders: Sequence[Order], universe: Universe) -> list[OrderResult]:
    """Replay `orders` and return the reference engine's result objects (for comparisons)."""
    arrays = OrderArrays.from_orders(orders, universe)
    return [
        r for chunk in replay_day(arrays, universe) for r in chunk.results(universe.rules.versions)
    ]


# -- the kernel -----------------------------------------------------------------------------------

_PASS, _REJECT, _NA, _NE = (int(o) for o in Outcome)
_OK, _NO_RULE, _NA_TYPE, _INVALID = (
    int(Reason.WITHIN_LIMIT),
    int(Reason.NO_RULE_IN_FORCE),
    int(Reason.NOT_APPLICABLE_ORDER_TYPE),
    int(Reason.INVALID_INPUT),
)
_R = {r.name: int(r) for r in Reason}
_C = {c.name: int(c) for c in Check}
_LIMIT_CHECKS = np.array(
    [
        _C["MIN_ORDER_QUANTITY"],
        _C["MIN_ORDER_NOTIONAL"],
        _C["MAX_ORDER_QUANTITY"],
        _C["MAX_ORDER_NOTIONAL"],
        _C["PRICE_COLLAR"],
        _C["DUPLICATE_ORDER"],
        _C["MESSAGE_RATE"],
        _C["CREDIT_LIMIT"],
        _C["POSITION_LIMIT"],
    ],
    dtype=np.int64,
)
_LIMIT_REASONS = np.array(
    [
        _R["BELOW_MIN_QUANTITY"],
        _R["BELOW_MIN_NOTIONAL"],
        _R["ABOVE_MAX_QUANTITY"],
        _R["ABOVE_MAX_NOTIONAL"],
        _R["OUTSIDE_PRICE_COLLAR"],
        _R["DUPLICATE_ORDER"],
        _R["MESSAGE_RATE_EXCEEDED"],
        _R["CREDIT_LIMIT_EXCEEDED"],
        _R["POSITION_LIMIT_EXCEEDED"],
    ],
    dtype=np.int64,
)
(
    _MISSING_TIMESTAMP, _OUTSIDE_DAY, _UNKNOWN_ACCOUNT, _UNKNOWN_INSTRUMENT, _INVALID_SIDE,
    _INVALID_TYPE, _MISSING_QTY, _NON_POSITIVE, _MISSING_PRICE,
) = (
    _R["MISSING_TIMESTAMP"], _R["TIMESTAMP_OUTSIDE_DAY"], _R["UNKNOWN_ACCOUNT"],
    _R["UNKNOWN_INSTRUMENT"], _R["INVALID_SIDE"], _R["INVALID_ORDER_TYPE"],
    _R["MISSING_QUANTITY"], _R["NON_POSITIVE_QUANTITY"], _R["MISSING_LIMIT_PRICE"],
)  # fmt: skip
_ACCOUNT_NOT_PERMITTED, _SYMBOL_NOT_APPROVED, _RESTRICTED = (
    _R["ACCOUNT_NOT_PERMITTED"], _R["SYMBOL_NOT_APPROVED"], _R["RESTRICTED_INSTRUMENT"],
)  # fmt: skip
_MARKET_CLOSED, _OUTSIDE_HOURS, _NO_REFERENCE = (
    _R["MARKET_CLOSED"], _R["OUTSIDE_TRADING_HOURS"], _R["NO_REFERENCE_PRICE"],
)  # fmt: skip
_ACCESS, _APPROVED, _RESTRICTED_LIST, _HOURS = (
    _C["ACCOUNT_ACCESS"], _C["APPROVED_INSTRUMENTS"], _C["RESTRICTED_LIST"], _C["TRADING_HOURS"],
)  # fmt: skip
(
    _L_MIN_Q, _L_MIN_N, _L_MAX_Q, _L_MAX_N, _L_COLLAR, _L_DUP, _L_RATE, _L_CREDIT, _L_POS,
) = range(len(LIMITS))  # fmt: skip
_US = 1_000_000.0


@njit(cache=True, inline="always")
def _bind(s, lim, a, i, f_key, f_rule, a_key, a_rule, i_key, i_rule):
    """Level of the binding rule: 0 firm, 1 account, 2 instrument, -1 none (ties: lowest rule)."""
    best, level = -1, -1
    best_key = math.inf
    if f_rule[s, lim] >= 0:
        best, best_key, level = f_rule[s, lim], f_key[s, lim], 0
    r = a_rule[s, lim, a]
    if r >= 0 and (
        level < 0 or a_key[s, lim, a] < best_key or (a_key[s, lim, a] == best_key and r < best)
    ):
        best, best_key, level = r, a_key[s, lim, a], 1
    r = i_rule[s, lim, i]
    if r >= 0 and (
        level < 0 or i_key[s, lim, i] < best_key or (i_key[s, lim, i] == best_key and r < best)
    ):
        best, best_key, level = r, i_key[s, lim, i], 2
    return level


@njit(cache=True)
def _grow_ring(ring, head, size):
    """Twice the capacity; each account's times oldest first from 0, head after them."""
    cap = ring.shape[1]
    grown = np.zeros((ring.shape[0], cap * 2), dtype=ring.dtype)
    for r in range(ring.shape[0]):
        for m in range(size[r]):
            grown[r, m] = ring[r, (head[r] - size[r] + m) % cap]
        head[r] = size[r]
    return grown


@njit(cache=True)
def _grow_dup(dup, head, size):
    """`_grow_ring` for the recent accepted orders (one row of fields per entry)."""
    cap = dup.shape[1]
    grown = np.zeros((dup.shape[0], cap * 2, dup.shape[2]))
    for r in range(dup.shape[0]):
        for m in range(size[r]):
            grown[r, m, :] = dup[r, (head[r] - size[r] + m) % cap, :]
        head[r] = size[r]
    return grown


@njit(cache=True)
def _kernel(
    day_start,
    day_end,
    ts,
    acc,
    ins,
    side,
    otype,
    qty,
    px,
    q_off,
    q_ts,
    q_mid,
    factor,
    seg_start,
    f_key,
    f_thr,
    f_win,
    f_rule,
    a_key,
    a_thr,
    a_win,
    a_rule,
    i_key,
    i_thr,
    i_win,
    i_rule,
    suspended,
    appr_row,
    appr_first,
    appr_fail,
    restr_ins,
    restr_row,
    restr_acc,
    hrs_n,
    hrs_rule,
    hrs_open,
    hrs_close,
    hrs_closed,
    credit,
    position,
    ring,
    ring_head,
    ring_size,
    rate_window,
    dup_window,
    dup,
    dup_head,
    dup_size,
    out_decision,
    out_outcome,
    out_reason,
    out_thr,
    out_obs,
    out_rule,
    out_ref,
    out_ref_ts,
):
    n = ts.shape[0]
    n_seg = seg_start.shape[0]
    seg = 0
    for k in range(n):
        t = ts[k]
        a = acc[k]
        i = ins[k]
        q = qty[k]
        # INPUT
        bad = -1
        if t == MISSING_TS:
            bad = _MISSING_TIMESTAMP
        elif t < day_start or t >= day_end:
            bad = _OUTSIDE_DAY
        elif a < 0:
            bad = _UNKNOWN_ACCOUNT
        elif i < 0:
            bad = _UNKNOWN_INSTRUMENT
        elif side[k] == 0:
            bad = _INVALID_SIDE
        elif otype[k] == 0:
            bad = _INVALID_TYPE
        elif math.isnan(q):
            bad = _MISSING_QTY
        elif q <= 0:
            bad = _NON_POSITIVE
        elif otype[k] == 1 and not (px[k] > 0):
            bad = _MISSING_PRICE
        out_ref[k] = math.nan
        out_ref_ts[k] = MISSING_TS
        for c in range(out_outcome.shape[1]):  # the outputs are not initialised
            out_thr[k, c] = math.nan
            out_obs[k, c] = math.nan
            out_rule[k, c] = -1
        if bad >= 0:
            out_decision[k] = 2
            out_outcome[k, 0] = _REJECT
            out_reason[k, 0] = bad
            for c in range(1, out_outcome.shape[1]):
                out_outcome[k, c] = _NE
                out_reason[k, c] = _INVALID
            continue
        out_outcome[k, 0] = _PASS
        out_reason[k, 0] = _OK
        while seg + 1 < n_seg and seg_start[seg + 1] <= t:
            seg += 1
        s = seg
        # Reference price: the mid of the latest quote at or before t.
        lo, hi = q_off[i], q_off[i + 1]
        while lo < hi:
            mid = (lo + hi) // 2
            if q_ts[mid] <= t:
                lo = mid + 1
            else:
                hi = mid
        has_ref = lo > q_off[i]
        ref = q_mid[lo - 1] if has_ref else math.nan
        if has_ref:
            out_ref[k] = ref
            out_ref_ts[k] = q_ts[lo - 1]
        is_limit = otype[k] == 1
        price = px[k] if is_limit else ref
        notional = q * price * factor[i]  # NaN for a market order with no reference
        # Default: no rule in force.
        for c in range(1, out_outcome.shape[1]):
            out_outcome[k, c] = _NA
            out_reason[k, c] = _NO_RULE
        rejected = False
        # ACCOUNT_ACCESS
        r = suspended[s, a]
        if r >= 0:
            out_outcome[k, _ACCESS] = _REJECT
            out_reason[k, _ACCESS] = _ACCOUNT_NOT_PERMITTED
            out_rule[k, _ACCESS] = r
            rejected = True
        # APPROVED_INSTRUMENTS
        row = appr_row[s, a]
        if row >= 0:
            r = appr_fail[row, i]
            if r >= 0:
                out_outcome[k, _APPROVED] = _REJECT
                out_reason[k, _APPROVED] = _SYMBOL_NOT_APPROVED
                out_rule[k, _APPROVED] = r
                rejected = True
            else:
                out_outcome[k, _APPROVED] = _PASS
                out_reason[k, _APPROVED] = _OK
                out_rule[k, _APPROVED] = appr_first[row]
        # RESTRICTED_LIST
        r = restr_ins[s, i]
        row = restr_row[s, a]
        if row >= 0:
            r2 = restr_acc[row, i]
            if r2 >= 0 and (r < 0 or r2 < r):
                r = r2
        if r >= 0:
            out_outcome[k, _RESTRICTED_LIST] = _REJECT
            out_reason[k, _RESTRICTED_LIST] = _RESTRICTED
            out_rule[k, _RESTRICTED_LIST] = r
            rejected = True
        # TRADING_HOURS
        seconds = (t - day_start) / _US
        for j in range(hrs_n[s, i]):
            if hrs_closed[s, i, j]:
                out_outcome[k, _HOURS] = _REJECT
                out_reason[k, _HOURS] = _MARKET_CLOSED
                out_thr[k, _HOURS] = math.nan
                out_obs[k, _HOURS] = seconds
                out_rule[k, _HOURS] = hrs_rule[s, i, j]
                rejected = True
                break
            if t < hrs_open[s, i, j] or t >= hrs_close[s, i, j]:
                bound = hrs_open[s, i, j] if t < hrs_open[s, i, j] else hrs_close[s, i, j]
                out_outcome[k, _HOURS] = _REJECT
                out_reason[k, _HOURS] = _OUTSIDE_HOURS
                out_thr[k, _HOURS] = (bound - day_start) / _US
                out_obs[k, _HOURS] = seconds
                out_rule[k, _HOURS] = hrs_rule[s, i, j]
                rejected = True
                break
            if j == 0:
                out_outcome[k, _HOURS] = _PASS
                out_reason[k, _HOURS] = _OK
                out_thr[k, _HOURS] = (hrs_close[s, i, j] - day_start) / _US
                out_obs[k, _HOURS] = seconds
                out_rule[k, _HOURS] = hrs_rule[s, i, j]
        # Threshold controls.
        signed = position[a, i] + side[k] * q
        used = credit[a]
        dup_px = px[k] if is_limit else -1.0  # market orders: no price
        for lim in range(_LIMIT_CHECKS.shape[0]):
            level = _bind(s, lim, a, i, f_key, f_rule, a_key, a_rule, i_key, i_rule)
            if level < 0:
                continue
            if level == 0:
                thr, win, r = f_thr[s, lim], f_win[s, lim], f_rule[s, lim]
            elif level == 1:
                thr, win, r = a_thr[s, lim, a], a_win[s, lim, a], a_rule[s, lim, a]
            else:
                thr, win, r = i_thr[s, lim, i], i_win[s, lim, i], i_rule[s, lim, i]
            c = _LIMIT_CHECKS[lim]
            out_rule[k, c] = r
            out_thr[k, c] = thr
            value = math.nan
            failed = False
            no_reference = False
            if lim == _L_MIN_Q:
                value = q
                failed = value < thr
            elif lim == _L_MAX_Q:
                value = q
                failed = value > thr
            elif lim == _L_MIN_N or lim == _L_MAX_N or lim == _L_CREDIT:  # noqa: SIM109 - numba
                if math.isnan(notional):
                    no_reference = True
                else:
                    value = notional if lim != _L_CREDIT else used + notional
                    failed = value < thr if lim == _L_MIN_N else value > thr
            elif lim == _L_COLLAR:
                if not is_limit:
                    out_outcome[k, c] = _NA
                    out_reason[k, c] = _NA_TYPE
                    out_rule[k, c] = -1
                    out_thr[k, c] = math.nan
                    continue
                if not has_ref:
                    no_reference = True
                else:
                    value = abs(px[k] - ref) / ref * 100.0
                    failed = value > thr
            elif lim == _L_DUP:
                # The latest identical accepted order, if less than the window ago: the
                # account's recent accepted orders, newest first, until the window ends.
                cap = dup.shape[1]
                for back in range(dup_size[a]):
                    j = (dup_head[a] - 1 - back) % cap
                    seen = np.int64(dup[a, j, 0])
                    if seen <= t - win:
                        break
                    if (
                        dup[a, j, 1] == i
                        and dup[a, j, 2] == side[k]
                        and dup[a, j, 3] == otype[k]
                        and dup[a, j, 4] == q
                        and dup[a, j, 5] == dup_px
                    ):
                        value = (t - seen) / _US
                        failed = True
                        break
            elif lim == _L_RATE:
                count = 1
                size = ring_size[a]
                head = ring_head[a]
                cap = ring.shape[1]
                for back in range(size):
                    if ring[a, (head - 1 - back) % cap] > t - win:
                        count += 1
                    else:
                        break
                value = float(count)
                failed = value > thr
            else:  # position
                value = abs(signed)
                failed = value > thr
            if no_reference:
                out_outcome[k, c] = _REJECT
                out_reason[k, c] = _NO_REFERENCE
                rejected = True
            else:
                out_obs[k, c] = value
                if failed:
                    out_outcome[k, c] = _REJECT
                    out_reason[k, c] = _LIMIT_REASONS[lim]
                    rejected = True
                else:
                    out_outcome[k, c] = _PASS
                    out_reason[k, c] = _OK
        out_decision[k] = 1 if rejected else 0
        # State: the message ring (every valid order), then what an accepted order holds.
        if rate_window > 0:
            cap = ring.shape[1]
            if ring_size[a] == cap:
                if ring[a, ring_head[a] % cap] > t - rate_window:  # oldest still seen: grow
                    ring = _grow_ring(ring, ring_head, ring_size)
                    cap = ring.shape[1]
                else:
                    ring_size[a] -= 1
            ring[a, ring_head[a] % cap] = t
            ring_head[a] = (ring_head[a] + 1) % cap
            ring_size[a] += 1
        if not rejected:
            if not math.isnan(notional):
                credit[a] = used + notional
            else:
                credit[a] = used + 0.0
            position[a, i] = signed
            if dup_window > 0:
                cap = dup.shape[1]
                if dup_size[a] == cap:
                    if np.int64(dup[a, dup_head[a] % cap, 0]) > t - dup_window:
                        dup = _grow_dup(dup, dup_head, dup_size)
                        cap = dup.shape[1]
                    else:
                        dup_size[a] -= 1
                j = dup_head[a] % cap
                dup[a, j, 0] = t
                dup[a, j, 1] = i
                dup[a, j, 2] = side[k]
                dup[a, j, 3] = otype[k]
                dup[a, j, 4] = q
                dup[a, j, 5] = dup_px
                dup_head[a] = (dup_head[a] + 1) % cap
                dup_size[a] += 1
    return ring, dup
