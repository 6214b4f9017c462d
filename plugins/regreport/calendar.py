"""Business-day calendar and the MiFIR T+1 reporting deadline (pure Python, no Airflow).

MiFIR Art. 26(1) requires a transaction report "as quickly as possible, and no later than the
close of the following working day". Which days are working days is a calendar question, so
everything that counts days (the timetable, lateness in the submission MI) goes through one
`BusinessCalendar` rather than its own weekday check.

The default calendar is TARGET2's: weekends plus the TARGET closing days (1 January, Good
Friday, Easter Monday, 1 May, 25 and 26 December), the usual working-day convention for EU
financial reporting. A firm's NCA may close on other days too (national holidays): list them
in `REGREPORT_EXTRA_HOLIDAYS` (comma-separated ISO dates) and build the calendar with
`calendar_from_env`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

#: Environment variable with extra closing days, e.g. "2026-05-14,2026-05-25".
EXTRA_HOLIDAYS_ENV = "REGREPORT_EXTRA_HOLIDAYS"
#: Years the default calendar knows holidays for; outside them only weekends are closed.
DEFAULT_YEARS = range(2000, 2101)

_ONE_DAY = timedelta(days=1)


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


def parse_holidays(text: str | None) -> frozenset[date]:
    """Parse a comma-separated list of ISO dates (blanks ignored).

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
            raise ValueError(
                f"{EXTRA_HOLIDAYS_ENV}: {item!r} is not an ISO date (YYYY-MM-DD)"
            ) from exc
    return frozenset(days)


@dataclass(frozen=True)
class BusinessCalendar:
    """Working days: Monday to Friday, except the listed holidays.

    Attributes:
        holidays: Closing days (weekend dates in it are harmless).
        name: For logs and the docs ("TARGET2", "TARGET2+env", ...).
    """

    holidays: frozenset[date] = frozenset()
    name: str = "weekends"

    @classmethod
    def target(cls, years: Iterable[int] = DEFAULT_YEARS) -> BusinessCalendar:
        """The TARGET2 calendar for `years`."""
        days: set[date] = set()
        for year in years:
            days |= target_holidays(year)
        return cls(frozenset(days), "TARGET2")

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


def default_calendar(years: Iterable[int] = DEFAULT_YEARS) -> BusinessCalendar:
    """The TARGET2 calendar (no environment lookup: deterministic for tests and docs)."""
    return BusinessCalendar.target(years)


def calendar_from_env(
    environ: Mapping[str, str] | None = None, years: Iterable[int] = DEFAULT_YEARS
) -> BusinessCalendar:
    """TARGET2 plus the closing days listed in `REGREPORT_EXTRA_HOLIDAYS`.

    Args:
        environ: Defaults to `os.environ`; tests pass a dict.
        years: Years to compute TARGET2 holidays for.

    Raises:
        ValueError: The variable holds something that is not an ISO date.
    """
    env = os.environ if environ is None else environ
    extra = parse_holidays(env.get(EXTRA_HOLIDAYS_ENV))
    base = BusinessCalendar.target(years)
    return base.with_holidays(extra, "TARGET2+env") if extra else base


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


def close_of_day(day: date, tz: str | ZoneInfo = "UTC") -> datetime:
    """The first instant after `day` ends in `tz` (midnight starting the next day), tz-aware."""
    return datetime.combine(day + _ONE_DAY, time.min, tzinfo=_zone(tz))


def t_plus_1_deadline(
    trading_date: date, calendar: BusinessCalendar, tz: str | ZoneInfo = "UTC"
) -> datetime:
    """MiFIR Art. 26(1) deadline: the close of the working day following `trading_date`.

    Returned as the first instant after that day ends, in `tz`; a submission at or after it
    is late. A trade on a non-working day (Saturday venues, holidays) is due by the close of
    the first working day after it, which is what "next business day strictly after" gives.
    """
    return close_of_day(calendar.next_business_day(trading_date), tz)


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
