"""Filing deadlines per report, and the check that raises an alert when one is missed.

Each report type has a `DeadlineRule`: its period (day, month, quarter), the business-day
calendar of its jurisdiction, and when it is due. `check` walks every period whose deadline
has passed in a look-back window and returns an `Alert` for each period that:

- was **not submitted** by its deadline: nothing on file (or, for a report filed with a
  regulator, nothing uploaded) before the deadline, unless a run of the period finished before
  the deadline with nothing to file (a day without trades), which `regreport.runlog` records;
- was submitted but **not accepted** by its deadline (regulator reports): some records were
  rejected, or are still pending or unanswered, or were accepted only after the deadline.

The monitor DAG (`report_deadlines_monitor`) calls `check` every 15 minutes and hands the
alerts to `regreport.alerts.raise_alert`, which sends each one once per channel.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Literal

from regreport import registry, runlog
from regreport.alerts import Alert, AlertKind
from regreport.calendar import (
    BusinessCalendar,
    Period,
    calendar_for,
    close_of_day,
    deadline_after,
    periods_between,
)
from regreport.config import REPORT_TYPE_MIFIR

if TYPE_CHECKING:
    import psycopg

#: How far back the monitor looks, in calendar days (a breach older than that was alerted
#: already, or predates the monitor).
LOOKBACK_ENV = "REGREPORT_DEADLINE_LOOKBACK_DAYS"
DEFAULT_LOOKBACK_DAYS = 10
#: The first day the platform files for (ISO date): no alert for periods before it.
REPORTING_START_ENV = "REGREPORT_REPORTING_START"
#: The longest a period may take, from its first day, to fall due: a quarter and a month.
LONGEST_DUE_DAYS = 92 + 31
#: The time zone whose midnight closes a working day (the NCA's), as for the MI.
TZ_ENV = "REGREPORT_REPORTING_TZ"


@dataclass(frozen=True)
class DeadlineRule:
    """When a report type is due.

    Attributes:
        report: Report type, as in ``regreport.report_registry``.
        title: For people.
        period: "day", "month" or "quarter".
        calendar: Business-day calendar of the jurisdiction, for the deadline
            (`regreport.calendar.CALENDARS`).
        periods_on: Calendar of the days that are periods of a daily report: every weekday by
            default, as the daily DAGs run, since a venue may trade on a holiday of
            `calendar` and those trades are reportable too.
        business_days: Due by the close of the n-th business day after the period's last day
            (ignored when `months_after` is set).
        months_after: Due by the close of the last calendar day of the n-th month after the
            period (Rule 605 and 606: "within one month after the end of the month/quarter").
        regulator: Filed with a regulator (submitted, then accepted or rejected), as opposed
            to kept on file (archived books and records).
        done_steps: Tasks whose success for the period proves it was run to the end (the
            "nothing to file" evidence).
        basis: The rule the deadline comes from.
    """

    report: str
    title: str
    period: Literal["day", "month", "quarter"]
    calendar: str
    periods_on: str = "WEEKENDS"
    business_days: int = 1
    months_after: int | None = None
    regulator: bool = False
    done_steps: tuple[str, ...] = ()
    basis: str = ""

    def deadline(self, period: Period, calendar: BusinessCalendar, tz: str = "UTC") -> datetime:
        """The first instant at which the period's report is late."""
        if self.months_after is not None:
            due = _add_months(period.end, self.months_after) - timedelta(days=1)
            return close_of_day(due, tz)
        return deadline_after(period.last_day, self.business_days, calendar, tz)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1) if day.day == 1 else day


RULES: dict[str, DeadlineRule] = {
    rule.report: rule
    for rule in (
        DeadlineRule(
            REPORT_TYPE_MIFIR,
            "MiFIR transaction report",
            "day",
            "TARGET2",
            business_days=1,
            regulator=True,
            done_steps=("register_report",),
            basis="MiFIR Art. 26(1): no later than the close of the following working day",
        ),
        *(
            DeadlineRule(
                report,
                title,
                "day",
                "US",
                business_days=1,
                done_steps=(f"register_{report}",),
                basis="SEC 17a-3: books and records kept current (next business day)",
            )
            for report, title in (
                ("positions", "Positions"),
                ("daily_trading", "Daily trading blotter"),
                ("large_trader_daily", "Large trader (daily)"),
                ("risk_limits", "Risk limits (daily)"),
            )
        ),
        DeadlineRule(
            "large_trader_monthly",
            "Large trader (monthly)",
            "month",
            "US",
            business_days=10,
            done_steps=("register_large_trader_monthly",),
            basis="SEC 13h-1: Form 13H within 10 days of first reaching the level",
        ),
        DeadlineRule(
            "execution_quality",
            "Execution quality (monthly, Rule 605)",
            "month",
            "US",
            months_after=1,
            done_steps=("register_execution_quality",),
            basis="SEC Rule 605: within one month after the end of the month",
        ),
        DeadlineRule(
            "execution_quality_quarterly",
            "Execution quality (quarterly best-execution review)",
            "quarter",
            "US",
            months_after=1,
            done_steps=("register_execution_quality_quarterly",),
            basis="FINRA Rule 5310.09: regular and rigorous review, at least quarterly",
        ),
    )
}


@dataclass(frozen=True)
class PeriodStatus:
    """What the check found for one period (kept for the CLI's table)."""

    rule: DeadlineRule
    period: Period
    deadline: datetime
    state: str  # ON_TIME, NOTHING_TO_FILE, NOT_SUBMITTED, NOT_ACCEPTED, OPEN
    detail: str
    alert: Alert | None = None


def window(
    now: datetime, environ: Mapping[str, str] | None = None, since: date | None = None
) -> date:
    """First day of the look-back window: `since`, or now - lookback, not before the start.

    By default the window is on deadlines (periods that fell due in it); an explicit `since`
    is the first period to check.
    """
    env = os.environ if environ is None else environ
    if since is None:
        days = int(env.get(LOOKBACK_ENV) or DEFAULT_LOOKBACK_DAYS)
        if days <= 0:
            raise ValueError(f"{LOOKBACK_ENV} must be a positive number of days, got {days}")
        since = now.astimezone(UTC).date() - timedelta(days=days)
    start = env.get(REPORTING_START_ENV)
    if start:
        try:
            since = max(since, date.fromisoformat(start))
        except ValueError as exc:
            raise ValueError(f"{REPORTING_START_ENV}: {start!r} is not an ISO date") from exc
    return since


def check(
    conn: psycopg.Connection[Any],
    now: datetime,
    *,
    since: date | None = None,
    rules: Iterable[DeadlineRule] | None = None,
    environ: Mapping[str, str] | None = None,
    include_open: bool = False,
) -> list[PeriodStatus]:
    """The status of every period in the window whose deadline is at or before `now`.

    Args:
        conn: Warehouse connection (read only).
        now: The "as of" instant (timezone-aware).
        since: First day of the window (default: `window`).
        rules: Report types to check (default: all of `RULES`).
        environ: For calendars' extra holidays, the window and the time zone.
        include_open: Also list periods whose deadline has not passed yet (state OPEN).

    Returns:
        One `PeriodStatus` per period, in report then period order; those with an `alert`
        missed their deadline.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    env = os.environ if environ is None else environ
    tz = env.get(TZ_ENV) or "UTC"
    first = window(now, env, since)
    if since is None:
        # The window is on deadlines: a month or a quarter that began long before it may
        # fall due inside it (November's large trader report is due mid-December).
        due_from: datetime | None = datetime.combine(first, time.min, tzinfo=UTC)
        start = max(first - timedelta(days=LONGEST_DUE_DAYS), _reporting_start(env) or date.min)
    else:
        due_from, start = None, first
    found: list[PeriodStatus] = []
    for rule in rules if rules is not None else RULES.values():
        calendar = calendar_for(rule.calendar, env)
        days = calendar_for(rule.periods_on, env)
        # A period is due after it ends: look at periods that started up to now.
        for period in periods_between(rule.period, start, now.date() + timedelta(days=1), days):
            deadline = rule.deadline(period, calendar, tz)
            if deadline > now:
                if include_open:
                    found.append(PeriodStatus(rule, period, deadline, "OPEN", "not due yet"))
                continue
            if due_from is not None and deadline < due_from:
                continue  # fell due before the window: alerted then, or before the monitor
            found.append(_evaluate(conn, rule, period, deadline, calendar, tz, now))
    return found


def _reporting_start(env: Mapping[str, str]) -> date | None:
    text = env.get(REPORTING_START_ENV)
    return date.fromisoformat(text) if text else None


def _files(conn: psycopg.Connection[Any], report: str, day: date) -> list[tuple[Any, ...]]:
    """(report_id, file_name, created_at, submitted_at, status) of the period's files."""
    registry.ensure_schema(conn)
    row = conn.execute("select to_regclass('regreport.submissions') is not null").fetchone()
    submitted = "s.submitted_at, s.status" if row and row[0] else "null::timestamptz, null"
    joined = "left join regreport.submissions as s using (report_id)" if row and row[0] else ""
    rows = conn.execute(
        f"""select r.report_id, r.file_name, r.created_at, {submitted}
            from regreport.report_registry as r {joined}
            where r.report_type = %s and r.period_start = %s
            order by r.report_id""",  # noqa: S608 - fixed fragments
        (report, day),
    ).fetchall()
    return [tuple(r) for r in rows]


def _evaluate(  # noqa: C901 - the decision table of the module docstring
    conn: psycopg.Connection[Any],
    rule: DeadlineRule,
    period: Period,
    deadline: datetime,
    calendar: BusinessCalendar,
    tz: str,
    now: datetime,
) -> PeriodStatus:
    files = _files(conn, rule.report, period.start)
    if not rule.regulator:  # books and records: on file once archived (registered)
        files = [(f[0], f[1], f[2], f[2], "ARCHIVED") for f in files]
    verb = "submitted to the regulator" if rule.regulator else "archived"
    on_file = [f[3] for f in files if f[3] is not None]
    first = min(on_file) if on_file else None

    def alert(kind: AlertKind, reason: str, **details: Any) -> Alert:
        return Alert(
            kind=kind,
            report=rule.report,
            period=period.label,
            reason=reason,
            deadline=deadline,
            details={"title": rule.title, "basis": rule.basis, "calendar": calendar.name,
                     **details},
        )  # fmt: skip

    if first is None or first >= deadline:
        done = runlog.completed_before(conn, rule.report, period.start, rule.done_steps)
        if not files and done is not None and done < deadline:
            detail = f"run finished at {_at(done)}, nothing to file"
            return PeriodStatus(rule, period, deadline, "NOTHING_TO_FILE", detail)
        if first is not None:
            detail = f"{verb} late, at {first.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        elif files:
            detail = f"generated ({len(files)} file(s)) but never {verb}"
        else:
            detail = "no report generated"
        reason = f"{rule.title} for {period.label} was not {verb} by {_at(deadline)}: {detail}"
        missed = alert(AlertKind.DEADLINE_NOT_SUBMITTED, reason, files=len(files))
        return PeriodStatus(rule, period, deadline, "NOT_SUBMITTED", detail, missed)
    if not rule.regulator:
        return PeriodStatus(rule, period, deadline, "ON_TIME", f"{verb} at {_at(first)}")
    if rule.report == REPORT_TYPE_MIFIR:
        from regreport.reconciliation import submission_mi

        rows = submission_mi(conn, start=period.start, end=period.start, calendar=calendar,
                             tz=tz, now=now)  # fmt: skip
        mi = rows[0] if rows else None  # no row: a closed day whose files hold no record
        missing = mi.overdue + mi.late if mi else 0
        if mi is not None and missing:
            detail = (
                f"{missing} of {mi.records} records not accepted by the deadline"
                f" ({mi.rejected} rejected, {mi.pending} pending, {mi.unanswered} unanswered,"
                f" {mi.late} accepted late)"
            )
            reason = (
                f"{rule.title} for {period.label} was not accepted by {_at(deadline)}: {detail}"
            )
            return PeriodStatus(rule, period, deadline, "NOT_ACCEPTED", detail, alert(
                AlertKind.DEADLINE_NOT_ACCEPTED, reason, records=mi.records,
                rejected=mi.rejected, pending=mi.pending, unanswered=mi.unanswered,
                late=mi.late))  # fmt: skip
        records = mi.records if mi else 0
        return PeriodStatus(rule, period, deadline, "ON_TIME",
                            f"{records} records accepted on time")  # fmt: skip
    statuses = sorted({str(f[4]) for f in files})
    if statuses != ["ACCEPTED"]:
        detail = f"file status {', '.join(statuses)}"
        reason = f"{rule.title} for {period.label} was not accepted by {_at(deadline)}: {detail}"
        return PeriodStatus(rule, period, deadline, "NOT_ACCEPTED", detail,
                            alert(AlertKind.DEADLINE_NOT_ACCEPTED, reason))  # fmt: skip
    return PeriodStatus(rule, period, deadline, "ON_TIME", "accepted")


def _at(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
