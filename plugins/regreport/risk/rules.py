"""Compliance rules as data: rule versions, which are in force at an instant, exchange sessions.

A rule is a row of `risk.rule_versions`: every change (new rule, new threshold, status change)
adds a version, stamped with who made it and when, and numbered by a global rule-set version
(the n-th change to the rule book). Nothing is updated in place, so any past rule book can be
rebuilt exactly.

Which rules apply to an order at instant t (`RuleBook.in_force`) has two modes:

- **as recorded** (`ruleset_version=None`): for each rule, the latest version recorded at or
  before t: "which orders would our controls, as they stood, have rejected?";
- **a chosen rule-set version** V: for each rule, its latest version among changes 1..V,
  whenever recorded: "what would rule book V have rejected?" (a backtest).

Either way a version applies only while effective (effective_from <= t < expires_at) and when
its status is ACTIVE, or TESTING when the replay includes testing rules. PENDING and INACTIVE
never apply. When several rules of one type apply to an order, the tightest binds (lowest
maximum, highest minimum, longest duplicate window, lowest message rate); ties go to the lowest
rule id.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from regreport.calendar import target_holidays
from regreport.risk.codes import Check

US_PER_S = 1_000_000


class RuleType(StrEnum):
    """What a rule controls; each maps to one `Check`."""

    ACCOUNT_SUSPENDED = "ACCOUNT_SUSPENDED"
    APPROVED_INSTRUMENTS = "APPROVED_INSTRUMENTS"
    RESTRICTED_INSTRUMENT = "RESTRICTED_INSTRUMENT"
    TRADING_HOURS = "TRADING_HOURS"
    MIN_ORDER_QUANTITY = "MIN_ORDER_QUANTITY"
    MIN_ORDER_NOTIONAL = "MIN_ORDER_NOTIONAL"
    MAX_ORDER_QUANTITY = "MAX_ORDER_QUANTITY"
    MAX_ORDER_NOTIONAL = "MAX_ORDER_NOTIONAL"
    PRICE_COLLAR_PCT = "PRICE_COLLAR_PCT"
    DUPLICATE_WINDOW = "DUPLICATE_WINDOW"
    MESSAGE_RATE = "MESSAGE_RATE"
    CREDIT_LIMIT = "CREDIT_LIMIT"
    MAX_POSITION_QUANTITY = "MAX_POSITION_QUANTITY"


class RuleStatus(StrEnum):
    """Only ACTIVE rules apply, and TESTING ones in a replay that includes them."""

    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    TESTING = "TESTING"
    PENDING = "PENDING"


CHECK_OF: dict[RuleType, Check] = {
    RuleType.ACCOUNT_SUSPENDED: Check.ACCOUNT_ACCESS,
    RuleType.APPROVED_INSTRUMENTS: Check.APPROVED_INSTRUMENTS,
    RuleType.RESTRICTED_INSTRUMENT: Check.RESTRICTED_LIST,
    RuleType.TRADING_HOURS: Check.TRADING_HOURS,
    RuleType.MIN_ORDER_QUANTITY: Check.MIN_ORDER_QUANTITY,
    RuleType.MIN_ORDER_NOTIONAL: Check.MIN_ORDER_NOTIONAL,
    RuleType.MAX_ORDER_QUANTITY: Check.MAX_ORDER_QUANTITY,
    RuleType.MAX_ORDER_NOTIONAL: Check.MAX_ORDER_NOTIONAL,
    RuleType.PRICE_COLLAR_PCT: Check.PRICE_COLLAR,
    RuleType.DUPLICATE_WINDOW: Check.DUPLICATE_ORDER,
    RuleType.MESSAGE_RATE: Check.MESSAGE_RATE,
    RuleType.CREDIT_LIMIT: Check.CREDIT_LIMIT,
    RuleType.MAX_POSITION_QUANTITY: Check.POSITION_LIMIT,
}
RULE_OF: dict[Check, RuleType] = {check: rule_type for rule_type, check in CHECK_OF.items()}

#: Threshold rules: the binding one is the tightest. +1: the lowest threshold binds (maxima),
#: -1: the highest (minima, duplicate windows). MESSAGE_RATE binds by the lowest rate.
TIGHTEST: dict[RuleType, int] = {
    RuleType.MIN_ORDER_QUANTITY: -1,
    RuleType.MIN_ORDER_NOTIONAL: -1,
    RuleType.MAX_ORDER_QUANTITY: 1,
    RuleType.MAX_ORDER_NOTIONAL: 1,
    RuleType.PRICE_COLLAR_PCT: 1,
    RuleType.DUPLICATE_WINDOW: -1,
    RuleType.MESSAGE_RATE: 1,
    RuleType.CREDIT_LIMIT: 1,
    RuleType.MAX_POSITION_QUANTITY: 1,
}
#: Scopes a rule type may have: (account allowed, instrument allowed, one of them required).
_SCOPES: dict[RuleType, tuple[bool, bool, str | None]] = {
    RuleType.ACCOUNT_SUSPENDED: (True, False, "account"),
    RuleType.APPROVED_INSTRUMENTS: (True, False, "account"),
    RuleType.RESTRICTED_INSTRUMENT: (True, True, "instrument"),
    RuleType.TRADING_HOURS: (False, False, None),
    RuleType.DUPLICATE_WINDOW: (True, False, None),
    RuleType.MESSAGE_RATE: (True, False, None),
    RuleType.CREDIT_LIMIT: (True, False, None),
}


class RuleError(ValueError):
    """A rule version that cannot be applied (wrong scope, missing threshold or parameter)."""


@dataclass(frozen=True)
class RuleVersion:
    """One recorded version of a rule. Times are microseconds since the epoch (UTC)."""

    rule_id: str
    version: int
    ruleset_version: int
    rule_type: RuleType
    status: RuleStatus
    effective_from_us: int
    expires_us: int | None = None
    account_id: str | None = None
    instrument_id: int | None = None
    threshold: float | None = None
    window_seconds: float | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    entity_id: str = "FIRM"
    changed_by: str = "system"
    changed_us: int = 0
    change_reason: str = ""

    def __post_init__(self) -> None:
        account_ok, instrument_ok, required = _SCOPES.get(self.rule_type, (True, True, None))
        if self.account_id is not None and not account_ok:
            raise RuleError(f"{self.rule_id}: a {self.rule_type} rule has no account scope")
        if self.instrument_id is not None and not instrument_ok:
            raise RuleError(f"{self.rule_id}: a {self.rule_type} rule has no instrument scope")
        if required == "account" and self.account_id is None:
            raise RuleError(f"{self.rule_id}: a {self.rule_type} rule needs an account")
        if required == "instrument" and self.instrument_id is None:
            raise RuleError(f"{self.rule_id}: a {self.rule_type} rule needs an instrument")
        if self.rule_type in TIGHTEST and self.account_id and self.instrument_id is not None:
            raise RuleError(f"{self.rule_id}: scope a limit to an account or an instrument")
        if self.rule_type in TIGHTEST and (self.threshold is None or self.threshold < 0):
            raise RuleError(f"{self.rule_id}: a {self.rule_type} rule needs a threshold >= 0")
        if self.rule_type is RuleType.MESSAGE_RATE and not (self.window_seconds or 0) > 0:
            raise RuleError(f"{self.rule_id}: a MESSAGE_RATE rule needs window_seconds > 0")
        if self.rule_type is RuleType.APPROVED_INSTRUMENTS and not isinstance(
            self.params.get("instrument_ids"), list
        ):
            raise RuleError(f"{self.rule_id}: APPROVED_INSTRUMENTS needs params.instrument_ids")
        if self.expires_us is not None and self.expires_us <= self.effective_from_us:
            raise RuleError(f"{self.rule_id}: expires before it is effective")

    @property
    def check(self) -> Check:
        """The control this rule parameterises."""
        return CHECK_OF[self.rule_type]

    @property
    def tightness(self) -> float:
        """The value compared to find the binding rule (lower binds first after the sign)."""
        assert self.threshold is not None  # noqa: S101 - __post_init__ requires one
        if self.rule_type is RuleType.MESSAGE_RATE:
            assert self.window_seconds is not None  # noqa: S101 - as above
            return self.threshold / self.window_seconds
        return TIGHTEST[self.rule_type] * self.threshold

    @property
    def window_us(self) -> int:
        """The duplicate or message-rate window in whole microseconds."""
        seconds = self.threshold if self.rule_type is RuleType.DUPLICATE_WINDOW else None
        seconds = self.window_seconds if seconds is None else seconds
        return round((seconds or 0.0) * US_PER_S)

    def applies_to(self, account: str, instrument: int) -> bool:
        """Whether the rule's scope covers an order of `account` in `instrument`."""
        return (self.account_id is None or self.account_id == account) and (
            self.instrument_id is None or self.instrument_id == instrument
        )


def tightest(rules: Iterable[RuleVersion]) -> RuleVersion | None:
    """The binding rule among applicable rules of one threshold type (ties: lowest rule id)."""
    best: RuleVersion | None = None
    for rule in rules:
        if best is None or (rule.tightness, rule.rule_id) < (best.tightness, best.rule_id):
            best = rule
    return best


class RuleBook:
    """Every recorded version of every rule, and the replay mode that picks among them."""

    def __init__(
        self,
        versions: Iterable[RuleVersion],
        *,
        ruleset_version: int | None = None,
        include_testing: bool = False,
    ) -> None:
        #: Versions sorted by (rule_id, version): list index order is rule id order.
        self.versions: tuple[RuleVersion, ...] = tuple(
            sorted(versions, key=lambda v: (v.rule_id, v.version))
        )
        keys = [(v.rule_id, v.version) for v in self.versions]
        if len(set(keys)) != len(keys):
            raise RuleError("a rule version is recorded twice")
        self.ruleset_version = ruleset_version
        self.statuses = frozenset(
            {RuleStatus.ACTIVE, RuleStatus.TESTING} if include_testing else {RuleStatus.ACTIVE}
        )
        self._by_rule: dict[str, list[RuleVersion]] = {}
        for version in self.versions:
            self._by_rule.setdefault(version.rule_id, []).append(version)
        self.index: dict[tuple[str, int], int] = {k: i for i, k in enumerate(keys)}
        self._max_window: dict[RuleType, int] = {}
        for version in self.versions:
            if version.rule_type in (RuleType.DUPLICATE_WINDOW, RuleType.MESSAGE_RATE):
                known = self._max_window.get(version.rule_type, 0)
                self._max_window[version.rule_type] = max(known, version.window_us)

    def current(self, rule_id: str, at_us: int) -> RuleVersion | None:
        """The version of `rule_id` the mode selects for instant `at_us` (applicable or not)."""
        chosen: RuleVersion | None = None
        for version in self._by_rule.get(rule_id, ()):
            if self.ruleset_version is None:
                if version.changed_us <= at_us:
                    chosen = version
            elif version.ruleset_version <= self.ruleset_version:
                chosen = version
        return chosen

    def in_force(self, at_us: int) -> list[RuleVersion]:
        """Rule versions in force at `at_us`, in rule id order."""
        found = []
        for rule_id in self._by_rule:
            version = self.current(rule_id, at_us)
            if (
                version is not None
                and version.status in self.statuses
                and version.effective_from_us <= at_us
                and (version.expires_us is None or at_us < version.expires_us)
            ):
                found.append(version)
        return found

    def breakpoints(self, start_us: int, end_us: int) -> list[int]:
        """Instants in (start, end) where the rules in force may change, ascending."""
        moments: set[int] = set()
        for version in self.versions:
            moments.add(version.effective_from_us)
            if version.expires_us is not None:
                moments.add(version.expires_us)
            if self.ruleset_version is None:
                moments.add(version.changed_us)
        return sorted(m for m in moments if start_us < m < end_us)

    def max_window_us(self, rule_type: RuleType) -> int:
        """The longest window of any version of `rule_type` (what sliding state must keep)."""
        return self._max_window.get(rule_type, 0)


# -- exchange sessions --------------------------------------------------------------------------


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class Session:
    """A trading session in UTC microseconds; `closed` for a holiday or weekend."""

    open_us: int
    close_us: int
    closed: bool = False


def covers_mic(rule: RuleVersion, mic: str) -> bool:
    """Whether a TRADING_HOURS rule covers an instrument listed on `mic` (no list: every MIC)."""
    mics = rule.params.get("mics")
    return mics is None or mic in mics


def session(rule: RuleVersion, day: date) -> Session:
    """The session of a TRADING_HOURS rule on `day`, a date of the rule's own time zone.

    params: ``tz`` (IANA, default UTC), ``open`` and ``close`` ("HH:MM" local),
    ``half_day_close`` with ``half_days`` (["MM-DD", ...]), ``calendar`` ("TARGET": the TARGET2
    closing days; default weekends only), and ``closed_dates`` (ISO dates).
    """
    params = rule.params
    zone = ZoneInfo(str(params.get("tz", "UTC")))
    closed = day.weekday() >= 5 or day.isoformat() in set(params.get("closed_dates", ()))
    if params.get("calendar") == "TARGET" and day in target_holidays(day.year):
        closed = True
    close_text = str(params.get("close", "23:59"))
    if f"{day:%m-%d}" in set(params.get("half_days", ())) and params.get("half_day_close"):
        close_text = str(params["half_day_close"])

    def at(text: str) -> int:
        moment = datetime.combine(day, _clock(text), tzinfo=zone).astimezone(UTC)
        return _micros(moment)

    return Session(at(str(params.get("open", "00:00"))), at(close_text), closed)


def _micros(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * US_PER_S + delta.microseconds


def micros(moment: datetime) -> int:
    """Microseconds since the epoch of a timezone-aware datetime."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no instant")
    return _micros(moment)


def from_micros(value: int) -> datetime:
    """The UTC datetime of microseconds since the epoch."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value)


def day_bounds(day: date) -> tuple[int, int]:
    """The UTC day as [start, end) microseconds."""
    start = micros(datetime.combine(day, time(), tzinfo=UTC))
    return start, start + 86_400 * US_PER_S


def params_json(params: Mapping[str, Any]) -> str:
    """Parameters as canonical JSON (sorted keys), as stored."""
    return json.dumps(dict(params), sort_keys=True, separators=(",", ":"))
