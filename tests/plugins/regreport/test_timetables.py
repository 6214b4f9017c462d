"""BusinessDayTimetable (one UTC business day per run, weekends skipped) and MonthlyTimetable."""

from __future__ import annotations

from datetime import date

import pendulum
import pytest
from airflow.timetables.base import DataInterval, TimeRestriction

from regreport.timetables import (
    BusinessDayTimetable,
    MonthlyTimetable,
    is_business_day,
    next_business_day,
    previous_business_day,
    report_period,
)

pytestmark = pytest.mark.unit
UTC = pendulum.UTC


def _day(y: int, m: int, d: int) -> pendulum.DateTime:
    return pendulum.datetime(y, m, d, tz=UTC)


def test_business_day_helpers() -> None:
    # 2026-11-27 is a Friday, 28/29 the weekend.
    assert is_business_day(date(2026, 11, 27))
    assert not is_business_day(date(2026, 11, 28))
    assert previous_business_day(date(2026, 11, 29)) == date(2026, 11, 27)
    assert next_business_day(date(2026, 11, 28)) == date(2026, 11, 30)
    holiday = frozenset({date(2026, 12, 25)})
    assert next_business_day(date(2026, 12, 25), holiday) == date(2026, 12, 28)


def test_manual_run_reports_the_chosen_day() -> None:
    tt = BusinessDayTimetable()
    interval = tt.infer_manual_data_interval(run_after=pendulum.datetime(2026, 11, 26, 15, tz=UTC))
    assert interval == DataInterval(_day(2026, 11, 26), _day(2026, 11, 27))


def test_manual_run_on_a_weekend_reports_friday() -> None:
    tt = BusinessDayTimetable()
    interval = tt.infer_manual_data_interval(run_after=_day(2026, 11, 29))
    assert interval == DataInterval(_day(2026, 11, 27), _day(2026, 11, 28))


def test_scheduled_runs_skip_the_weekend_and_run_next_morning() -> None:
    tt = BusinessDayTimetable(run_after_hours=6)
    restriction = TimeRestriction(earliest=_day(2026, 11, 26), latest=None, catchup=True)
    first = tt.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    assert first is not None
    assert first.data_interval == DataInterval(_day(2026, 11, 26), _day(2026, 11, 27))
    assert first.run_after == pendulum.datetime(2026, 11, 27, 6, tz=UTC)
    friday = tt.next_dagrun_info(
        last_automated_data_interval=first.data_interval, restriction=restriction
    )
    assert friday is not None
    assert friday.data_interval.start == _day(2026, 11, 27)
    monday = tt.next_dagrun_info(
        last_automated_data_interval=friday.data_interval, restriction=restriction
    )
    assert monday is not None
    assert monday.data_interval == DataInterval(_day(2026, 11, 30), _day(2026, 12, 1))


def test_schedule_stops_at_end_date() -> None:
    tt = BusinessDayTimetable()
    restriction = TimeRestriction(
        earliest=_day(2026, 11, 26), latest=_day(2026, 11, 26), catchup=True
    )
    first = tt.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    assert first is not None
    after = tt.next_dagrun_info(
        last_automated_data_interval=first.data_interval, restriction=restriction
    )
    assert after is None


def test_serialization_round_trip() -> None:
    tt = BusinessDayTimetable(run_after_hours=5, holidays=frozenset({date(2026, 12, 25)}))
    again = BusinessDayTimetable.deserialize(tt.serialize())
    assert again.run_after_hours == 5
    assert again.holidays == frozenset({date(2026, 12, 25)})


def test_report_period_prefers_the_report_date() -> None:
    start, end = report_period("2026-11-20", _day(2026, 11, 26), _day(2026, 11, 27))
    assert (start, end) == (_day(2026, 11, 20), _day(2026, 11, 21))
    assert report_period(None, _day(2026, 11, 26), _day(2026, 11, 27)) == (
        _day(2026, 11, 26),
        _day(2026, 11, 27),
    )
    with pytest.raises(ValueError, match="report_date"):
        report_period(None, None, None)


def test_monthly_runs_cover_calendar_months_and_start_on_the_next_business_day() -> None:
    tt = MonthlyTimetable(run_after_hours=4)
    restriction = TimeRestriction(earliest=_day(2026, 10, 15), latest=None, catchup=True)
    first = tt.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    assert first is not None
    # The first whole month after the start date; it ends on Tuesday 1 December, a business
    # day, so the run starts then.
    assert first.data_interval == DataInterval(_day(2026, 11, 1), _day(2026, 12, 1))
    assert first.run_after == pendulum.datetime(2026, 12, 1, 4, tz=UTC)
    december = tt.next_dagrun_info(
        last_automated_data_interval=first.data_interval, restriction=restriction
    )
    assert december is not None
    assert december.data_interval == DataInterval(_day(2026, 12, 1), _day(2027, 1, 1))
    # December ends on Friday 1 January 2027; with it listed as a holiday the run waits for
    # Monday the 4th.
    holidays = MonthlyTimetable(holidays=frozenset({date(2027, 1, 1)}))
    info = holidays.next_dagrun_info(
        last_automated_data_interval=first.data_interval, restriction=restriction
    )
    assert info is not None
    assert info.run_after == pendulum.datetime(2027, 1, 4, 6, tz=UTC)


def test_monthly_manual_run_reports_the_month_before_on_its_first_business_day() -> None:
    tt = MonthlyTimetable()
    november = DataInterval(_day(2026, 11, 1), _day(2026, 12, 1))
    assert tt.infer_manual_data_interval(run_after=_day(2026, 12, 1)) == november
    assert tt.infer_manual_data_interval(run_after=_day(2026, 11, 20)) == november
    again = MonthlyTimetable.deserialize(MonthlyTimetable(run_after_hours=3).serialize())
    assert again.run_after_hours == 3
