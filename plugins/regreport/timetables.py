"""Reporting-period timetables: business days, calendar months and calendar quarters.

Airflow 3 gives a bare cron string a zero-width data interval, and `CronDataIntervalTimetable`
cannot express "one interval per business day": a Monday run would cover the weekend too. A
business day is the reporting period of a daily report (MiFIR Art. 26: report by the close of
the following working day), so that is what `BusinessDayTimetable` schedules;
`MonthlyTimetable` and `QuarterlyTimetable` run once a period has ended, on the next business
day.

Business days come from a named calendar of `regreport.calendar` (`calendar="TARGET2"`, the
default, for MiFIR; "US" for the SEC reports; "UK"; "WEEKENDS" for weekdays only), plus any
`holidays=` given and the calendar's `REGREPORT_EXTRA_HOLIDAYS_<NAME>` closing days (for
TARGET2 also `REGREPORT_EXTRA_HOLIDAYS`). The calendar is resolved on first use, by the
scheduler, DAG processor or API server computing a run, not when the DAG file is parsed: the
variables must be set for those services.

Registered with Airflow by `plugins/regreport_plugin.py` (Airflow needs the class registered
to deserialize DAGs that use it).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any, ClassVar, Self

from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction, Timetable
from pendulum import UTC, DateTime, Time

from regreport.calendar import (
    CALENDARS,
    BusinessCalendar,
    Period,
    PeriodKind,
    calendar_for,
    period_of,
)

#: The calendar of a timetable built without `calendar=` (and of DAGs serialized before it).
DEFAULT_CALENDAR = "TARGET2"


def is_business_day(day: date, holidays: frozenset[date] = frozenset()) -> bool:
    """Monday to Friday and not in `holidays` (no named calendar: see `calendar_for`)."""
    return BusinessCalendar(frozenset(holidays)).is_business_day(day)


def previous_business_day(day: date, holidays: frozenset[date] = frozenset()) -> date:
    """The weekday on or before `day` not in `holidays` (no named calendar)."""
    return BusinessCalendar(frozenset(holidays)).on_or_before(day)


def next_business_day(day: date, holidays: frozenset[date] = frozenset()) -> date:
    """The weekday on or after `day` not in `holidays` (no named calendar)."""
    return BusinessCalendar(frozenset(holidays)).on_or_after(day)


def report_period(
    report_date: str | date | None,
    interval_start: datetime | None,
    interval_end: datetime | None,
) -> tuple[datetime, datetime]:
    """The period a run reports: `report_date` (a whole UTC day) if given, else the interval.

    Airflow allows one run per logical date; an explicit report date lets a compliance user
    rerun or resubmit a past day from the UI's trigger form as often as needed.
    """
    if not report_date:
        if interval_start is None or interval_end is None:
            raise ValueError(
                "this run has no data interval (triggered without a logical date): "
                "set the 'report_date' parameter to the business day to report"
            )
        return interval_start, interval_end
    day = report_date if isinstance(report_date, date) else date.fromisoformat(str(report_date))
    start = _midnight(day)
    return start, start.add(days=1)


def _midnight(day: date) -> DateTime:
    return DateTime.combine(day, Time.min).replace(tzinfo=UTC)


class _CalendarTimetable(Timetable):
    """Settings shared by the timetables: run hour, business-day calendar, extra holidays.

    Args:
        run_after_hours: Hours after midnight UTC of the run day that the run starts.
        holidays: Closing days on top of the calendar's.
        calendar: A name in `regreport.calendar.CALENDARS`.

    Raises:
        ValueError: `calendar` is not a known calendar.
    """

    def __init__(
        self,
        run_after_hours: int = 6,
        holidays: Iterable[date] = frozenset(),
        *,
        calendar: str = DEFAULT_CALENDAR,
    ) -> None:
        if calendar not in CALENDARS:
            raise ValueError(
                f"unknown calendar {calendar!r}; known calendars: {', '.join(CALENDARS)}"
            )
        self.run_after_hours = run_after_hours
        self.holidays = frozenset(holidays)
        self.calendar = calendar
        self.description = self._describe()

    def _describe(self) -> str:
        raise NotImplementedError

    @cached_property
    def business_calendar(self) -> BusinessCalendar:
        """The calendar's working days, extras from the environment and `holidays` included.

        Built on first use, so parsing a DAG file computes no holidays and reads no variable.
        """
        base = calendar_for(self.calendar)
        return base.with_holidays(self.holidays) if self.holidays else base

    def serialize(self) -> dict[str, Any]:
        """Store the settings in the serialized DAG (the calendar by name)."""
        return {
            "run_after_hours": self.run_after_hours,
            "calendar": self.calendar,
            "holidays": sorted(d.isoformat() for d in self.holidays),
        }

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Self:
        """Rebuild from `serialize` output; a form without "calendar" predates it: TARGET2."""
        return cls(
            run_after_hours=int(data.get("run_after_hours", 6)),
            holidays=frozenset(date.fromisoformat(d) for d in data.get("holidays", [])),
            calendar=data.get("calendar", DEFAULT_CALENDAR),
        )


class BusinessDayTimetable(_CalendarTimetable):
    """One data interval per business day, [D 00:00 UTC, D+1 00:00 UTC).

    Business days are those of `calendar` (TARGET2 by default: no run for Good Friday). The
    run for day D starts `run_after_hours` after the interval ends, once late fills and venue
    confirmations have landed. A manual run for a logical date reports that date's business
    day (or the last business day before it, for a weekend or holiday date), so a compliance
    user triggering "2026-11-20" from the UI gets the trades of 20 November.
    """

    def _describe(self) -> str:
        return f"Business days (Mon-Fri) of the {self.calendar} calendar, UTC"

    @property
    def summary(self) -> str:
        """Shown in the UI's schedule column."""
        return f"{self.calendar} business days, run at D+1 {self.run_after_hours:02d}:00 UTC"

    def _info(self, day: date) -> DagRunInfo:
        interval = DataInterval(start=_midnight(day), end=_midnight(day + timedelta(days=1)))
        return DagRunInfo(
            run_after=interval.end.add(hours=self.run_after_hours), data_interval=interval
        )

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        """The business day of `run_after` (the logical date picked in the UI)."""
        day = self.business_calendar.on_or_before(run_after.in_timezone(UTC).date())
        return DataInterval(start=_midnight(day), end=_midnight(day + timedelta(days=1)))

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        """The business day after the last scheduled one, within the DAG's start/end."""
        if last_automated_data_interval is not None:
            candidate = last_automated_data_interval.start.date() + timedelta(days=1)
        elif restriction.earliest is None:
            return None
        else:
            earliest = restriction.earliest.in_timezone(UTC)
            candidate = earliest.date()
            if earliest.time() != Time.min:
                candidate += timedelta(days=1)
            if not restriction.catchup:
                # Without catchup, start from the latest complete business day.
                today = DateTime.now(UTC).date()
                latest_done = self.business_calendar.on_or_before(today - timedelta(days=1))
                candidate = max(candidate, latest_done)
        info = self._info(self.business_calendar.on_or_after(candidate))
        if restriction.latest is not None and info.data_interval.start > restriction.latest:  # type: ignore[union-attr]
            return None
        return info


class _PeriodTimetable(_CalendarTimetable):
    """One data interval per calendar period of `kind`, run on the next business day.

    The interval is [period start 00:00 UTC, next period start 00:00 UTC). The run starts
    `run_after_hours` into the first business day on or after the period's end, once the
    period's last business day has been built by the daily DAGs. A manual run for a logical
    date reports the period before it if the date is the period's first business day or
    earlier, else the period of the date.
    """

    kind: ClassVar[PeriodKind]
    #: "calendar months", for the UI.
    noun: ClassVar[str]

    def _describe(self) -> str:
        return f"{self.noun.capitalize()}, UTC; run on the next {self.calendar} business day"

    @property
    def summary(self) -> str:
        """Shown in the UI's schedule column."""
        return (
            f"{self.noun}, run on the next {self.calendar} business day "
            f"{self.run_after_hours:02d}:00 UTC"
        )

    def _info(self, period: Period) -> DagRunInfo:
        run_day = self.business_calendar.on_or_after(period.end)
        return DagRunInfo(
            run_after=_midnight(run_day).add(hours=self.run_after_hours),
            data_interval=DataInterval(start=_midnight(period.start), end=_midnight(period.end)),
        )

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        """The period a run on `run_after` reports (see the class docstring)."""
        day = run_after.in_timezone(UTC).date()
        period = period_of(self.kind, day)
        if day <= self.business_calendar.on_or_after(period.start):
            period = period.previous()
        return DataInterval(start=_midnight(period.start), end=_midnight(period.end))

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        """The period after the last scheduled one, within the DAG's start/end."""
        if last_automated_data_interval is not None:
            period = period_of(self.kind, last_automated_data_interval.start.date()).next()
        elif restriction.earliest is None:
            return None
        else:
            earliest = restriction.earliest.in_timezone(UTC).date()
            period = period_of(self.kind, earliest)
            if period.start != earliest:
                period = period.next()
            if not restriction.catchup:
                # Without catchup, start from the last complete period.
                last_done = period_of(self.kind, DateTime.now(UTC).date()).previous()
                period = max(period, last_done, key=lambda p: p.start)
        info = self._info(period)
        if restriction.latest is not None and info.data_interval.start > restriction.latest:  # type: ignore[union-attr]
            return None
        return info


class MonthlyTimetable(_PeriodTimetable):
    """One data interval per calendar month, [1st 00:00 UTC, 1st of the next month 00:00 UTC).

    The run starts `run_after_hours` into the first business day of `calendar` after the
    month ends. A manual run for a logical date reports the calendar month before it if the
    date is the month's first business day or earlier, else the month of the date: triggering
    "2026-12-01" builds November.
    """

    kind = "month"
    noun = "calendar months"


class QuarterlyTimetable(_PeriodTimetable):
    """One data interval per calendar quarter, [1 Jan/Apr/Jul/Oct 00:00 UTC, next quarter start).

    The run starts `run_after_hours` into the first business day of `calendar` after the
    quarter ends: Q4 2026 runs on Monday 4 January 2027 under TARGET2 (1 January is closed,
    2-3 January a weekend). A manual run for a logical date reports the quarter before it if
    the date is the quarter's first business day or earlier, else the quarter of the date.
    """

    kind = "quarter"
    noun = "calendar quarters"
