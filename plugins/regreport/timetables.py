"""Reporting-period timetables.

Airflow 3 gives a bare cron string a zero-width data interval, and `CronDataIntervalTimetable`
cannot express "one interval per business day": a Monday run would cover the weekend too. A
business day is the reporting period of a daily report (MiFIR Art. 26: report by the close of
the following working day), so that is what this timetable schedules.

Registered with Airflow by `plugins/regreport_plugin.py` (Airflow needs the class registered
to deserialize DAGs that use it).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction, Timetable
from pendulum import UTC, DateTime, Time

from regreport.calendar import BusinessCalendar


def is_business_day(day: date, holidays: frozenset[date] = frozenset()) -> bool:
    """Monday to Friday and not a listed holiday (see `regreport.calendar`)."""
    return BusinessCalendar(frozenset(holidays)).is_business_day(day)


def previous_business_day(day: date, holidays: frozenset[date] = frozenset()) -> date:
    """The business day on or before `day`."""
    return BusinessCalendar(frozenset(holidays)).on_or_before(day)


def next_business_day(day: date, holidays: frozenset[date] = frozenset()) -> date:
    """The business day on or after `day`."""
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


class BusinessDayTimetable(Timetable):
    """One data interval per business day, [D 00:00 UTC, D+1 00:00 UTC).

    The run for day D starts `run_after_hours` after the interval ends, once late fills and
    venue confirmations have landed. A manual run for a logical date reports that date's
    business day (or the last business day before it, for a weekend or holiday date), so a
    compliance user triggering "2026-11-20" from the UI gets the trades of 20 November.
    """

    description = "Business days (Mon-Fri), UTC"

    def __init__(self, run_after_hours: int = 6, holidays: frozenset[date] = frozenset()) -> None:
        self.run_after_hours = run_after_hours
        self.holidays = frozenset(holidays)

    @property
    def summary(self) -> str:
        """Shown in the UI's schedule column."""
        return f"business days, run at D+1 {self.run_after_hours:02d}:00 UTC"

    def serialize(self) -> dict[str, Any]:
        """Store the settings in the serialized DAG."""
        return {
            "run_after_hours": self.run_after_hours,
            "holidays": sorted(d.isoformat() for d in self.holidays),
        }

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> BusinessDayTimetable:
        """Rebuild from `serialize` output."""
        return cls(
            run_after_hours=int(data.get("run_after_hours", 6)),
            holidays=frozenset(date.fromisoformat(d) for d in data.get("holidays", [])),
        )

    def _info(self, day: date) -> DagRunInfo:
        start = _midnight(day)
        end = start.add(days=1)
        return DagRunInfo(
            run_after=end.add(hours=self.run_after_hours),
            data_interval=DataInterval(start=start, end=end),
        )

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        """The business day of `run_after` (the logical date picked in the UI)."""
        day = previous_business_day(run_after.in_timezone(UTC).date(), self.holidays)
        info = self._info(day)
        assert info.data_interval is not None  # noqa: S101 - built just above
        return info.data_interval

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
                candidate = max(candidate, previous_business_day(today - timedelta(days=1)))
        day = next_business_day(candidate, self.holidays)
        info = self._info(day)
        if restriction.latest is not None and info.data_interval.start > restriction.latest:  # type: ignore[union-attr]
            return None
        return info


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


class MonthlyTimetable(Timetable):
    """One data interval per calendar month, [1st 00:00 UTC, 1st of the next month 00:00 UTC).

    The run starts `run_after_hours` into the first business day after the month ends, once
    the month's last business day has been built by the daily DAGs. A manual run for a logical
    date reports the calendar month before it if the date is the month's first business day
    or earlier, else the month of the date: triggering "2026-12-01" builds November.
    """

    description = "Calendar months, UTC"

    def __init__(self, run_after_hours: int = 6, holidays: frozenset[date] = frozenset()) -> None:
        self.run_after_hours = run_after_hours
        self.holidays = frozenset(holidays)

    @property
    def summary(self) -> str:
        """Shown in the UI's schedule column."""
        return f"calendar months, run on the next business day {self.run_after_hours:02d}:00 UTC"

    def serialize(self) -> dict[str, Any]:
        """Store the settings in the serialized DAG."""
        return {
            "run_after_hours": self.run_after_hours,
            "holidays": sorted(d.isoformat() for d in self.holidays),
        }

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> MonthlyTimetable:
        """Rebuild from `serialize` output."""
        return cls(
            run_after_hours=int(data.get("run_after_hours", 6)),
            holidays=frozenset(date.fromisoformat(d) for d in data.get("holidays", [])),
        )

    def _info(self, month: date) -> DagRunInfo:
        start, end = _midnight(month), _midnight(_next_month(month))
        run_day = next_business_day(end.date(), self.holidays)
        return DagRunInfo(
            run_after=_midnight(run_day).add(hours=self.run_after_hours),
            data_interval=DataInterval(start=start, end=end),
        )

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        """The month a run on `run_after` reports (see the class docstring)."""
        day = run_after.in_timezone(UTC).date()
        month = _month_start(day)
        if day <= next_business_day(month, self.holidays):
            month = _month_start(month - timedelta(days=1))
        info = self._info(month)
        assert info.data_interval is not None  # noqa: S101 - built just above
        return info.data_interval

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        """The month after the last scheduled one, within the DAG's start/end."""
        if last_automated_data_interval is not None:
            month = _next_month(last_automated_data_interval.start.date())
        elif restriction.earliest is None:
            return None
        else:
            earliest = restriction.earliest.in_timezone(UTC).date()
            month = earliest if earliest.day == 1 else _next_month(earliest)
            if not restriction.catchup:
                # Without catchup, start from the last complete month.
                today = DateTime.now(UTC).date()
                month = max(month, _month_start(_month_start(today) - timedelta(days=1)))
        info = self._info(month)
        if restriction.latest is not None and info.data_interval.start > restriction.latest:  # type: ignore[union-attr]
            return None
        return info
