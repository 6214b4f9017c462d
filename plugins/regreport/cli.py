"""`regreport`: the operator's command line.

regreport services start|stop|status   local PostgreSQL, S3 (Object Lock) and SFTP gateway
regreport generate --date D            fill the QSuite trading DB with a synthetic day
regreport run --date D                 run the MiFIR DAG for one day and print its summary
regreport demo                         all of the above, for the last business day
regreport correct --date D --on D2     amend/cancel some of D's executions in QSuite (demo)
regreport reports list [--json]        the report registry
regreport reports history TX_ID        every version of one transaction as sent
regreport exceptions [--json]          records the regulator rejected, and amendments held
regreport reconcile --date D           RTS 22 Art. 15 reconciliation and submission MI
regreport audit verify|anchor|log      the hash-chained audit log, its WORM anchors
regreport archive verify|hold|release  re-check the WORM archive; legal holds
regreport validate FILE                check any auth.016 file: ESMA XSDs, then the rule catalogue
regreport ui start|stop                the Airflow UI, login required
regreport deadlines [--alert]          reports not submitted or not accepted by their deadline
regreport alerts list|test|resolve     alerts raised for missed deadlines and failed tasks
regreport runs [--run-id R]            per-run metrics: each step's duration and record counts
regreport leases list|release          which run is building in the warehouse, for which period
regreport refdata load|status          FIRDS / GLEIF reference tables for the RR-REF rules
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from regreport.config import Settings

DAG_ID = "mifir_transactions_daily"


def _cli_actor() -> str:
    """Who runs a command, for the audit log: `REGREPORT_ACTOR`, else ``os:<login>``."""
    import getpass

    from regreport import audit

    return audit.actor(f"os:{getpass.getuser()}")


def _settings() -> Settings:
    return Settings.from_env()


def _default_day() -> date:
    from regreport.timetables import previous_business_day

    return previous_business_day(datetime.now(tz=UTC).date() - timedelta(days=1))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="qsuite-regreport")
def main() -> None:
    """QSuite RegReport: regulatory reports from the QSuite trading database."""


# -- services -------------------------------------------------------------------------------


@main.group()
def services() -> None:
    """Local PostgreSQL, S3 and regulator SFTP gateway servers (data under REGREPORT_HOME)."""


@services.command("start")
@click.option("--only", type=click.Choice(["postgres", "s3", "gateway"]), multiple=True)
def services_start(only: tuple[str, ...]) -> None:
    """Start the services (idempotent) and create the databases."""
    from regreport import services as svc

    settings = _settings()
    which = only or svc.SERVICES
    svc.start(settings, which, log=click.echo)
    if "postgres" in which:
        svc.ensure_databases(settings)


@services.command("stop")
def services_stop() -> None:
    """Stop the services and the local Airflow UI, if running."""
    from regreport import local_airflow
    from regreport import services as svc

    settings = _settings()
    local_airflow.stop_ui(settings, log=click.echo)
    svc.stop(settings, svc.SERVICES, log=click.echo)


@services.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def services_status(as_json: bool) -> None:
    """Show whether each service runs, its PID, endpoint and data folder."""
    from regreport import services as svc

    status = svc.status(_settings())
    if as_json:
        click.echo(
            json.dumps(
                {
                    k: {"running": v.running, "pid": v.pid, "endpoint": v.endpoint}
                    for k, v in status.items()
                },
                indent=2,
            )
        )
        return
    for name, st in status.items():
        state = (
            click.style("running", fg="green") if st.running else click.style("stopped", fg="red")
        )
        pid = f"pid {st.pid}" if st.pid else ""
        click.echo(f"{name:<10} {state:<18} {pid:<10} {st.endpoint}  {st.data_dir}")
    if not all(st.running for st in status.values()):
        sys.exit(3)


@main.group("db")
def db_group() -> None:
    """The warehouse's platform tables and least-privilege roles (run as the database admin)."""


@db_group.command("setup")
def db_setup() -> None:
    """Create or upgrade the platform tables, then the roles, grants and stage logins.

    The pipeline's own logins may not create or alter tables, so run this as the admin after
    installing a new release (`regreport services start` does it for the local stack). Uses
    REGREPORT_WAREHOUSE_DSN / REGREPORT_SOURCE_DSN (admin) and REGREPORT_DB_PASSWORD_*.
    """
    from psycopg.conninfo import conninfo_to_dict

    from regreport import ddl, roles

    settings = _settings()
    applied = ddl.setup(settings.warehouse_dsn)
    click.echo(
        f"platform tables: {', '.join(applied)} created or upgraded"
        if applied
        else "platform tables: up to date"
    )
    source_db = conninfo_to_dict(settings.source_dsn).get("dbname") or settings.source_db
    warehouse_db = conninfo_to_dict(settings.warehouse_dsn).get("dbname") or settings.warehouse_db
    users = roles.ensure_roles(
        settings.warehouse_dsn, str(warehouse_db), str(source_db), settings.db_passwords
    )
    click.echo(f"roles: {', '.join(roles.ROLES)}; login users: {', '.join(users) or 'none'}")


# -- data -----------------------------------------------------------------------------------


@main.command()
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Trade date (UTC).")
@click.option("--orders", default=50_000, show_default=True, help="Orders to generate.")
@click.option("--seed", default=42, show_default=True, help="Random seed (same seed, same data).")
def generate(day: datetime | None, orders: int, seed: int) -> None:
    """Fill the QSuite trading database with one synthetic trading day."""
    settings = _settings()
    _generate(settings, day.date() if day else _default_day(), orders, seed)
    # The seed decides the firm's and clients' LEIs: refresh the synthetic FIRDS and GLEIF.
    _publish_reference_data(settings)


def _generate(settings: Settings, day: date, orders: int, seed: int) -> Any:
    from regreport.generator import generate as gen

    last: dict[str, float] = {}

    def progress(stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - last.get(stage, 0.0) > 1.0:
            last[stage] = now
            pct = 100 * done / total if total else 100
            click.echo(f"  {stage:<12} {done:>10,} / {total:,} ({pct:5.1f}%)")

    click.echo(f"generate: {orders:,} orders for {day} (seed {seed}) into {settings.source_db}")
    stats = gen(settings.source_dsn, day, orders=orders, seed=seed, progress=progress)
    rate = stats.orders / stats.seconds if stats.seconds else 0
    click.echo(
        f"generate: {stats.orders:,} orders, {stats.executions:,} executions, "
        f"{stats.quotes:,} quotes in {stats.seconds:.1f} s ({rate:,.0f} orders/s)"
    )
    return stats


@main.command()
@click.option(
    "--date", "day", type=click.DateTime(["%Y-%m-%d"]), required=True, help="Trade date to correct."
)
@click.option(
    "--on",
    "on_day",
    type=click.DateTime(["%Y-%m-%d"]),
    required=True,
    help="Business day the back office makes the change (a later day).",
)
@click.option("--amend", default=2, show_default=True, help="Fills to amend (price or quantity).")
@click.option("--cancel", default=1, show_default=True, help="Fills to bust.")
@click.option("--seed", default=42, show_default=True)
def correct(day: datetime, on_day: datetime, amend: int, cancel: int, seed: int) -> None:
    """Amend and bust some of a day's fills in QSuite, as a back office would (demo data).

    The next run (`regreport run --date ON`) then sends a `Cxl` for each and, for an
    amendment, a new `New`; `regreport reports history QS<execution id>` shows the versions.
    """
    import psycopg

    from regreport.generator import correct_executions

    settings = _settings()
    with psycopg.connect(settings.source_dsn) as conn:
        try:
            ids = correct_executions(
                conn, day.date(), on_day.date(), amend=amend, cancel=cancel, seed=seed
            )
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(
        f"correct: {amend} amended and {cancel} busted fills of {day:%Y-%m-%d}, "
        f"changed on {on_day:%Y-%m-%d}: executions {', '.join(str(i) for i in ids)}"
    )


# -- run ------------------------------------------------------------------------------------


@main.command()
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Business day to report.")
@click.option(
    "--allow-open-period",
    is_flag=True,
    help="Report a day that has not ended yet (tests only: the report would be partial).",
)
def run(day: datetime | None, allow_open_period: bool) -> None:
    """Run the MiFIR daily DAG for one day (`airflow dags test`) and print the summary."""
    settings = _settings()
    _run(settings, day.date() if day else _default_day(), allow_open_period=allow_open_period)


def _run(settings: Settings, day: date, *, allow_open_period: bool = False) -> None:
    from regreport import local_airflow
    from regreport.pipeline import ALLOW_OPEN_PERIOD_ENV, PeriodNotEndedError, require_ended

    if allow_open_period:
        os.environ[ALLOW_OPEN_PERIOD_ENV] = "1"  # inherited by `airflow dags test`
    try:
        require_ended(datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC))
    except PeriodNotEndedError as exc:
        raise click.ClickException(f"run: {day}: {exc}") from exc
    local_airflow.prepare(settings, log=click.echo)
    click.echo(f"run: {DAG_ID} for {day} (airflow dags test; task logs follow)")
    started = time.monotonic()
    code = local_airflow.dags_test(settings, DAG_ID, day.isoformat())
    seconds = time.monotonic() - started
    summary = _load_summary(settings, day)
    if code != 0 or summary is None:
        raise click.ClickException(
            f"{DAG_ID} failed for {day} (exit {code}) after {seconds:.0f} s; "
            f"see the task logs above and under {settings.airflow_home / 'logs'}"
        )
    _print_summary(summary, seconds)


@main.group()
def periodic() -> None:
    """Positions, daily trading, large trader (13h-1) and execution quality (Rule 605 style)."""


@periodic.command("run")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Business day to build.")
@click.option(
    "--month",
    type=click.DateTime(["%Y-%m"]),
    help="Build the calendar month's reports instead (its days must be built first).",
)
def periodic_run(day: datetime | None, month: datetime | None) -> None:
    """Run periodic_reports_daily for a day (or _monthly for a month) and list its files."""
    settings = _settings()
    if month is not None:
        _run_periodic(settings, month.date(), monthly=True)
    else:
        _run_periodic(settings, day.date() if day else _default_day(), monthly=False)


def _run_periodic(settings: Settings, day: date, *, monthly: bool) -> None:
    from regreport import local_airflow, periodic

    dag_id = "periodic_reports_monthly" if monthly else "periodic_reports_daily"
    conf = {"report_month": f"{day:%Y-%m}"} if monthly else {"report_date": day.isoformat()}
    period = day.replace(day=1) if monthly else day
    local_airflow.prepare(settings, log=click.echo)
    click.echo(f"run: {dag_id} for {conf} (airflow dags test; task logs follow)")
    started = time.monotonic()
    # The logical date only names the run; the period comes from the params.
    logical = datetime.now(tz=UTC).replace(microsecond=0).isoformat()
    code = local_airflow.dags_test(settings, dag_id, logical, conf=conf)
    seconds = time.monotonic() - started
    if code != 0:
        raise click.ClickException(
            f"{dag_id} failed for {period} (exit {code}) after {seconds:.0f} s; see the task "
            f"logs above and under {settings.airflow_home / 'logs'}"
        )
    click.echo(f"\n{dag_id}: {period} built in {seconds:.0f} s")
    _print_period_files(settings, period, [
        r.report_type for r in periodic.REPORTS.values()
        if (r.tables[0].period_column == "month_start") == monthly
    ])  # fmt: skip


def _print_period_files(settings: Settings, period: date, report_types: list[str]) -> None:
    """The registered files of `period`, newest submission first, with their alerts."""
    import psycopg

    from regreport import registry

    with psycopg.connect(settings.warehouse_dsn) as conn:
        rows = [
            r
            for report_type in report_types
            for r in registry.list_reports(conn, report_type)
            if r["period_start"] == period
        ]
        alerts = conn.execute(
            """select action, object_id,
                      coalesce(after->>'alert_level', after->>'status'),
                      coalesce(after->>'rule_id', ''),
                      after->>'unidentified_large_trader'
               from regreport.audit_log
               where action in ('large_trader.alert', 'risk.limit')
                 and after->>'period_start' = %s order by seq""",
            (period.isoformat(),),
        ).fetchall()
    for r in rows:
        click.echo(
            f"  {r['report_type']:<20} S{r['submission_seq']:03d} part {r['part']}/"
            f"{r['part_count']}  {r['record_count']:>8,} rows  {r['sha256'][:12]}  {r['s3_uri']}"
        )
    for action, subject, level, rule, unidentified in dict.fromkeys(alerts):
        if action == "risk.limit":
            click.secho(f"  risk limit: {level} account {subject} {rule}", fg="yellow")
            continue
        flag = ", unidentified large trader" if unidentified == "true" else ""
        click.secho(f"  large trader alert: {level} {subject}{flag}", fg="yellow")


def _load_summary(settings: Settings, day: date) -> dict[str, Any] | None:
    from regreport.pipeline import summary_path

    path = summary_path(settings, day)
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _scope_note(scope: dict[str, int] | None) -> str:
    """Where the run's executions were traded, when some were not in the period."""
    if not scope or not (scope.get("traded_earlier") or scope.get("traded_later")):
        return ""
    return (
        f" ({scope['traded_in_period']:,} traded in the period, {scope['traded_earlier']:,}"
        f" earlier (corrections), {scope['traded_later']:,} later (quarantined))"
    )


def _print_summary(s: dict[str, Any], seconds: float) -> None:
    counts = s["counts"]
    changes = s.get("changes") or {}
    gx = s.get("gx") or {}
    excluded = ", ".join(f"{n:,} {reason}" for reason, n in (s.get("not_reportable") or {}).items())
    if s.get("rerun_of_submission"):
        outcome = f"rerun of submission {s['rerun_of_submission']}: identical files, nothing new"
    elif s["files"]:
        outcome = f"submission {s['submission_seq']}"
    else:
        outcome = "nothing to send (no new, amended or cancelled transactions)"
    rows = [
        ("period", s["period"]),
        ("outcome", outcome),
        (
            "records",
            f"{s['records']:,} = {changes.get('new', 0):,} new + {changes.get('amended', 0):,} "
            f"amended (Cxl + New) + {changes.get('cancelled', 0):,} cancelled; "
            f"{changes.get('unchanged', 0):,} already reported unchanged"
            + (
                f"; {changes['resubmitted']:,} rejected before, resubmitted"
                if changes.get("resubmitted")
                else ""
            )
            + (
                f"; {changes['held_back']:,} rejected and unchanged, held back"
                if changes.get("held_back")
                else ""
            )
            + (
                f"; {changes['held_amendments']:,} accepted but now quarantined: not cancelled,"
                " amendment held (`regreport exceptions`)"
                if changes.get("held_amendments")
                else ""
            ),
        ),
        (
            "reconciliation",
            f"source {counts['source_executions']:,} = reported {counts['reported']:,} + "
            f"quarantined {counts['quarantined']:,} + not reportable {counts['not_reportable']:,}"
            + _scope_note(s.get("scope")),
        ),
        ("not reportable", excluded or "-"),
        (
            "gx result",
            f"{'passed' if gx.get('success') else 'FAILED'}, {gx.get('evaluated')} expectations",
        ),
        ("data docs", gx.get("data_docs") or "-"),
        ("elapsed", f"{seconds:.0f} s"),
    ]
    click.echo("")
    click.secho("MiFIR RTS 22 transaction report", bold=True)
    for label, value in rows:
        click.echo(f"  {label:<15} {value}")
    for f in s["files"]:
        archived = (
            "already archived (identical file; nothing uploaded)"
            if f["already_archived"]
            else "new object, COMPLIANCE lock"
        )
        click.echo(f"  file {f['part']:<10} {f['file']} ({f['records']:,} records)")
        click.echo(f"    {'sha256':<13} {f['sha256']}")
        click.echo(f"    {'manifest':<13} {f['manifest']}")
        click.echo(f"    {'s3 uri':<13} {f['s3_uri']}")
        click.echo(f"    {'version id':<13} {f['version_id']}")
        click.echo(f"    {'retain until':<13} {f['retain_until']}")
        click.echo(f"    {'archived':<13} {archived}")
    _print_regulator(s)
    for q in s["quarantine"]:
        ids = ", ".join(str(i) for i in q["execution_ids"])
        more = " ..." if q["count"] > len(q["execution_ids"]) else ""
        held = q.get("amendments_held")
        held_note = f"; {held:,} reported before: amendment held, not cancelled" if held else ""
        click.secho(
            f"  quarantined     {q['count']:,} x {q['reason_code']}: {q['reason']} "
            f"(executions {ids}{more}{held_note})",
            fg="yellow",
        )


def _print_regulator(s: dict[str, Any]) -> None:
    """The submission and the regulator's verdict, per file, with the rejected records."""
    submitted = {f["report_id"]: f for f in (s.get("submission") or {}).get("files", [])}
    answer = s.get("regulator") or {}
    if submitted:
        click.echo(f"  {'submitted to':<15} {s['submission']['gateway']} (SFTP, host key pinned)")
    for f in answer.get("files", []):
        sent = submitted.get(f["report_id"], {})
        how = (
            "already submitted earlier, not sent again"
            if sent.get("already_submitted")
            else "found on the gateway (earlier attempt), not sent again"
            if sent.get("already_present")
            else "uploaded"
        )
        records = ", ".join(f"{n:,} {k}" for k, n in sorted(f["records"].items())) or "-"
        colour = {"ACCEPTED": "green", "PARTIALLY_ACCEPTED": "yellow"}.get(f["status"], "red")
        click.echo(f"  {'regulator':<15} {f['file_name']}: {how}")
        click.secho(
            f"    {'verdict':<13} {f['status']} ({f['status_code']}); records: {records}",
            fg=colour,
        )
    for e in answer.get("exceptions", []):
        click.secho(
            f"  rejected        {e['tx_id']}: {e['rule_id']} {e['rule']}",
            fg="red",
        )
    if answer.get("exceptions"):
        click.echo(
            "  next step       fix the source, then rerun the day with only_rejected "
            "(see `regreport exceptions`)"
        )


@main.command()
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Business day.")
@click.option("--orders", default=50_000, show_default=True, help="Orders to generate.")
@click.option("--seed", default=42, show_default=True)
def demo(day: datetime | None, orders: int, seed: int) -> None:
    """Start the services, generate a business day, report it, print the summary.

    Then build the same day's periodic reports (positions, daily trading, large trader).
    """
    from regreport import services as svc

    settings = _settings()
    the_day = day.date() if day else _default_day()
    svc.start(settings, log=click.echo)
    svc.ensure_databases(settings)
    _generate(settings, the_day, orders, seed)
    _publish_reference_data(settings)
    _run(settings, the_day)
    # The books and records of the same day: positions, daily trading, large trader.
    _run_periodic(settings, the_day, monthly=False)


def _publish_reference_data(settings: Settings) -> None:
    """Publish the synthetic world's public reference data, as ESMA and GLEIF would.

    The simulated regulator gets the source's instruments (its FIRDS), and the warehouse gets
    synthetic FIRDS and GLEIF tables for the reference-data rules (a firm loads the real files
    with `regreport refdata load`).
    """
    from regreport import refdata
    from regreport.services import gateway

    count = gateway.publish_source_instruments(settings)
    click.echo(f"gateway: reference data has {count:,} instruments")
    firds, gleif = refdata.load_synthetic(settings)
    click.echo(
        f"refdata: synthetic FIRDS {firds.rows:,} instruments, GLEIF {gleif.rows:,} LEIs "
        f"(from the generated source; real files: `regreport refdata load`)"
    )


# -- registry and files ---------------------------------------------------------------------


@main.group()
def reports() -> None:
    """The report registry."""


@reports.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--type", "report_type", help="Only this report type, e.g. mifir_rts22.")
def reports_list(as_json: bool, report_type: str | None) -> None:
    """List registered reports, newest period first."""
    import psycopg

    from regreport import registry

    with psycopg.connect(_settings().warehouse_dsn) as conn:
        rows = registry.list_reports(conn, report_type)
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        click.echo("no reports registered yet")
        return
    from regreport.config import REPORT_TYPE_MIFIR

    width = max(12, *(len(r["report_type"]) for r in rows))
    click.echo(
        f"{'id':>4}  {'type':<{width}} {'period':<10} {'sub/part':<9} {'records':>8}  "
        f"{'status':<9} {'regulator':<18} sha256        s3"
    )
    for r in rows:
        part = f"{r['submission_seq']}/{r['part']}of{r['part_count']}"
        # Only the transaction report goes to a regulator; the others are books and records.
        regulator = r["submission_status"] if r["report_type"] == REPORT_TYPE_MIFIR else "-"
        click.echo(
            f"{r['report_id']:>4}  {r['report_type']:<{width}} {r['period_start']!s:<10} "
            f"{part:<9} {r['record_count']:>8,}  {r['status']:<9} {regulator:<18} "
            f"{r['sha256'][:12]}  {r['s3_uri']}"
        )


@reports.command("history")
@click.argument("tx_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def reports_history(tx_id: str, as_json: bool) -> None:
    """Every version of one transaction as sent: New, Cxl, New..., with the file of each."""
    import psycopg

    from regreport import ledger, registry

    settings = _settings()
    with psycopg.connect(settings.warehouse_dsn) as conn:
        registry.ensure_schema(conn)
        entries = ledger.history(conn, tx_id)
    if as_json:
        click.echo(json.dumps(entries, indent=2, default=str))
        return
    if not entries:
        raise click.ClickException(f"{tx_id} has never been reported")
    click.echo(f"{'entry':>6}  {'action':<6} {'period':<10} {'seq':>3}  {'file':<60} record sha256")
    for e in entries:
        click.echo(
            f"{e['entry_id']:>6}  {e['action']:<6} {e['period_start']!s:<10} "
            f"{e['submission_seq']:>3}  {e['file_name']:<60} {(e['record_sha256'] or '-')[:12]}"
        )


@main.command()
@click.option("--report-id", type=int, default=None, help="Only this registered file.")
@click.option("--all", "include_resolved", is_flag=True, help="Include resubmitted ones.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def exceptions(report_id: int | None, include_resolved: bool, as_json: bool) -> None:
    """Records to fix: those the regulator rejected, and amendments held in the quarantine.

    Rejected: file, TxId, rule id and the regulator's description; open ones only (not yet
    resubmitted) unless --all. To resubmit after fixing the source, trigger
    mifir_transactions_daily for the trading day with "Resubmit rejected records only".
    Amendments held: transactions the regulator holds whose execution now fails a blocking
    rule; they are never cancelled for that, and the next run after the fix amends them.
    """
    from dataclasses import asdict

    import psycopg

    from regreport import registry, submissions
    from regreport.pipeline import held_amendments

    settings = _settings()
    with psycopg.connect(settings.warehouse_dsn) as conn:
        registry.ensure_schema(conn)
        rows = submissions.exceptions(conn, report_id, include_resolved=include_resolved)
        held = [h for h in held_amendments(conn) if report_id in (None, h["report_id"])]
    if as_json:
        out = {"rejected": [asdict(r) for r in rows], "amendments_held": held}
        click.echo(json.dumps(out, indent=2, default=str))
        return
    if not rows:
        click.echo("no rejected records" + ("" if include_resolved else " awaiting resubmission"))
    for r in rows:
        click.echo(
            f"{r.report_id:>4}  {r.file_name}  {r.tx_id}  {r.rule_id or '-'}: "
            f"{r.rule_description or r.status_code}"
        )
    if held:
        click.secho(
            f"{len(held):,} amendment(s) held: reported before, the source now fails a rule; the "
            "regulator keeps the last version sent until the source is fixed",
            bold=True,
        )
    for h in held:
        click.echo(
            f"{h['report_id']:>4}  {h['file_name']}  {h['tx_id']}  {h['trading_date']}  "
            f"execution {h['execution_id']}: {', '.join(h['reason_codes'])}"
        )


@main.command()
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Trading day.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def reconcile(day: datetime | None, as_json: bool) -> None:
    """Reconcile a trading day with the regulator (RTS 22 Art. 15) and show the MI table."""
    from regreport.pipeline import reconcile_with_regulator
    from regreport.reconciliation import ReconciliationError

    settings = _settings()
    the_day = day.date() if day else _default_day()
    try:
        result = reconcile_with_regulator(settings.warehouse_dsn, settings.source_dsn, the_day)
    except ReconciliationError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.secho(f"Reconciliation with the regulator, trading day {the_day}", bold=True)
    for bucket, n in result["counts"].items():
        colour = "green" if bucket == "MATCHED" else ("red" if n else None)
        click.secho(f"  {bucket:<22} {n:>8,}", fg=colour)
    for item in result["breaks"][:20]:
        click.echo(f"    {item['tx_id']:<16} {item['bucket']:<22} {item['detail'] or ''}")
    if result["breaks_total"] > 20:
        click.echo(f"    ... {result['breaks_total'] - 20:,} more (--json for all)")
    click.secho("Submission MI (T+1 deadline, business days)", bold=True)
    click.echo(
        f"  {'trading day':<12} {'records':>8} {'accepted':>9} {'rejected':>9} {'pending':>8} "
        f"{'acc. rate':>9} {'on time':>8} {'late':>5} {'overdue':>8} {'quarantined':>11}"
    )
    for r in result["mi"]:
        rate = r["acceptance_rate"] or "-"
        click.echo(
            f"  {r['trading_date']:<12} {r['records']:>8,} {r['accepted']:>9,} "
            f"{r['rejected']:>9,} {r['pending']:>8,} {rate:>9} {r['on_time']:>8,} "
            f"{r['late']:>5,} {r['overdue']:>8,} {r.get('quarantined', 0):>11,}"
        )


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--schemas-dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--schema-version", default=None, help="ESMA usage-guideline version, e.g. 1.1.0.")
@click.option("--max-errors", default=100, show_default=True, help="Most XSD errors listed.")
@click.option("--max-findings", default=1000, show_default=True, help="Most rule findings listed.")
@click.option(
    "--show-values",
    is_flag=True,
    help="Quote offending values in messages (they may be names or national ids).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
def validate(
    file: Path,
    schemas_dir: Path | None,
    schema_version: str | None,
    max_errors: int,
    max_findings: int,
    show_values: bool,
    output_format: str,
) -> None:
    """Check an auth.016 file (ours or another tool's): ESMA XSDs, then every content rule.

    Exit code 1 on an XSD error or an error-severity rule finding; warnings are listed and
    exit 0.
    """
    from regreport.rules import RefDataMissingError
    from regreport.validation import validate_auth016
    from regreport.xml.schema import SchemaError

    settings = _settings()

    def progress(count: int) -> None:
        click.echo(f"... {count:,} records checked", err=True)

    try:
        report = validate_auth016(
            file,
            schemas_dir or settings.schemas_dir,
            schema_version or settings.schema_version,
            settings.refdata_dir,
            max_errors=max_errors,
            max_findings=max_findings,
            progress=progress,
        )
    except (SchemaError, RefDataMissingError) as exc:
        raise click.ClickException(str(exc)) from exc
    shown = len(report.schema.errors) + len(report.findings)
    if show_values and shown:
        _audit_personal_data_access(settings, file, "validate --show-values", shown)
    if output_format == "json":
        click.echo(json.dumps(report.to_dict(show_values=show_values), indent=2, default=str))
    else:
        _print_validation(file, report, show_values=show_values)
    if not report.valid:
        sys.exit(1)


def _print_validation(file: Path, report: Any, *, show_values: bool) -> None:
    """Text output of `validate`: one line per XSD error or rule finding, then the summary."""
    from regreport.pipeline import redact

    for err in report.schema.errors:
        click.echo(f"{file}:{err.line}: {err.message if show_values else redact(err.message)}")
    if not report.schema.valid:
        click.secho(
            f"INVALID: {len(report.schema.errors)} XSD error(s) in {file}; content rules not run",
            fg="red",
            err=True,
        )
        return
    for item in report.findings:
        esma = f" ({item.esma_rule})" if item.esma_rule else ""
        value = f" value {str(item.value)!r}" if show_values and item.value is not None else ""
        click.echo(
            f"{file}:{item.line}: record {item.index} TxId {item.tx_id}: {item.severity} "
            f"{item.code}{esma} {item.field}: {item.message}{value}"
        )
    if report.truncated:
        click.echo(f"... {len(report.findings):,} findings listed, all counted below")
    by_code = ", ".join(f"{code} {count:,}" for code, count in sorted(report.by_code.items()))
    click.echo(
        f"{report.records:,} records checked: {report.errors:,} error(s), "
        f"{report.warnings:,} warning(s), {report.records_with_errors:,} record(s) rejected"
        + (f" ({by_code})" if by_code else "")
    )
    if not report.valid:
        click.secho(f"INVALID: {report.errors:,} rule error(s) in {file}", fg="red", err=True)
        return
    warnings = f", {report.warnings:,} warning(s)" if report.warnings else ""
    click.secho(f"valid: {file} ({report.records:,} transactions){warnings}", fg="green")


def _audit_personal_data_access(settings: Settings, file: Path, command: str, shown: int) -> None:
    """Record who is about to see personal data; refuse to show it if that cannot be recorded."""
    from regreport import audit
    from regreport.manifest import sha256_file

    try:
        audit.record_dsn(
            settings.warehouse_dsn,
            action="personal_data.access",
            actor=_cli_actor(),
            object_type="file",
            object_id=str(file.resolve()),
            after={"command": command, "messages_shown": shown, "sha256": sha256_file(file)},
        )
    except Exception as exc:
        raise click.ClickException(
            f"{command} shows values that may be personal data, and every such access is audited; "
            f"the audit log is not reachable ({type(exc).__name__}), so nothing is shown. Run "
            "without --show-values, or start the services (`regreport services start`)."
        ) from exc


# -- Airflow UI -----------------------------------------------------------------------------


@main.group()
def ui() -> None:
    """The Airflow UI on the local services (login required)."""


@ui.command("start")
def ui_start() -> None:
    """Start Airflow (api-server, scheduler, dag-processor, triggerer) in the background."""
    from regreport import local_airflow
    from regreport import services as svc

    settings = _settings()
    svc.start(settings, log=click.echo)
    svc.ensure_databases(settings)
    local_airflow.start_ui(settings, log=click.echo)


@ui.command("stop")
def ui_stop() -> None:
    """Stop the local Airflow."""
    from regreport import local_airflow

    local_airflow.stop_ui(_settings(), log=click.echo)


# -- audit log ------------------------------------------------------------------------------


@main.group("audit")
def audit_group() -> None:
    """The tamper-evident audit log: verify it, anchor a day to the WORM archive, read it."""


@audit_group.command("verify")
@click.option("--no-anchors", is_flag=True, help="Check the chain only, not the archived anchors.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def audit_verify(no_anchors: bool, as_json: bool) -> None:
    """Check every entry's hash chain and the archived daily anchors; exit 1 on tampering."""
    import dataclasses

    import psycopg

    from regreport import audit
    from regreport.archive import s3_client

    settings = _settings()
    anchors = [] if no_anchors else audit.load_anchors(s3_client(settings), settings.s3_bucket)
    with psycopg.connect(settings.warehouse_dsn) as conn:
        result = audit.verify(conn, anchors=anchors)
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(result), indent=2))
    elif result.ok:
        click.secho(
            f"audit log OK: {result.checked:,} entries, head {result.head_seq}, "
            f"{result.anchors_checked} anchor(s) checked",
            fg="green",
        )
    else:
        click.secho(
            f"audit log TAMPERED: first bad entry {result.first_bad_seq}: {result.problem}",
            fg="red",
            err=True,
        )
    if not result.ok:
        sys.exit(1)


@audit_group.command("anchor")
@click.option(
    "--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="UTC day (default: yesterday)."
)
def audit_anchor(day: datetime | None) -> None:
    """Archive the day's anchor (chain head + Merkle root) to the Object Lock bucket."""
    import psycopg

    from regreport import audit
    from regreport.archive import retention_until, s3_client

    settings = _settings()
    the_day = day.date() if day else datetime.now(tz=UTC).date() - timedelta(days=1)
    with psycopg.connect(settings.warehouse_dsn) as conn:
        anchor, uri = audit.anchor_day(
            conn,
            s3_client(settings),
            settings.s3_bucket,
            the_day,
            retain_until=retention_until(
                datetime.now(tz=UTC), settings.retention_days_for("audit")
            ),
            actor=_cli_actor(),
        )
    click.echo(
        f"anchored {the_day}: {anchor.count} entries "
        f"({anchor.first_seq}..{anchor.last_seq}), head {anchor.chain_head_seq} -> {uri}"
    )


@audit_group.command("log")
@click.option("--limit", default=20, show_default=True, help="Newest N entries.")
@click.option("--object-id", default=None, help="Only entries about this object.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def audit_log(limit: int, object_id: str | None, as_json: bool) -> None:
    """Show recent audit entries, newest first."""
    import dataclasses

    import psycopg

    from regreport import audit

    with psycopg.connect(_settings().warehouse_dsn) as conn:
        audit.ensure_schema(conn)
        entries = audit.recent(conn, limit=limit, object_id=object_id)
    if as_json:
        rows = [dataclasses.asdict(e) for e in entries]
        click.echo(json.dumps(rows, indent=2, default=str, ensure_ascii=False))
        return
    if not entries:
        click.echo("the audit log is empty")
        return
    for e in entries:
        click.echo(
            f"{e.seq:>6}  {e.recorded_at:%Y-%m-%d %H:%M:%S}Z  {e.actor:<18} {e.action:<22} "
            f"{e.object_type}:{e.object_id or '-'}  run={e.run_id or '-'}  {e.sha256[:12]}"
        )


# -- WORM archive: verify, legal holds -------------------------------------------------------


@main.group("archive")
def archive_group() -> None:
    """The WORM archive: prove what was archived, and legal holds."""


#: `archive verify --only` choices: (option, ArchiveCheck.kind, what the summary calls them).
_ARCHIVED_KINDS = (
    ("reports", "report", "report file(s)"),
    ("feedback", "feedback", "feedback file(s)"),
    ("anchors", "anchor", "audit anchor(s)"),
)


@archive_group.command("verify")
@click.option("--report-id", "report_ids", type=int, multiple=True, help="Only this report.")
@click.option(
    "--only",
    "kinds",
    type=click.Choice(["reports", "feedback", "anchors"]),
    multiple=True,
    help="Only these kinds of archived object (default: all; --report-id implies reports).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def archive_verify_cmd(report_ids: tuple[int, ...], kinds: tuple[str, ...], as_json: bool) -> None:
    """Re-read the archive: reports, regulator feedback and audit anchors (exit 1 on a problem).

    Reports: hash, size, manifest; feedback: hash and size; each object: lock mode, retention.
    """
    import psycopg

    from regreport.archive import s3_client
    from regreport.archive_verify import verify_anchors, verify_archive, verify_feedback

    settings = _settings()
    wanted = set(kinds) or ({"reports"} if report_ids else {"reports", "feedback", "anchors"})
    client = s3_client(settings)
    checks = []
    with psycopg.connect(settings.warehouse_dsn) as conn:
        if "reports" in wanted:
            checks += verify_archive(
                conn, client, settings.s3_bucket, report_ids=report_ids or None
            )
        if "feedback" in wanted:
            checks += verify_feedback(
                conn,
                client,
                settings.s3_bucket,
                retention_days=settings.retention_days_for("feedback"),
            )
    if "anchors" in wanted:
        checks += verify_anchors(
            client, settings.s3_bucket, retention_days=settings.retention_days_for("audit")
        )
    bad = [c for c in checks if not c.ok]
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "kind": c.kind,
                        "report_id": c.report_id if c.kind == "report" else None,
                        "feedback_id": c.report_id if c.kind == "feedback" else None,
                        "key": c.key,
                        "version_id": c.version_id,
                        "ok": c.ok,
                        "problems": c.problems,
                    }
                    for c in checks
                ],
                indent=2,
            )
        )
    else:
        for c in checks:
            where = f"s3://{settings.s3_bucket}/{c.key}" if c.key else "(not archived)"
            label = {"report": f"{c.report_id:>5}", "feedback": f"feedback {c.report_id}"}.get(
                c.kind, c.kind
            )
            if c.ok:
                click.echo(f"ok    {label}  {where}")
                continue
            click.secho(f"FAIL  {label}  {where}", fg="red")
            for problem in c.problems:
                click.echo(f"             - {problem}")
        counted = ", ".join(
            f"{sum(c.kind == kind for c in checks)} {name}"
            for option, kind, name in _ARCHIVED_KINDS
            if option in wanted
        )
        ok = len(checks) - len(bad)
        summary = f"{counted} checked: {ok} ok, {len(bad)} with problems"
        click.secho(summary, fg="red" if bad else "green")
    if bad:
        sys.exit(1)


@archive_group.command("hold")
@click.option("--report-id", "report_ids", type=int, multiple=True, required=True)
@click.option("--reason", required=True, help="The matter or request the hold is for.")
def archive_hold_cmd(report_ids: tuple[int, ...], reason: str) -> None:
    """Place a legal hold on reports (each file and its manifest); audited."""
    import psycopg

    from regreport import holds
    from regreport.archive import s3_client

    settings = _settings()
    try:
        with psycopg.connect(settings.warehouse_dsn) as conn:
            hold_id = holds.place_hold(
                conn,
                s3_client(settings),
                settings.s3_bucket,
                report_ids=report_ids,
                reason=reason,
                actor=_cli_actor(),
            )
    except (holds.HoldError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"legal hold {hold_id} placed on report(s) {', '.join(map(str, report_ids))}")


@archive_group.command("release")
@click.argument("hold_id", type=int)
@click.option("--reason", required=True, help="Why the hold ends.")
def archive_release_cmd(hold_id: int, reason: str) -> None:
    """Release a legal hold; objects another active hold covers stay held. Audited."""
    import psycopg

    from regreport import holds
    from regreport.archive import s3_client

    settings = _settings()
    try:
        with psycopg.connect(settings.warehouse_dsn) as conn:
            result = holds.release_hold(
                conn,
                s3_client(settings),
                settings.s3_bucket,
                hold_id,
                actor=_cli_actor(),
                reason=reason,
            )
    except (holds.HoldError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"legal hold {hold_id} released: {len(result.lifted)} object(s) lifted, "
        f"{len(result.kept)} still held by another hold"
    )


@archive_group.command("holds")
@click.option("--active", "active_only", is_flag=True, help="Only holds not yet released.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def archive_holds_cmd(active_only: bool, as_json: bool) -> None:
    """List legal holds, newest first."""
    import psycopg

    from regreport import holds

    with psycopg.connect(_settings().warehouse_dsn) as conn:
        rows = holds.list_holds(conn, active_only=active_only)
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        click.echo("no legal holds")
        return
    for r in rows:
        state = f"released {r['released_at']:%Y-%m-%d}" if r["released_at"] else "ACTIVE"
        reports = ", ".join(map(str, r["report_ids"]))
        click.echo(
            f"{r['hold_id']:>4}  {state:<19} placed {r['placed_at']:%Y-%m-%d} by "
            f"{r['placed_by']}  reports {reports}  ({r['objects']} objects)  {r['reason']}"
        )


if __name__ == "__main__":  # pragma: no cover
    main()


# -- SEC 15c3-5 risk-check replay ------------------------------------------------------------


@main.group()
def risk() -> None:
    """Pre-trade controls (SEC 15c3-5): the versioned rule book and backtests."""


@risk.group("rules")
def risk_rules() -> None:
    """The rule book: every version of every rule, who changed it and why."""


@risk_rules.command("seed")
def risk_rules_seed() -> None:
    """Start an empty rule book from the landed source limits and the firm defaults."""
    import psycopg

    from regreport.risk import store

    with psycopg.connect(_settings().warehouse_dsn) as conn:
        written = store.seed(conn, changed_by=_cli_actor())
        conn.commit()
    if written:
        click.echo(f"risk rules: {written} versions written")
    else:
        click.echo("risk rules: the book already has rules; change them with `risk rules set`")


@risk_rules.command("list")
@click.option("--ruleset-version", type=int, help="The book as of this change (default: latest).")
@click.option("--history", is_flag=True, help="Every version, not only each rule's latest.")
def risk_rules_list(ruleset_version: int | None, history: bool) -> None:
    """List the rules (latest version of each, or the whole history)."""
    import psycopg

    from regreport.risk import store
    from regreport.risk.rules import from_micros

    with psycopg.connect(_settings().warehouse_dsn) as conn:
        versions = store.load_versions(conn)
    if ruleset_version is not None:
        versions = [v for v in versions if v.ruleset_version <= ruleset_version]
    if not history:
        latest = {v.rule_id: v for v in versions}
        versions = list(latest.values())
    for v in versions:
        scope = v.account_id or (f"instrument {v.instrument_id}" if v.instrument_id else "firm")
        expires = from_micros(v.expires_us).isoformat() if v.expires_us else "-"
        click.echo(
            f"#{v.ruleset_version:<5} {v.rule_id:<22} v{v.version:<3} {v.rule_type:<22} "
            f"{v.status:<8} {scope:<16} threshold {v.threshold if v.threshold is not None else '-'}"
            f" from {from_micros(v.effective_from_us):%Y-%m-%d %H:%M} to {expires}"
            f"  by {v.changed_by}: {v.change_reason}"
        )


@risk_rules.command("set")
@click.argument("rule_id")
@click.option("--reason", required=True, help="Why (kept with the version).")
@click.option("--type", "rule_type", help="Rule type (a new rule needs one).")
@click.option("--status", type=click.Choice(["ACTIVE", "INACTIVE", "TESTING", "PENDING"]))
@click.option("--threshold", type=float)
@click.option("--window-seconds", type=float, help="MESSAGE_RATE window.")
@click.option("--account", "account_id")
@click.option("--instrument", "instrument_id", type=int)
@click.option("--params", help="JSON parameters (TRADING_HOURS, APPROVED_INSTRUMENTS).")
@click.option("--effective-from", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M"]))
@click.option("--expires-at", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M"]))
def risk_rules_set(rule_id: str, reason: str, **options: Any) -> None:
    """Record a new version of RULE_ID (times are UTC); nothing is ever updated in place."""
    import psycopg

    from regreport.risk import store

    fields: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
    if "params" in fields:
        fields["params"] = json.loads(fields["params"])
    for key in ("effective_from", "expires_at"):
        if key in fields:
            fields[key] = fields[key].replace(tzinfo=UTC)
    with psycopg.connect(_settings().warehouse_dsn) as conn:
        try:
            version = store.record_change(
                conn, rule_id=rule_id, changed_by=_cli_actor(), change_reason=reason, **fields
            )
        except ValueError as exc:  # RuleError included: nothing is written
            raise click.ClickException(f"{rule_id}: {exc}") from exc
        conn.commit()
    click.echo(f"{rule_id} v{version.version}: rule-set version {version.ruleset_version}")


@risk.command("backtest")
@click.option("--from", "date_from", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="Default: --from.")
@click.option("--ruleset-version", type=int,
              help="Replay against this rule-set version (default: the rules as recorded at "
                   "each order's time).")  # fmt: skip
@click.option("--include-testing", is_flag=True, help="Apply TESTING rules too.")
def risk_backtest(
    date_from: datetime, date_to: datetime | None, ruleset_version: int | None,
    include_testing: bool,
) -> None:  # fmt: skip
    """Run risk_rules_backtest for a date range (`airflow dags test`) and print its summary."""
    import psycopg

    from regreport import local_airflow
    from regreport.risk import replay

    settings = _settings()
    first, last = date_from.date(), (date_to or date_from).date()
    conf = {"date_from": first.isoformat(), "date_to": last.isoformat(),
            "ruleset_version": ruleset_version, "include_testing": include_testing}  # fmt: skip
    local_airflow.prepare(settings, log=click.echo)
    click.echo(f"run: risk_rules_backtest {conf} (airflow dags test; task logs follow)")
    started = time.monotonic()
    logical = datetime.now(tz=UTC).replace(microsecond=0).isoformat()
    code = local_airflow.dags_test(settings, "risk_rules_backtest", logical, conf=conf)
    seconds = time.monotonic() - started
    if code != 0:
        raise click.ClickException(
            f"risk_rules_backtest failed (exit {code}) after {seconds:.0f} s; see the task logs "
            f"above and under {settings.airflow_home / 'logs'}"
        )
    name = replay.replay_id(first, last, ruleset_version, include_testing)
    with psycopg.connect(settings.warehouse_dsn) as conn:
        row = conn.execute(
            """select orders, accepted, rejected, invalid, breaches from regreport.risk_replays
               where replay_id = %s""",
            (name,),
        ).fetchone()
        reasons = conn.execute(
            """select check_id || ':' || reason, count(*) from regreport.compliance_checks
               where replay_id = %s and outcome = 'REJECT' group by 1 order by 1""",
            (name,),
        ).fetchall()
    if row is None:
        raise click.ClickException(f"risk_rules_backtest succeeded but recorded no replay {name}")
    summary = dict(zip(("orders", "accepted", "rejected", "invalid", "breaches"), row, strict=True))
    click.echo(f"\nrisk_rules_backtest: done in {seconds:.0f} s")
    for line in replay.summary_lines({**summary, "replay_id": name, "by_reason": dict(reasons)}):
        click.echo(f"  {line}")
    _print_period_files(settings, first, [replay.REPORT_TYPE])


# -- operations: deadlines, alerts, run metrics, leases -----------------------------------------


def _instant(text: str | None) -> datetime:
    """An ISO date-time (UTC if it has no offset); now when empty."""
    if not text:
        return datetime.now(tz=UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 date-time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@main.command("deadlines")
@click.option("--at", "at", help="Check as of this instant (ISO 8601, default now).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="First period to check.")
@click.option("--report", "report_types", multiple=True, help="Only this report type.")
@click.option("--alert", "send", is_flag=True, help="Raise the alerts (as the monitor DAG does).")
@click.option("--all", "show_all", is_flag=True, help="List on-time and open periods too.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def deadlines_cmd(
    at: str | None,
    since: datetime | None,
    report_types: tuple[str, ...],
    send: bool,
    show_all: bool,
    as_json: bool,
) -> None:
    """Which reports missed their filing deadline (not submitted, or not accepted, in time)."""
    import psycopg

    from regreport import alerts, deadlines

    now = _instant(at)
    unknown = sorted(set(report_types) - set(deadlines.RULES))
    if unknown:
        raise click.BadParameter(
            f"unknown report type(s) {', '.join(unknown)}; known: {', '.join(deadlines.RULES)}"
        )
    rules = [deadlines.RULES[r] for r in report_types] if report_types else None
    with psycopg.connect(_settings().warehouse_dsn) as conn:
        found = deadlines.check(
            conn, now, since=since.date() if since else None, rules=rules, include_open=show_all
        )
        shown = found if show_all else [s for s in found if s.alert is not None]
        sent = []
        if send:
            notifiers = alerts.notifiers_from_env()
            sent = [
                alerts.raise_alert(conn, s.alert, notifiers) for s in shown if s.alert is not None
            ]
    if as_json:
        rows = [
            {"report": s.rule.report, "period": s.period.label, "deadline": s.deadline,
             "state": s.state, "detail": s.detail, "alert": s.alert.key if s.alert else None}
            for s in shown
        ]  # fmt: skip
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    missed = sum(s.alert is not None for s in found)
    click.echo(f"deadlines as of {now:%Y-%m-%d %H:%M %Z}: {len(found)} period(s), {missed} missed")
    for s in shown:
        click.echo(
            f"  {s.state:<15} {s.rule.report:<22} {s.period.label:<10} "
            f"due {s.deadline:%Y-%m-%d %H:%M}  {s.detail}"
        )
    for outcome in sent:
        what = ", ".join(outcome.sent) or "nobody new (already alerted)"
        click.echo(f"  alert {outcome.key}: sent to {what}")


@main.group("alerts")
def alerts_group() -> None:
    """Alerts raised for missed deadlines and failed tasks."""


@alerts_group.command("list")
@click.option("--open", "open_only", is_flag=True, help="Unresolved alerts only.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def alerts_list(open_only: bool, as_json: bool) -> None:
    """Alerts, newest first: what, when, which channels have it."""
    import dataclasses

    import psycopg

    from regreport import alerts

    with psycopg.connect(_settings().warehouse_dsn) as conn:
        rows = alerts.list_alerts(conn, open_only=open_only)
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(r) for r in rows], indent=2, default=str))
        return
    if not rows:
        click.echo("no alerts" + (" open" if open_only else ""))
        return
    for r in rows:
        state = "resolved" if r.resolved_at else "OPEN"
        click.echo(
            f"{r.last_raised_at:%Y-%m-%d %H:%M}  {state:<8} {r.severity:<8} {r.key}\n"
            f"    {r.reason}\n    delivered to: {', '.join(r.delivered_to) or '-'}"
            + (f"; failed: {', '.join(r.failed)}" if r.failed else "")
        )


@alerts_group.command("test")
def alerts_test() -> None:
    """Send a test alert through every configured channel (REGREPORT_ALERT_CHANNELS)."""
    import psycopg

    from regreport import alerts

    notifiers = alerts.notifiers_from_env()
    alert = alerts.make_test_alert(reason=f"channel check by {_cli_actor()}")
    with psycopg.connect(_settings().warehouse_dsn) as conn:
        outcome = alerts.raise_alert(conn, alert, notifiers)
    click.echo(f"test alert {outcome.key}: sent to {', '.join(outcome.sent) or '-'}")
    for name, error in outcome.failed.items():
        click.echo(f"  {name}: FAILED: {error}")


@alerts_group.command("resolve")
@click.argument("key")
def alerts_resolve(key: str) -> None:
    """Close an alert once its cause is dealt with (raised again, it is a new incident)."""
    import psycopg

    from regreport import alerts

    with psycopg.connect(_settings().warehouse_dsn) as conn:
        if not alerts.resolve(conn, key):
            raise click.ClickException(f"no open alert {key!r} (see `regreport alerts list`)")
    click.echo(f"resolved {key}")


@main.command("runs")
@click.option("--run-id", help="One run's steps.")
@click.option("--report", help="Only this report (e.g. mifir_rts22, positions).")
@click.option("--period", type=click.DateTime(["%Y-%m-%d"]), help="Only this period start.")
@click.option("--limit", default=60, show_default=True, help="Rows to show.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def runs_cmd(
    run_id: str | None, report: str | None, period: datetime | None, limit: int, as_json: bool
) -> None:
    """Per-run metrics: each step's outcome, duration and records in, out and quarantined."""
    import psycopg

    from regreport import runlog

    with psycopg.connect(_settings().warehouse_dsn) as conn:
        rows = runlog.list_metrics(
            conn,
            run_id=run_id,
            report=report,
            period_start=period.date() if period else None,
            limit=limit,
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        click.echo("no run metrics recorded yet")
        return

    def num(value: Any) -> str:
        return "-" if value is None else f"{value:,}"

    current = None
    for r in rows:
        if (r["dag_id"], r["run_id"]) != current:
            current = (r["dag_id"], r["run_id"])
            click.echo(f"{r['dag_id']}  {r['run_id']}  period {r['period_start']}")
            click.echo(
                f"  {'step':<52} {'state':<8} {'secs':>8} {'in':>10} {'out':>10} {'quar':>6}"
            )
        click.echo(
            f"  {r['step'][:52]:<52} {r['state']:<8} {num(r['duration_s']):>8} "
            f"{num(r['records_in']):>10} {num(r['records_out']):>10} {num(r['quarantined']):>6}"
        )


@main.group("leases")
def leases_group() -> None:
    """Build leases: which run is building in the warehouse, for which period."""


@leases_group.command("list")
def leases_list() -> None:
    """Who holds the build lease, for which period, until when."""
    import psycopg

    from regreport import leases

    with psycopg.connect(_settings().warehouse_dsn) as conn:
        rows = leases.list_leases(conn)
    if not rows:
        click.echo("nothing is being built")
    now = datetime.now(tz=UTC)
    for lease in rows:
        state = "expired" if lease.expires_at <= now else "held"
        click.echo(
            f"{lease.scope:<16} {state:<7} until {lease.expires_at:%Y-%m-%d %H:%M}  "
            f"{lease.holder} (building {lease.period_start})"
        )


@leases_group.command("release")
@click.argument("scope", default="warehouse_build")
def leases_release(scope: str) -> None:
    """Break a lease left by a run that died (check in Airflow that it is not running)."""
    import psycopg

    from regreport import audit, leases

    with psycopg.connect(_settings().warehouse_dsn) as conn:
        held = leases.current(conn, scope)
        if held is None or not leases.release(conn, scope, None):
            raise click.ClickException(f"no lease on {scope}")
        audit.record(
            conn,
            action="lease.released",
            actor=_cli_actor(),
            object_type="build_lease",
            object_id=scope,
            before={"holder": held.holder, "period_start": str(held.period_start),
                    "expires_at": held.expires_at.isoformat()},
        )  # fmt: skip
        conn.commit()
    click.echo(f"released {scope} (was held by {held.holder})")


# -- reference data: FIRDS instruments, GLEIF LEIs (regreport.refdata) -------------------------


@main.group("refdata")
def refdata_group() -> None:
    """Reference tables the RR-REF rules check against: FIRDS and GLEIF (never downloaded)."""


@refdata_group.command("load")
@click.option(
    "--firds",
    "firds_files",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    multiple=True,
    help="A FIRDS full file (FULINS_*.xml or .zip) or simple CSV; repeat for every part.",
)
@click.option(
    "--gleif",
    "gleif_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The GLEIF golden copy LEI-CDF CSV (or .zip) or a simple CSV.",
)
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), help="Publication day of the files.")
def refdata_load(
    firds_files: tuple[Path, ...], gleif_file: Path | None, as_of: datetime | None
) -> None:
    """Replace the FIRDS and/or GLEIF table with these files, each in one transaction."""
    import psycopg

    from regreport import audit, refdata

    if not firds_files and gleif_file is None:
        raise click.UsageError("give --firds and/or --gleif")
    day = as_of.date() if as_of else None
    with psycopg.connect(_settings().warehouse_dsn) as conn:
        results = []
        if firds_files:
            results.append(refdata.load_firds(conn, firds_files, as_of=day))
        if gleif_file is not None:
            results.append(refdata.load_gleif(conn, gleif_file, as_of=day))
        for result in results:
            audit.record(
                conn,
                action="refdata.load",
                actor=_cli_actor(),
                object_type="reference_table",
                object_id=result.table,
                after={"rows": result.rows, "as_of": str(result.as_of), "source": result.source},
            )
            click.echo(
                f"{result.table}: {result.rows:,} rows as of {result.as_of or 'unknown'}"
                f" from {result.source}"
            )
        conn.commit()


@refdata_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def refdata_status(as_json: bool) -> None:
    """Rows, as-of day and load time of each reference table; unloaded ones skip their rules."""
    import psycopg

    from regreport import refdata

    with psycopg.connect(_settings().warehouse_dsn) as conn:
        rows = {row["table"]: row for row in refdata.status(conn)}
    tables = (refdata.FIRDS_TABLE, refdata.GLEIF_TABLE)
    if as_json:
        out = {t: rows.get(t) for t in tables}
        click.echo(json.dumps(out, default=str, indent=2))
        return
    for table in tables:
        row = rows.get(table)
        if row is None or not row["rows"]:
            click.echo(f"refdata.{table:<18} not loaded (its RR-REF rules are skipped)")
            continue
        click.echo(
            f"refdata.{table:<18} {row['rows']:>12,} rows  as of {row['as_of'] or 'unknown'}"
            f"  loaded {row['loaded_at']:%Y-%m-%d %H:%M}  from {row['source']}"
        )
