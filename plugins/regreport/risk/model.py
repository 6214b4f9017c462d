"""Inputs and results of a replay, shared by both engines.

A replay runs one UTC day at a time: intraday state (credit used, positions, duplicate and
message-rate windows) starts empty each day. Prices and quantities are binary64 floats in both
engines, combined in the same order, so the engines agree to the last bit; a notional is
``quantity * price * value_factor`` in EUR.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import date

    from regreport.risk.codes import Check, Decision, Outcome, Reason
    from regreport.risk.rules import RuleBook


@dataclass(frozen=True)
class Order:
    """One order as the source holds it; any field may be missing or wrong (bad input)."""

    order_id: int
    ts_us: int | None
    account_id: str | None
    instrument_id: int | None
    side: str | None  # BUY or SELL
    order_type: str | None  # LIMIT or MARKET
    quantity: float | None
    limit_price: float | None = None


@dataclass(frozen=True)
class Instrument:
    """What the controls need of an instrument on the replayed day."""

    instrument_id: int
    mic: str
    #: EUR value of quantity x price = 1: the day's EUR rate of the price currency, / 100 for
    #: prices in percent of nominal.
    value_factor: float = 1.0


@dataclass(frozen=True)
class Quotes:
    """One instrument's quotes of the day: times (ascending) and mid prices."""

    ts_us: Sequence[int]
    mid: Sequence[float]


@dataclass
class Universe:
    """The reference data of one replayed day."""

    day: date
    accounts: Sequence[str]
    instruments: Mapping[int, Instrument]
    quotes: Mapping[int, Quotes]
    rules: RuleBook
    account_index: dict[str, int] = field(init=False)
    instrument_ids: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.accounts = tuple(sorted(set(self.accounts)))
        self.account_index = {a: i for i, a in enumerate(self.accounts)}
        self.instrument_ids = tuple(sorted(self.instruments))


@dataclass(frozen=True)
class CheckResult:
    """One check's decision for one order; threshold and observed value are None when unused."""

    check: Check
    outcome: Outcome
    reason: Reason
    threshold: float | None = None
    observed: float | None = None
    rule_id: str | None = None
    rule_version: int | None = None


@dataclass(frozen=True)
class OrderResult:
    """Every check's decision for one order, and the reference price it was measured against."""

    order_id: int
    decision: Decision
    checks: tuple[CheckResult, ...]
    reference_price: float | None = None
    reference_ts_us: int | None = None

    def key(self) -> tuple[object, ...]:
        """A comparable form (NaN-free) for engine agreement tests."""
        return (
            self.order_id,
            self.decision,
            self.reference_price,
            self.reference_ts_us,
            tuple(
                (c.check, c.outcome, c.reason, c.threshold, c.observed, c.rule_id, c.rule_version)
                for c in self.checks
            ),
        )
