"""Business-day calendars, reporting periods and reporting deadlines (pure Python, no Airflow).

MiFIR Art. 26(1) requires a transaction report "as quickly as possible, and no later than the
close of the following working day". Which days are working days is a calendar question, so
everything that counts days (the timetables, lateness in the submission MI) goes through one
`BusinessCalendar` rather than its own weekday check.

Named calendars (`CALENDARS`, built by `calendar_for`), each computed by rule for
`DEFAULT_YEARS`, with no downloaded data:

- "TARGET2" (the default): weekends plus the TARGET closing days (1 January, Good Friday,
  Easter Monday, 1 May, 25 and 26 December), the usual working-day convention for EU
  financial reporting (MiFIR).
- "US": weekends plus the NYSE holidays (`us_holidays`), for the SEC reports (Rule 605,
  Rule 13h-1).
- "UK": weekends plus the England and Wales bank holidays (`uk_holidays`), for UK MiFIR.
- "WEEKENDS": weekends only, for schedules that must run on every weekday whatever the
  jurisdiction (e.g. a books-and-records chain fed by venues of several countries).

One-off closures (a national day of mourning, a royal jubilee) follow no rule: list them,
comma-separated ISO dates, in `REGREPORT_EXTRA_HOLIDAYS_<NAME>` (e.g.
`REGREPORT_EXTRA_HOLIDAYS_US=2025-01-09`). For TARGET2, the NCA's national closing days in
`REGREPORT_EXTRA_HOLIDAYS` apply too (the variable predates the named calendars), so
`calendar_from_env()` is `calendar_for("TARGET2")`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from typing import Literal
from zoneinfo import ZoneInfo

#: Environment variable with extra closing days, e.g. "2026-05-14,2026-05-25".
EXTRA_HOLIDAYS_ENV = "REGREPORT_EXTRA_HOLIDAYS"
#: Years the default calendar knows holidays for; outside them only weekends are closed.
DEFAULT_YEARS = range(2000, 2101)

_ONE_DAY = timedelta(days=1)
_MONDAY, _THURSDAY, _SATURDAY, _SUNDAY = 0, 3, 5, 6


def easter_sunday(year: int) -> date:
    """Western (Gregorian) Easter Sunday, by the anonymous Gregorian (Meeus/Jones/Butcher) rule.

    Computed rather than tabulated so the calendar never runs out of years.
    """
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return date(year, month, day + 1)


def target_holidays(year: int) -> frozenset[date]:
    """TARGET2 closing days of `year` (weekday or not): the EU payment-system holidays."""
    easter = easter_sunday(year)
    return frozenset(
        {
            date(year, 1, 1),
            easter - 2 * _ONE_DAY,  # Good Friday
            easter + _ONE_DAY,  # Easter Monday
            date(year, 5, 1),
            date(year, 12, 25),
            date(year, 12, 26),
        }
    )


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The `n`-th `weekday` (0 = Monday) of the month, or the last one for `n == -1`."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - _ONE_DAY
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _nearest_weekday(day: date) -> date:
    """US observance: a Saturday holiday is kept on the Friday, a Sunday one on the Monday."""
    if day.weekday() == _SATURDAY:
        return day - _ONE_DAY
    if day.weekday() == _SUNDAY:
        return day + _ONE_DAY
    return day


def us_holidays(year: int) -> frozenset[date]:
    """NYSE (US equity market) holidays of `year`, on the weekday the market closes.

    New Year's Day (Sunday: the Monday after; Saturday: no closure, since NYSE Rule 7.2 keeps
    the market open on a Friday that ends the year), Martin Luther King Jr. Day (3rd Monday
    of January, from 1998), Washington's Birthday (3rd Monday of February), Good Friday,
    Memorial Day (last Monday of May), Juneteenth (19 June, from 2022), Independence Day,
    Labor Day (1st Monday of September), Thanksgiving (4th Thursday of November) and
    Christmas. Juneteenth, Independence Day and Christmas move to the Friday before when they
    fall on a Saturday and to the Monday after when on a Sunday.

    Unscheduled closures follow no rule: national days of mourning (2004-06-11, 2007-01-02,
    2018-12-05, 2025-01-09), 2001-09-11 to 09-14, Hurricane Sandy (2012-10-29/30). List them in
    `REGREPORT_EXTRA_HOLIDAYS_US`.
    """
    days = {
        _nth_weekday(year, 2, _MONDAY, 3),
        easter_sunday(year) - 2 * _ONE_DAY,  # Good Friday
        _nth_weekday(year, 5, _MONDAY, -1),
        _nearest_weekday(date(year, 7, 4)),
        _nth_weekday(year, 9, _MONDAY, 1),
        _nth_weekday(year, 11, _THURSDAY, 4),
        _nearest_weekday(date(year, 12, 25)),
    }
    new_year = date(year, 1, 1)
    if new_year.weekday() != _SATURDAY:
        days.add(_nearest_weekday(new_year))
    if year >= 1998:
        days.add(_nth_weekday(year, 1, _MONDAY, 3))  # Martin Luther King Jr. Day
    if year >= 2022:
        days.add(_nearest_weekday(date(year, 6, 19)))  # Juneteenth
    return frozenset(days)


#: UK bank holidays moved by royal proclamation: {the rule's date: the day off instead}. An
#: env extra can add a closing day but cannot reopen the rule's date, so the moves live here.
_UK_MOVED = MappingProxyType(
    {
        date(1995, 5, 1): date(1995, 5, 8),  # VE Day 50
        date(2002, 5, 27): date(2002, 6, 4),  # Golden Jubilee
        date(2012, 5, 28): date(2012, 6, 4),  # Diamond Jubilee
        date(2020, 5, 4): date(2020, 5, 8),  # VE Day 75
        date(2022, 5, 30): date(2022, 6, 2),  # Platinum Jubilee
    }
)


def _uk_christmas(year: int) -> tuple[date, date]:
    """Christmas Day and Boxing Day, or their substitute days when on a weekend."""
    christmas = date(year, 12, 25)
    # Friday: Boxing Day (Saturday) moves to Monday 28. Saturday: both move, to Monday 27
    # and Tuesday 28. Sunday: Boxing Day stays on Monday 26, Christmas moves to Tuesday 27.
    days_after = {4: (0, 3), 5: (2, 3), 6: (1, 2)}.get(christmas.weekday(), (0, 1))
    first, second = (christmas + timedelta(days=n) for n in days_after)
    return first, second


def uk_holidays(year: int) -> frozenset[date]:
    """England and Wales bank holidays of `year`, on the weekday they are taken.

    New Year's Day (on a weekend: the Monday after), Good Friday, Easter Monday, the Early May
    (1st Monday of May), Spring (last Monday of May) and Summer (last Monday of August) bank
    holidays, and Christmas and Boxing Day with their substitute days (25 December on a
    Saturday: Monday 27 and Tuesday 28; on a Sunday: Monday 26 and Tuesday 27). The May bank
    holidays moved by proclamation (1995, 2002, 2012, 2020, 2022) are taken on their moved
    day. Scotland and Northern Ireland have other holidays.

    Additional one-off bank holidays follow no rule (2002-06-03, 2011-04-29, 2012-06-05,
    2022-06-03, 2022-09-19, 2023-05-08): list them in `REGREPORT_EXTRA_HOLIDAYS_UK`.
    """
    easter = easter_sunday(year)
    new_year = date(year, 1, 1)
    if new_year.weekday() >= _SATURDAY:
        new_year += timedelta(days=7 - new_year.weekday())
    days = {
        new_year,
        easter - 2 * _ONE_DAY,  # Good Friday
        easter + _ONE_DAY,  # Easter Monday
        _nth_weekday(year, 5, _MONDAY, 1),
        _nth_weekday(year, 5, _MONDAY, -1),
        _nth_weekday(year, 8, _MONDAY, -1),
        *_uk_christmas(year),
    }
    return frozenset(_UK_MOVED.get(day, day) for day in days)


def extra_holidays_env(name: str) -> str:
    """The environment variable with the extra closing days of calendar `name`."""
    return f"{EXTRA_HOLIDAYS_ENV}_{name}"


def parse_holidays(text: str | None, source: str = EXTRA_HOLIDAYS_ENV) -> frozenset[date]:
    """Parse a comma-separated list of ISO dates (blanks ignored).

    Args:
        text: The list, e.g. an environment variable's value; `None` is an empty list.
        source: Where `text` came from, for the error message.

    Raises:
        ValueError: An entry is not an ISO date; the message names the entry, since a typo
            in a holiday list silently shifts every deadline.
    """
    days: set[date] = set()
    for raw in (text or "").split(","):
        item = raw.strip()
        if not item:
            continue
        try:
            days.add(date.fromisoformat(item))
        except ValueError as exc:
            raise ValueError(f"{source}: {item!r} is not an ISO date (YYYY-MM-DD)") from exc
    return frozenset(days)


@dataclass(frozen=True)
class BusinessCalendar:
    """Working days: Monday to Friday, except the listed holidays.

    Attributes:
        holidays: Closing days (weekend dates in it are harmless).
        name: For logs and the docs ("TARGET2", "US", "UK", "TARGET2+env", ...).
    """

    holidays: frozenset[date] = frozenset()
    name: str = "weekends"

    @classmethod
    def target(cls, years: Iterable[int] = DEFAULT_YEARS) -> BusinessCalendar:
        """The TARGET2 calendar for `years`."""
        return cls.by_rule("TARGET2", target_holidays, years)

    @classmethod
    def us(cls, years: Iterable[int] = DEFAULT_YEARS) -> BusinessCalendar:
        """The US (NYSE) calendar for `years`."""
        return cls.by_rule("US", us_holidays, years)

    @classmethod
    def uk(cls, years: Iterable[int] = DEFAULT_YEARS) -> BusinessCalendar:
        """The UK (England and Wales) calendar for `years`."""
        return cls.by_rule("UK", uk_holidays, years)

    @classmethod
    def by_rule(
        cls, name: str, holidays_of: Callable[[int], Iterable[date]], years: Iterable[int]
    ) -> BusinessCalendar:
        """A calendar named `name` closed on `holidays_of(year)` for each of `years`."""
        days: set[date] = set()
        for year in years:
            days.update(holidays_of(year))
        return cls(frozenset(days), name)

    def with_holidays(self, extra: Iterable[date], name: str | None = None) -> BusinessCalendar:
        """This calendar with more closing days (e.g. national holidays of the NCA)."""
        return BusinessCalendar(self.holidays | frozenset(extra), name or self.name)

    def is_business_day(self, day: date) -> bool:
        """Monday to Friday and not a holiday."""
        return day.weekday() < 5 and day not in self.holidays

    def next_business_day(self, day: date) -> date:
        """The first business day strictly after `day`."""
        day += _ONE_DAY
        while not self.is_business_day(day):
            day += _ONE_DAY
        return day

    def previous_business_day(self, day: date) -> date:
        """The last business day strictly before `day`."""
        day -= _ONE_DAY
        while not self.is_business_day(day):
            day -= _ONE_DAY
        return day

    def on_or_after(self, day: date) -> date:
        """`day` if it is a business day, else the next one."""
        return day if self.is_business_day(day) else self.next_business_day(day)

    def on_or_before(self, day: date) -> date:
        """`day` if it is a business day, else the previous one."""
        return day if self.is_business_day(day) else self.previous_business_day(day)

    def add_business_days(self, day: date, n: int) -> date:
        """Move `n` business days forward (negative: back); `n == 0` returns `day` unchanged."""
        step = self.next_business_day if n >= 0 else self.previous_business_day
        for _ in range(abs(n)):
            day = step(day)
        return day

    def business_days_between(self, a: date, b: date) -> int:
        """Business days in (a, b]; negative (minus those in (b, a]) when b is before a."""
        if b < a:
            return -self.business_days_between(b, a)
        count = 0
        day = a + _ONE_DAY
        while day <= b:
            count += self.is_business_day(day)
            day += _ONE_DAY
        return count


def _weekends(years: Iterable[int] = DEFAULT_YEARS) -> BusinessCalendar:
    """Weekends only: every Monday to Friday is a business day."""
    return BusinessCalendar(frozenset(), "WEEKENDS")


#: The named calendars: name -> factory taking the years to compute holidays for.
CALENDARS: Mapping[str, Callable[[Iterable[int]], BusinessCalendar]] = MappingProxyType(
    {
        "TARGET2": BusinessCalendar.target,
        "US": BusinessCalendar.us,
        "UK": BusinessCalendar.uk,
        "WEEKENDS": _weekends,
    }
)


@functools.lru_cache(maxsize=32)
def _base_calendar(name: str, years: tuple[int, ...]) -> BusinessCalendar:
    # A century of holidays per call is wasteful; the calendar is frozen, so share it.
    return CALENDARS[name](years)


def default_calendar(years: Iterable[int] = DEFAULT_YEARS) -> BusinessCalendar:
    """The TARGET2 calendar (no environment lookup: deterministic for tests and docs)."""
    return _base_calendar("TARGET2", tuple(years))


def calendar_for(
    name: str, environ: Mapping[str, str] | None = None, years: Iterable[int] = DEFAULT_YEARS
) -> BusinessCalendar:
    """The named calendar plus the closing days listed in its environment variable.

    The variable is `REGREPORT_EXTRA_HOLIDAYS_<NAME>` (`extra_holidays_env`); TARGET2 also
    takes those of `REGREPORT_EXTRA_HOLIDAYS`. With extra days the calendar is named
    "<NAME>+env".

    Args:
        name: A key of `CALENDARS` ("TARGET2", "US", "UK", "WEEKENDS").
        environ: Defaults to `os.environ`; tests pass a dict.
        years: Years to compute the rule-based holidays for.

    Raises:
        ValueError: `name` is not a known calendar, or a variable holds something that is not
            an ISO date.
    """
    if name not in CALENDARS:
        raise ValueError(f"unknown calendar {name!r}; known calendars: {', '.join(CALENDARS)}")
    env = os.environ if environ is None else environ
    variables = [EXTRA_HOLIDAYS_ENV] if name == "TARGET2" else []
    variables.append(extra_holidays_env(name))
    extra: frozenset[date] = frozenset().union(
        *(parse_holidays(env.get(var), var) for var in variables)
    )
    base = _base_calendar(name, tuple(years))
    return base.with_holidays(extra, f"{name}+env") if extra else base


def calendar_from_env(
    environ: Mapping[str, str] | None = None, years: Iterable[int] = DEFAULT_YEARS
) -> BusinessCalendar:
    """TARGET2 plus the closing days in `REGREPORT_EXTRA_HOLIDAYS`: `calendar_for("TARGET2")`.

    Args:
        environ: Defaults to `os.environ`; tests pass a dict.
        years: Years to compute TARGET2 holidays for.

    Raises:
        ValueError: The variable holds something that is not an ISO date.
    """
    return calendar_for("TARGET2", environ, years)


PeriodKind = Literal["day", "month", "quarter"]
_MONTHS_PER_PERIOD = {"month": 1, "quarter": 3}


def _bounds(kind: PeriodKind, day: date) -> tuple[date, date]:
    if kind == "day":
        return day, day + _ONE_DAY
    if kind not in _MONTHS_PER_PERIOD:
        raise ValueError(f"unknown period kind {kind!r}; known kinds: day, month, quarter")
    months = _MONTHS_PER_PERIOD[kind]
    first = (day.month - 1) // months * months  # 0-based month the period starts in
    year, month = divmod(first + months, 12)
    return date(day.year, first + 1, 1), date(day.year + year, month + 1, 1)


@dataclass(frozen=True)
class Period:
    """A reporting period: one calendar day, month or quarter, `[start, end)`.

    Build one with `day_period`, `month_period`, `quarter_period` or `period_of`.

    Attributes:
        kind: "day", "month" or "quarter".
        start: The period's first day.
        end: The day after its last day (exclusive end, like a data interval).
    """

    kind: PeriodKind
    start: date
    end: date

    def __post_init__(self) -> None:
        if _bounds(self.kind, self.start) != (self.start, self.end):
            raise ValueError(f"[{self.start}, {self.end}) is not a {self.kind} period")

    @property
    def last_day(self) -> date:
        """The period's last day (`end` minus one day)."""
        return self.end - _ONE_DAY

    @property
    def label(self) -> str:
        """The period's name: "2026-11-27" (day), "2026-11" (month), "2026-Q4" (quarter)."""
        if self.kind == "day":
            return self.start.isoformat()
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"

    def next(self) -> Period:
        """The period of the same kind that starts at `end` (a calendar day for days)."""
        return period_of(self.kind, self.end)

    def previous(self) -> Period:
        """The period of the same kind that ends at `start`."""
        return period_of(self.kind, self.start - _ONE_DAY)


def period_of(kind: PeriodKind, day: date) -> Period:
    """The `kind` period holding `day`.

    Raises:
        ValueError: `kind` is not "day", "month" or "quarter".
    """
    return Period(kind, *_bounds(kind, day))


def day_period(day: date) -> Period:
    """The calendar day `day`."""
    return period_of("day", day)


def month_period(day: date) -> Period:
    """The calendar month holding `day`."""
    return period_of("month", day)


def quarter_period(day: date) -> Period:
    """The calendar quarter (from 1 January, April, July, October) holding `day`."""
    return period_of("quarter", day)


def periods_between(
    kind: PeriodKind, start: date, end: date, calendar: BusinessCalendar | None = None
) -> Iterator[Period]:
    """The `kind` periods that start in `[start, end)`, in date order.

    Args:
        kind: "day", "month" or "quarter".
        start: First day a period may start on.
        end: Periods must start before it.
        calendar: For "day" periods, yield business days only; ignored for the other kinds.
    """
    period = period_of(kind, start)
    if period.start < start:
        period = period.next()
    while period.start < end:
        if kind != "day" or calendar is None or calendar.is_business_day(period.start):
            yield period
        period = period.next()


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


def close_of_day(day: date, tz: str | ZoneInfo = "UTC") -> datetime:
    """The first instant after `day` ends in `tz` (midnight starting the next day), tz-aware."""
    return datetime.combine(day + _ONE_DAY, time.min, tzinfo=_zone(tz))


def deadline_after(
    period_end_day: date,
    business_days: int,
    calendar: BusinessCalendar,
    tz: str | ZoneInfo = "UTC",
) -> datetime:
    """The close of the `business_days`-th business day after a period's last day.

    Returned as the first instant after that day ends, in `tz`; a submission at or after it is
    late. `business_days == 0` means the close of the last day itself, or of the next business
    day if it is a closing day.

    Args:
        period_end_day: The period's last day (`Period.last_day`, i.e. `end` minus one day).
        business_days: How many business days the regulator allows after the period.
        calendar: The jurisdiction's working days.
        tz: Where the day closes.

    Raises:
        ValueError: `business_days` is negative.
    """
    if business_days < 0:
        raise ValueError(f"business_days must be 0 or more, got {business_days}")
    if business_days == 0:
        return close_of_day(calendar.on_or_after(period_end_day), tz)
    return close_of_day(calendar.add_business_days(period_end_day, business_days), tz)


def t_plus_1_deadline(
    trading_date: date, calendar: BusinessCalendar, tz: str | ZoneInfo = "UTC"
) -> datetime:
    """MiFIR Art. 26(1) deadline: the close of the working day following `trading_date`.

    Returned as the first instant after that day ends, in `tz`; a submission at or after it
    is late. A trade on a non-working day (Saturday venues, holidays) is due by the close of
    the first working day after it, which is what "next business day strictly after" gives.
    Same as `deadline_after(trading_date, 1, calendar, tz)`.
    """
    return deadline_after(trading_date, 1, calendar, tz)


def deadline_day(trading_date: date, calendar: BusinessCalendar) -> date:
    """The last working day on which a report of `trading_date` is on time."""
    return calendar.next_business_day(trading_date)


def business_days_late(
    trading_date: date,
    submitted_at: datetime,
    calendar: BusinessCalendar,
    tz: str | ZoneInfo = "UTC",
) -> int:
    """Working days a submission came after its deadline day (0 if on time).

    A submission on a closing day counts from the next working day, the first day the
    regulator could have processed it: a Saturday upload after a Friday deadline is 1 day late,
    as is a Monday upload.
    """
    due = deadline_day(trading_date, calendar)
    if submitted_at < close_of_day(due, tz):
        return 0
    local = submitted_at.astimezone(_zone(tz)).date()
    return calendar.business_days_between(due, calendar.on_or_after(local))
