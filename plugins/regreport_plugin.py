"""Registers RegReport's timetables with Airflow (needed to deserialize DAGs that use them).

Operators and hooks are plain modules of the `regreport` package and need no registration.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from regreport.timetables import BusinessDayTimetable, MonthlyTimetable, QuarterlyTimetable


class RegReportPlugin(AirflowPlugin):
    """Airflow plugin for the `regreport` package."""

    name = "regreport"
    timetables = [BusinessDayTimetable, MonthlyTimetable, QuarterlyTimetable]  # noqa: RUF012 - Airflow's plugin API is a class attribute
