"""Business-day calendars (TARGET2, US, UK), reporting periods and deadlines.

Every expected date is computed by hand from the published calendars (ECB TARGET closing
days, NYSE holidays, GOV.UK bank holidays), not from the code under test.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from regreport.calendar import (
    CALENDARS,
    EXTRA_HOLIDAYS_ENV,
    BusinessCalendar,
    Period,
    business_days_late,
    calendar_for,
    calendar_from_env,
    day_period,
    deadline_after,
    default_calendar,
    easter_sunday,
    extra_holidays_env,
    month_period,
    parse_holidays,
    period_of,
    periods_between,
    quarter_period,
    t_plus_1_deadline,
    target_holidays,
    uk_holidays,
    us_holidays,
)

pytestmark = pytest.mark.unit

CAL = BusinessCalendar.target(years=range(2024, 2028))


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (2000, date(2000, 4, 23)),
        (2008, date(2008, 3, 23)),
        (2011, date(2011, 4, 24)),
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2027, date(2027, 3, 28)),
        (2038, date(2038, 4, 25)),  # latest possible date
        (2285, date(2285, 3, 22)),  # earliest possible date
    ],
)
def test_easter(year: int, easter: date) -> None:
    assert easter_sunday(year) == easter


def test_target_holidays_2026() -> None:
    assert target_holidays(2026) == {
        date(2026, 1, 1),
        date(2026, 4, 3),  # Good Friday
        date(2026, 4, 6),  # Easter Monday
        date(2026, 5, 1),
        date(2026, 12, 25),
        date(2026, 12, 26),
    }


def test_business_days() -> None:
    # 2026-11-27 Friday, 28/29 weekend; 2026-04-03 Good Friday.
    assert CAL.is_business_day(date(2026, 11, 27))
    assert not CAL.is_business_day(date(2026, 11, 28))
    assert not CAL.is_business_day(date(2026, 4, 3))
    assert CAL.next_business_day(date(2026, 11, 26)) == date(2026, 11, 27)
    assert CAL.next_business_day(date(2026, 11, 27)) == date(2026, 11, 30)
    # Thursday before Easter -> Tuesday after (Good Friday, weekend, Easter Monday closed).
    assert CAL.next_business_day(date(2026, 4, 2)) == date(2026, 4, 7)
    assert CAL.previous_business_day(date(2026, 4, 7)) == date(2026, 4, 2)
    assert CAL.on_or_after(date(2026, 12, 25)) == date(2026, 12, 28)
    assert CAL.on_or_before(date(2026, 12, 27)) == date(2026, 12, 24)
    assert CAL.on_or_after(date(2026, 12, 24)) == date(2026, 12, 24)


def test_add_and_count_business_days() -> None:
    thu = date(2026, 4, 2)
    assert CAL.add_business_days(thu, 0) == thu
    assert CAL.add_business_days(thu, 1) == date(2026, 4, 7)
    assert CAL.add_business_days(thu, 3) == date(2026, 4, 9)
    assert CAL.add_business_days(date(2026, 4, 9), -3) == thu
    # (Thu 2 Apr, Thu 9 Apr]: Tue 7, Wed 8, Thu 9 = 3.
    assert CAL.business_days_between(thu, date(2026, 4, 9)) == 3
    assert CAL.business_days_between(date(2026, 4, 9), thu) == -3
    assert CAL.business_days_between(thu, thu) == 0
    # (Fri 27 Nov, Sun 29 Nov] holds no business day.
    assert CAL.business_days_between(date(2026, 11, 27), date(2026, 11, 29)) == 0


def test_plain_calendar_has_weekends_only() -> None:
    plain = BusinessCalendar()
    assert plain.is_business_day(date(2026, 4, 3))
    assert plain.name == "weekends"


def test_default_and_env_calendars() -> None:
    assert default_calendar(range(2026, 2027)).holidays == target_holidays(2026)
    assert default_calendar().name == "TARGET2"
    assert date(2099, 12, 25) in default_calendar().holidays
    env = {EXTRA_HOLIDAYS_ENV: " 2026-05-14, ,2026-05-25"}
    cal = calendar_from_env(env, years=range(2026, 2027))
    assert cal.name == "TARGET2+env"
    assert cal.holidays == target_holidays(2026) | {date(2026, 5, 14), date(2026, 5, 25)}
    assert not cal.is_business_day(date(2026, 5, 14))
    assert calendar_from_env({}, years=range(2026, 2027)).name == "TARGET2"
    with pytest.raises(ValueError, match="'2026-13-01' is not an ISO date"):
        calendar_from_env({EXTRA_HOLIDAYS_ENV: "2026-13-01"})
    assert parse_holidays(None) == frozenset()


def test_with_holidays_keeps_the_original() -> None:
    extra = CAL.with_holidays([date(2026, 5, 14)], "custom")
    assert extra.name == "custom"
    assert not extra.is_business_day(date(2026, 5, 14))
    assert CAL.is_business_day(date(2026, 5, 14))


def test_deadline_is_close_of_the_next_working_day() -> None:
    # Thursday 26 Nov 2026 -> due by the close of Friday 27: first late instant Sat 00:00.
    assert t_plus_1_deadline(date(2026, 11, 26), CAL) == datetime(2026, 11, 28, tzinfo=UTC)
    # Friday -> Monday's close = Tuesday 00:00.
    friday = t_plus_1_deadline(date(2026, 11, 27), CAL)
    assert friday == datetime(2026, 12, 1, tzinfo=UTC)
    assert friday.tzinfo is not None
    # Saturday (a venue open on Saturdays) -> Monday's close too.
    assert t_plus_1_deadline(date(2026, 11, 28), CAL) == datetime(2026, 12, 1, tzinfo=UTC)
    # Good Friday 2026 (3 Apr) -> Tuesday 7 Apr's close (Easter Monday is closed).
    assert t_plus_1_deadline(date(2026, 4, 3), CAL) == datetime(2026, 4, 8, tzinfo=UTC)
    # Thursday 24 Dec -> 25, 26 closed, weekend -> Monday 28's close.
    assert t_plus_1_deadline(date(2026, 12, 24), CAL) == datetime(2026, 12, 29, tzinfo=UTC)


def test_deadline_in_a_local_time_zone() -> None:
    paris = ZoneInfo("Europe/Paris")
    got = t_plus_1_deadline(date(2026, 11, 26), CAL, tz="Europe/Paris")
    assert got == datetime(2026, 11, 28, tzinfo=paris)
    assert got.utcoffset() is not None
    # Midnight in Paris (UTC+1 in winter) is 23:00 UTC the day before.
    assert got.astimezone(UTC) == datetime(2026, 11, 27, 23, tzinfo=UTC)
    # Summer time: UTC+2.
    summer = t_plus_1_deadline(date(2026, 7, 1), CAL, tz=paris)
    assert summer.astimezone(UTC) == datetime(2026, 7, 2, 22, tzinfo=UTC)


def test_business_days_late() -> None:
    thu = date(2026, 11, 26)  # due by the close of Fri 27 Nov
    assert business_days_late(thu, datetime(2026, 11, 27, 23, 59, tzinfo=UTC), CAL) == 0
    # At the deadline instant is late: Saturday counts from Monday, 1 working day late.
    assert business_days_late(thu, datetime(2026, 11, 28, tzinfo=UTC), CAL) == 1
    assert business_days_late(thu, datetime(2026, 11, 30, 9, tzinfo=UTC), CAL) == 1
    assert business_days_late(thu, datetime(2026, 12, 2, 9, tzinfo=UTC), CAL) == 3


# -- US (NYSE) ------------------------------------------------------------------------------


def test_us_holidays_2026() -> None:
    assert us_holidays(2026) == {
        date(2026, 1, 1),  # New Year's Day, Thursday
        date(2026, 1, 19),  # Martin Luther King Jr. Day, 3rd Monday
        date(2026, 2, 16),  # Washington's Birthday, 3rd Monday
        date(2026, 4, 3),  # Good Friday
        date(2026, 5, 25),  # Memorial Day, last Monday
        date(2026, 6, 19),  # Juneteenth, Friday
        date(2026, 7, 3),  # Independence Day: 4 July is a Saturday, observed Friday
        date(2026, 9, 7),  # Labor Day, 1st Monday
        date(2026, 11, 26),  # Thanksgiving, 4th Thursday
        date(2026, 12, 25),  # Christmas, Friday
    }


def test_us_new_year_on_a_saturday_is_not_observed() -> None:
    # 1 January 2028 is a Saturday: NYSE stays open on Friday 31 December 2027.
    assert date(2027, 12, 31) not in us_holidays(2027)
    assert date(2027, 12, 31) not in us_holidays(2028)
    assert not any(d.month == 1 and d.day <= 3 for d in us_holidays(2028))
    us = calendar_for("US", {})
    assert us.is_business_day(date(2027, 12, 31))
    # 1 January 2023 is a Sunday: closed Monday the 2nd.
    assert date(2023, 1, 2) in us_holidays(2023)


def test_us_weekend_holidays_move_to_the_nearest_weekday_in_2027() -> None:
    holidays = us_holidays(2027)
    assert date(2027, 6, 18) in holidays  # Juneteenth, Saturday -> Friday
    assert date(2027, 7, 5) in holidays  # Independence Day, Sunday -> Monday
    assert date(2027, 12, 24) in holidays  # Christmas, Saturday -> Friday
    assert date(2027, 3, 26) in holidays  # Good Friday (Easter 28 March)


def test_us_juneteenth_from_2022_and_mlk_from_1998() -> None:
    assert not {date(2021, 6, 18), date(2021, 6, 19)} & us_holidays(2021)
    assert date(2022, 6, 20) in us_holidays(2022)  # Sunday 19 June -> Monday 20
    assert date(1997, 1, 20) not in us_holidays(1997)
    assert date(1998, 1, 19) in us_holidays(1998)


# -- UK (England and Wales) -----------------------------------------------------------------


def test_uk_holidays_2026() -> None:
    assert uk_holidays(2026) == {
        date(2026, 1, 1),
        date(2026, 4, 3),  # Good Friday
        date(2026, 4, 6),  # Easter Monday
        date(2026, 5, 4),  # Early May
        date(2026, 5, 25),  # Spring
        date(2026, 8, 31),  # Summer
        date(2026, 12, 25),  # Friday
        date(2026, 12, 28),  # Boxing Day is a Saturday: substitute Monday
    }


def test_uk_christmas_substitute_days() -> None:
    # 2021: Christmas on a Saturday, Boxing Day on a Sunday -> Monday 27 and Tuesday 28.
    christmas_2021 = {d for d in uk_holidays(2021) if d.month == 12}
    assert christmas_2021 == {date(2021, 12, 27), date(2021, 12, 28)}
    # 2022: Christmas on a Sunday -> Boxing Day Monday 26, Christmas substitute Tuesday 27.
    christmas_2022 = {d for d in uk_holidays(2022) if d.month == 12}
    assert christmas_2022 == {date(2022, 12, 26), date(2022, 12, 27)}


def test_uk_new_year_substitute_and_moved_may_holidays() -> None:
    assert date(2022, 1, 3) in uk_holidays(2022)  # Saturday 1 January -> Monday 3
    assert date(2023, 1, 2) in uk_holidays(2023)  # Sunday 1 January -> Monday 2
    # Moved by proclamation: the rule's Monday is a working day, the moved day is not.
    uk = calendar_for("UK", {})
    assert uk.is_business_day(date(2022, 5, 30))
    assert not uk.is_business_day(date(2022, 6, 2))
    assert uk.is_business_day(date(2020, 5, 4))
    assert not uk.is_business_day(date(2020, 5, 8))
    # One-off extra days (the jubilee's 3 June) come from the environment only.
    assert uk.is_business_day(date(2022, 6, 3))
    jubilee = calendar_for("UK", {"REGREPORT_EXTRA_HOLIDAYS_UK": "2022-06-03,2022-09-19"})
    assert not jubilee.is_business_day(date(2022, 6, 3))
    assert not jubilee.is_business_day(date(2022, 9, 19))


# -- Named calendars and the environment -----------------------------------------------------


def test_named_calendars() -> None:
    assert set(CALENDARS) == {"TARGET2", "US", "UK", "WEEKENDS"}
    years = range(2026, 2027)
    assert calendar_for("TARGET2", {}, years).holidays == target_holidays(2026)
    assert calendar_for("US", {}, years) == BusinessCalendar(us_holidays(2026), "US")
    assert calendar_for("UK", {}, years) == BusinessCalendar(uk_holidays(2026), "UK")
    assert calendar_for("WEEKENDS", {}).holidays == frozenset()
    # Easter Monday: closed for TARGET2 and the UK, open in New York.
    easter_monday = date(2026, 4, 6)
    assert not calendar_for("TARGET2", {}).is_business_day(easter_monday)
    assert not calendar_for("UK", {}).is_business_day(easter_monday)
    assert calendar_for("US", {}).is_business_day(easter_monday)


def test_base_calendars_are_computed_once() -> None:
    assert calendar_for("US", {}) is calendar_for("US", {})
    assert default_calendar() is calendar_for("TARGET2", {})


def test_env_extras_apply_to_their_own_calendar() -> None:
    assert extra_holidays_env("US") == "REGREPORT_EXTRA_HOLIDAYS_US"
    env = {
        "REGREPORT_EXTRA_HOLIDAYS_US": "2025-01-09",
        "REGREPORT_EXTRA_HOLIDAYS_UK": "2023-05-08",
        EXTRA_HOLIDAYS_ENV: "2026-05-14",
    }
    us = calendar_for("US", env)
    assert us.name == "US+env"
    assert not us.is_business_day(date(2025, 1, 9))
    assert us.is_business_day(date(2023, 5, 8))
    # The legacy variable belongs to TARGET2 only.
    assert us.is_business_day(date(2026, 5, 14))
    uk = calendar_for("UK", env)
    assert uk.name == "UK+env"
    assert not uk.is_business_day(date(2023, 5, 8))
    assert uk.is_business_day(date(2025, 1, 9))
    target = calendar_for("TARGET2", env)
    assert target.name == "TARGET2+env"
    assert not target.is_business_day(date(2026, 5, 14))
    assert target.is_business_day(date(2025, 1, 9))
    both = calendar_for(
        "TARGET2",
        {EXTRA_HOLIDAYS_ENV: "2026-05-14", "REGREPORT_EXTRA_HOLIDAYS_TARGET2": "2026-05-25"},
    )
    assert {date(2026, 5, 14), date(2026, 5, 25)} <= both.holidays
    assert calendar_for("US", {"REGREPORT_EXTRA_HOLIDAYS_US": " , "}).name == "US"
    with pytest.raises(ValueError, match="REGREPORT_EXTRA_HOLIDAYS_US: '2025-02-30' is not"):
        calendar_for("US", {"REGREPORT_EXTRA_HOLIDAYS_US": "2025-02-30"})


@pytest.mark.parametrize(
    "env",
    [
        {},
        {EXTRA_HOLIDAYS_ENV: "2026-05-14"},
        {"REGREPORT_EXTRA_HOLIDAYS_TARGET2": "2026-05-25"},
        {"REGREPORT_EXTRA_HOLIDAYS_US": "2026-05-14"},
    ],
)
def test_calendar_from_env_is_calendar_for_target2(env: dict[str, str]) -> None:
    assert calendar_from_env(env) == calendar_for("TARGET2", env)


def test_calendar_for_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGREPORT_EXTRA_HOLIDAYS_US", "2026-11-27")
    assert not calendar_for("US").is_business_day(date(2026, 11, 27))


def test_unknown_calendar() -> None:
    with pytest.raises(
        ValueError, match="unknown calendar 'NYSE'; known calendars: TARGET2, US, UK"
    ):
        calendar_for("NYSE", {})


# -- Reporting periods ------------------------------------------------------------------------


def test_period_labels_and_bounds() -> None:
    day = date(2026, 11, 27)
    assert day_period(day) == Period("day", day, date(2026, 11, 28))
    assert day_period(day).label == "2026-11-27"
    assert month_period(day) == Period("month", date(2026, 11, 1), date(2026, 12, 1))
    assert month_period(day).label == "2026-11"
    assert quarter_period(day) == Period("quarter", date(2026, 10, 1), date(2027, 1, 1))
    assert quarter_period(day).label == "2026-Q4"
    assert quarter_period(day).last_day == date(2026, 12, 31)
    assert period_of("month", day) == month_period(day)


@pytest.mark.parametrize(
    ("day", "start", "end", "label"),
    [
        (date(2026, 1, 1), date(2026, 1, 1), date(2026, 4, 1), "2026-Q1"),
        (date(2026, 3, 31), date(2026, 1, 1), date(2026, 4, 1), "2026-Q1"),
        (date(2026, 4, 1), date(2026, 4, 1), date(2026, 7, 1), "2026-Q2"),
        (date(2026, 9, 30), date(2026, 7, 1), date(2026, 10, 1), "2026-Q3"),
        (date(2026, 10, 1), date(2026, 10, 1), date(2027, 1, 1), "2026-Q4"),
    ],
)
def test_quarter_boundaries(day: date, start: date, end: date, label: str) -> None:
    period = quarter_period(day)
    assert (period.start, period.end, period.label) == (start, end, label)


def test_period_next_and_previous() -> None:
    q4 = quarter_period(date(2026, 11, 27))
    assert q4.next() == Period("quarter", date(2027, 1, 1), date(2027, 4, 1))
    assert q4.next().label == "2027-Q1"
    assert q4.next().previous() == q4
    assert quarter_period(date(2026, 2, 1)).previous().label == "2025-Q4"
    december = month_period(date(2026, 12, 5))
    assert december.next() == Period("month", date(2027, 1, 1), date(2027, 2, 1))
    assert month_period(date(2026, 1, 31)).previous().label == "2025-12"
    assert month_period(date(2024, 2, 10)).end == date(2024, 3, 1)
    friday = day_period(date(2026, 11, 27))
    assert friday.next().label == "2026-11-28"  # calendar days, not business days
    assert friday.previous().label == "2026-11-26"


def test_invalid_periods() -> None:
    with pytest.raises(ValueError, match="is not a month period"):
        Period("month", date(2026, 11, 2), date(2026, 12, 1))
    with pytest.raises(ValueError, match="is not a quarter period"):
        Period("quarter", date(2026, 11, 1), date(2026, 12, 1))
    with pytest.raises(ValueError, match="unknown period kind 'week'"):
        period_of("week", date(2026, 11, 27))  # type: ignore[arg-type]


def test_periods_between() -> None:
    months = list(periods_between("month", date(2026, 1, 15), date(2026, 4, 1)))
    assert [p.label for p in months] == ["2026-02", "2026-03"]
    quarters = periods_between("quarter", date(2026, 1, 1), date(2027, 1, 1))
    assert [p.label for p in quarters] == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
    assert list(periods_between("quarter", date(2026, 1, 1), date(2026, 1, 1))) == []
    # Easter 2026: Good Friday and Easter Monday are TARGET2 closing days.
    days = periods_between("day", date(2026, 4, 1), date(2026, 4, 8), CAL)
    assert [p.label for p in days] == ["2026-04-01", "2026-04-02", "2026-04-07"]
    every_day = list(periods_between("day", date(2026, 4, 1), date(2026, 4, 8)))
    assert len(every_day) == 7
    # The calendar only filters days.
    assert len(list(periods_between("month", date(2026, 4, 1), date(2026, 5, 1), CAL))) == 1


# -- Deadlines --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 11, 26),
        date(2026, 11, 27),
        date(2026, 11, 28),
        date(2026, 4, 2),
        date(2026, 12, 24),
    ],
)
def test_t_plus_1_is_one_business_day_after(day: date) -> None:
    assert t_plus_1_deadline(day, CAL) == deadline_after(day, 1, CAL)
    paris = "Europe/Paris"
    assert t_plus_1_deadline(day, CAL, paris) == deadline_after(day, 1, CAL, paris)


def test_deadline_after_a_period() -> None:
    # November 2026 ends on Monday 30; one business day after is Tuesday 1 December.
    november = month_period(date(2026, 11, 1))
    assert deadline_after(november.last_day, 1, CAL) == datetime(2026, 12, 2, tzinfo=UTC)
    # Q4 2026 ends on Thursday 31 December; 1 January is closed, 2-3 a weekend: Monday 4.
    q4 = quarter_period(date(2026, 12, 1))
    assert deadline_after(q4.last_day, 1, CAL) == datetime(2027, 1, 5, tzinfo=UTC)
    # Ten business days: 4, 5, 6, 7, 8, 11, 12, 13, 14, 15 January -> close of Friday 15.
    assert deadline_after(q4.last_day, 10, CAL) == datetime(2027, 1, 16, tzinfo=UTC)
    # Zero: the close of the last day itself, or of the next business day.
    assert deadline_after(date(2026, 11, 30), 0, CAL) == datetime(2026, 12, 1, tzinfo=UTC)
    assert deadline_after(date(2026, 11, 28), 0, CAL) == datetime(2026, 12, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="business_days must be 0 or more"):
        deadline_after(date(2026, 11, 30), -1, CAL)


def test_deadline_after_depends_on_the_calendar() -> None:
    wednesday = date(2026, 11, 25)  # the day before Thanksgiving
    us = calendar_for("US", {})
    assert deadline_after(wednesday, 1, CAL) == datetime(2026, 11, 27, tzinfo=UTC)
    assert deadline_after(wednesday, 1, us) == datetime(2026, 11, 28, tzinfo=UTC)
    new_york = ZoneInfo("America/New_York")
    assert deadline_after(wednesday, 1, us, new_york) == datetime(2026, 11, 28, tzinfo=new_york)
