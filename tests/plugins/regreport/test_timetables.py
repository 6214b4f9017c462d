"""BusinessDayTimetable (one UTC business day per run), MonthlyTimetable, QuarterlyTimetable.

Business days are those of the timetable's named calendar (TARGET2 unless given).
"""

from __future__ import annotations

from datetime import date

import pendulum
import pytest
from airflow.timetables.base import DataInterval, TimeRestriction

from regreport import timetables
from regreport.timetables import (
    BusinessDayTimetable,
    MonthlyTimetable,
    QuarterlyTimetable,
    is_business_day,
    next_business_day,
    previous_business_day,
    report_period,
)

pytestmark = pytest.mark.unit
UTC = pendulum.UTC


def _day(y: int, m: int, d: int) -> pendulum.DateTime:
    return pendulum.datetime(y, m, d, tz=UTC)


@pytest.fixture(autouse=True)
def _no_extra_holidays(monkeypatch: pytest.MonkeyPatch) -> None:
    """The calendars read extra closing days from the environment: start from none."""
    for name in ("", "_TARGET2", "_US", "_UK", "_WEEKENDS"):
        monkeypatch.delenv(f"REGREPORT_EXTRA_HOLIDAYS{name}", raising=False)


def _frozen_now(monkeypatch: pytest.MonkeyPatch, now: pendulum.DateTime) -> None:
    """Make the timetables' `DateTime.now` return `now` (for the no-catchup start)."""

    class Frozen(pendulum.DateTime):
        @classmethod
        def now(cls, tz: object = None) -> pendulum.DateTime:
            return now

    monkeypatch.setattr(timetables, "DateTime", Frozen)


def _after(tt, interval: DataInterval, restriction: TimeRestriction):
    info = tt.next_dagrun_info(last_automated_data_interval=interval, restriction=restriction)
    assert info is not None
    return info


CATCHUP = TimeRestriction(earliest=_day(2026, 1, 1), latest=None, catchup=True)


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


# -- Calendars --------------------------------------------------------------------------------


def test_good_friday_and_easter_monday_are_skipped() -> None:
    tt = BusinessDayTimetable(run_after_hours=6)
    thursday = DataInterval(_day(2026, 4, 2), _day(2026, 4, 3))
    info = _after(tt, thursday, CATCHUP)
    # Good Friday 3 April, the weekend and Easter Monday 6 April are TARGET2 closing days.
    assert info.data_interval == DataInterval(_day(2026, 4, 7), _day(2026, 4, 8))
    assert info.run_after == pendulum.datetime(2026, 4, 8, 6, tz=UTC)
    # A DAG starting on Good Friday starts on Tuesday too.
    start = TimeRestriction(earliest=_day(2026, 4, 3), latest=None, catchup=True)
    first = tt.next_dagrun_info(last_automated_data_interval=None, restriction=start)
    assert first is not None
    assert first.data_interval == DataInterval(_day(2026, 4, 7), _day(2026, 4, 8))
    # A manual run for Good Friday reports Thursday.
    interval = tt.infer_manual_data_interval(run_after=_day(2026, 4, 3))
    assert interval == DataInterval(_day(2026, 4, 2), _day(2026, 4, 3))


def test_us_calendar_skips_thanksgiving() -> None:
    wednesday = DataInterval(_day(2026, 11, 25), _day(2026, 11, 26))
    us = BusinessDayTimetable(calendar="US")
    assert _after(us, wednesday, CATCHUP).data_interval == DataInterval(
        _day(2026, 11, 27), _day(2026, 11, 28)
    )
    assert us.infer_manual_data_interval(run_after=_day(2026, 11, 26)) == wednesday
    # TARGET2 works on Thanksgiving, and the US on Easter Monday.
    target = BusinessDayTimetable()
    assert _after(target, wednesday, CATCHUP).data_interval.start == _day(2026, 11, 26)
    thursday = DataInterval(_day(2026, 4, 2), _day(2026, 4, 3))
    assert _after(us, thursday, CATCHUP).data_interval.start == _day(2026, 4, 6)


def test_explicit_holidays_add_to_the_calendar() -> None:
    tt = BusinessDayTimetable(holidays=frozenset({date(2026, 5, 14)}))
    wednesday = DataInterval(_day(2026, 5, 13), _day(2026, 5, 14))
    assert _after(tt, wednesday, CATCHUP).data_interval.start == _day(2026, 5, 15)
    assert not tt.business_calendar.is_business_day(date(2026, 4, 3))  # TARGET2 still applies
    weekdays = BusinessDayTimetable(calendar="WEEKENDS")
    thursday = DataInterval(_day(2026, 4, 2), _day(2026, 4, 3))
    assert _after(weekdays, thursday, CATCHUP).data_interval.start == _day(2026, 4, 3)


def test_calendar_is_resolved_lazily_with_the_env_extras(monkeypatch: pytest.MonkeyPatch) -> None:
    tt = BusinessDayTimetable(calendar="US")  # as when the DAG file is parsed
    assert "business_calendar" not in vars(tt)
    monkeypatch.setenv("REGREPORT_EXTRA_HOLIDAYS_US", "2026-11-27")
    wednesday = DataInterval(_day(2026, 11, 25), _day(2026, 11, 26))
    # Thanksgiving, then the extra Friday, then the weekend.
    assert _after(tt, wednesday, CATCHUP).data_interval.start == _day(2026, 11, 30)
    assert tt.business_calendar.name == "US+env"


def test_unknown_calendar_fails_when_the_dag_is_parsed() -> None:
    with pytest.raises(ValueError, match="unknown calendar 'NYSE'"):
        BusinessDayTimetable(calendar="NYSE")
    with pytest.raises(ValueError, match="known calendars: TARGET2, US, UK"):
        QuarterlyTimetable(calendar="EU")


def test_no_catchup_starts_from_the_latest_complete_business_day(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Tuesday after Easter: the latest complete TARGET2 business day is Thursday 2 April.
    _frozen_now(monkeypatch, pendulum.datetime(2026, 4, 7, 9, tz=UTC))
    restriction = TimeRestriction(earliest=_day(2026, 1, 1), latest=None, catchup=False)
    info = BusinessDayTimetable().next_dagrun_info(
        last_automated_data_interval=None, restriction=restriction
    )
    assert info is not None
    assert info.data_interval == DataInterval(_day(2026, 4, 2), _day(2026, 4, 3))
    quarterly = QuarterlyTimetable().next_dagrun_info(
        last_automated_data_interval=None, restriction=restriction
    )
    assert quarterly is not None
    assert quarterly.data_interval == DataInterval(_day(2026, 1, 1), _day(2026, 4, 1))


def test_summary_and_description_name_the_calendar() -> None:
    assert BusinessDayTimetable(run_after_hours=2, calendar="US").summary == (
        "US business days, run at D+1 02:00 UTC"
    )
    assert "TARGET2" in BusinessDayTimetable().description
    assert MonthlyTimetable().summary == (
        "calendar months, run on the next TARGET2 business day 06:00 UTC"
    )
    assert QuarterlyTimetable(calendar="UK").description == (
        "Calendar quarters, UTC; run on the next UK business day"
    )


# -- Quarterly --------------------------------------------------------------------------------


def test_quarterly_intervals_and_run_after() -> None:
    tt = QuarterlyTimetable(run_after_hours=6)
    q1 = tt.next_dagrun_info(last_automated_data_interval=None, restriction=CATCHUP)
    assert q1 is not None
    assert q1.data_interval == DataInterval(_day(2026, 1, 1), _day(2026, 4, 1))
    assert q1.run_after == pendulum.datetime(2026, 4, 1, 6, tz=UTC)  # Wednesday
    q2 = _after(tt, q1.data_interval, CATCHUP)
    assert q2.data_interval == DataInterval(_day(2026, 4, 1), _day(2026, 7, 1))
    assert q2.run_after == pendulum.datetime(2026, 7, 1, 6, tz=UTC)
    q3 = _after(tt, q2.data_interval, CATCHUP)
    assert q3.data_interval == DataInterval(_day(2026, 7, 1), _day(2026, 10, 1))
    q4 = _after(tt, q3.data_interval, CATCHUP)
    assert q4.data_interval == DataInterval(_day(2026, 10, 1), _day(2027, 1, 1))
    # 1 January 2027 is a holiday and 2-3 January the weekend: Monday the 4th.
    assert q4.run_after == pendulum.datetime(2027, 1, 4, 6, tz=UTC)
    next_q1 = _after(tt, q4.data_interval, CATCHUP)
    assert next_q1.data_interval == DataInterval(_day(2027, 1, 1), _day(2027, 4, 1))


def test_quarterly_starts_with_the_first_whole_quarter_and_stops_at_the_end_date() -> None:
    tt = QuarterlyTimetable()
    mid_q1 = TimeRestriction(earliest=_day(2026, 2, 10), latest=_day(2026, 6, 30), catchup=True)
    first = tt.next_dagrun_info(last_automated_data_interval=None, restriction=mid_q1)
    assert first is not None
    assert first.data_interval == DataInterval(_day(2026, 4, 1), _day(2026, 7, 1))
    assert (
        tt.next_dagrun_info(last_automated_data_interval=first.data_interval, restriction=mid_q1)
        is None
    )
    no_start = TimeRestriction(earliest=None, latest=None, catchup=True)
    assert tt.next_dagrun_info(last_automated_data_interval=None, restriction=no_start) is None


@pytest.mark.parametrize(
    ("run_after", "start", "end"),
    [
        # On or before the quarter's first business day: the quarter before.
        (_day(2026, 4, 1), _day(2026, 1, 1), _day(2026, 4, 1)),
        (pendulum.datetime(2026, 4, 1, 23, tz=UTC), _day(2026, 1, 1), _day(2026, 4, 1)),
        (_day(2026, 4, 2), _day(2026, 4, 1), _day(2026, 7, 1)),
        (_day(2026, 11, 26), _day(2026, 10, 1), _day(2027, 1, 1)),
        # 4 January is Q1 2027's first TARGET2 business day.
        (_day(2027, 1, 1), _day(2026, 10, 1), _day(2027, 1, 1)),
        (_day(2027, 1, 4), _day(2026, 10, 1), _day(2027, 1, 1)),
        (_day(2027, 1, 5), _day(2027, 1, 1), _day(2027, 4, 1)),
    ],
)
def test_quarterly_manual_run(
    run_after: pendulum.DateTime, start: pendulum.DateTime, end: pendulum.DateTime
) -> None:
    assert QuarterlyTimetable().infer_manual_data_interval(run_after=run_after) == DataInterval(
        start, end
    )


def test_monthly_waits_for_the_calendar_holiday() -> None:
    # December 2026 ends on Friday 1 January 2027, a TARGET2 holiday: no holidays= needed.
    november = DataInterval(_day(2026, 11, 1), _day(2026, 12, 1))
    december = _after(MonthlyTimetable(), november, CATCHUP)
    assert december.data_interval == DataInterval(_day(2026, 12, 1), _day(2027, 1, 1))
    assert december.run_after == pendulum.datetime(2027, 1, 4, 6, tz=UTC)
    # Manual run on Monday 4 January 2027 (January's first business day) builds December.
    interval = MonthlyTimetable().infer_manual_data_interval(run_after=_day(2027, 1, 4))
    assert interval == december.data_interval


# -- Serialization ----------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [BusinessDayTimetable, MonthlyTimetable, QuarterlyTimetable])
def test_serialization_round_trips_the_calendar(cls) -> None:
    tt = cls(run_after_hours=4, holidays=frozenset({date(2026, 5, 14)}), calendar="US")
    data = tt.serialize()
    assert data == {"run_after_hours": 4, "calendar": "US", "holidays": ["2026-05-14"]}
    again = cls.deserialize(data)
    assert type(again) is cls
    assert (again.run_after_hours, again.calendar, again.holidays) == (
        4,
        "US",
        frozenset({date(2026, 5, 14)}),
    )
    assert again.serialize() == data
    assert cls.deserialize(cls().serialize()).calendar == "TARGET2"


@pytest.mark.parametrize("cls", [BusinessDayTimetable, MonthlyTimetable])
def test_the_old_serialized_form_is_target2(cls) -> None:
    old = cls.deserialize({"run_after_hours": 6, "holidays": ["2026-05-14"]})
    assert old.calendar == "TARGET2"
    assert old.holidays == frozenset({date(2026, 5, 14)})
    assert not old.business_calendar.is_business_day(date(2026, 4, 3))  # Good Friday
    assert not old.business_calendar.is_business_day(date(2026, 5, 14))
    assert cls.deserialize({}).run_after_hours == 6


def test_airflow_serialization_finds_the_registered_timetables() -> None:
    from airflow.serialization.decoders import decode_timetable
    from airflow.serialization.encoders import encode_timetable

    for tt in (BusinessDayTimetable(calendar="UK"), QuarterlyTimetable(run_after_hours=3)):
        again = decode_timetable(encode_timetable(tt))
        assert type(again) is type(tt)
        assert again.serialize() == tt.serialize()
