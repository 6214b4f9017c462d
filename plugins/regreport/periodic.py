"""The periodic reports: render a period's report rows to files, archive and register them.

Positions, daily trading, large trader, risk limits and execution quality are computed in dbt
(``models/reports/periodic``); this module turns one period of a report into its files, the
same way for every report: one CSV per report table (and an XML position report), written with
PostgreSQL's COPY in a fixed order and a fixed session time zone so the same rows always give
the same bytes, a SHA-256 manifest beside each file, then the MiFIR path's own archive (Object
Lock, never overwriting) and registry. Every step is written to the audit trail.

A rerun over unchanged data reproduces the files byte for byte and registers nothing new; when
the data changed (a correction), the period gets a new submission number, and every version
stays archived and registered.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from regreport import registry
from regreport.manifest import build_manifest, write_manifest

if TYPE_CHECKING:
    from collections.abc import Callable

    from regreport.config import Settings

log = logging.getLogger(__name__)

#: The `schema_version` written into the manifests of these files (our own CSV layout).
CSV_LAYOUT = "regreport-csv/1"
XML_LAYOUT = "regreport-positions-xml/1"
POSITIONS_NS = "urn:qsuite:regreport:positions:1"


@dataclass(frozen=True)
class ReportTable:
    """One report table, rendered to one CSV per period.

    Attributes:
        table: ``schema.table`` of the dbt report model.
        period_column: Its date column; a period is ``[start, end)`` of it.
        order_by: Columns giving every row a fixed place (a unique key).
        part: Suffix of the file name (empty for the report's main table).
    """

    table: str
    period_column: str
    order_by: tuple[str, ...]
    part: str = ""


def _large_trader_message(row: dict[str, Any]) -> str:
    group, ltid, level = row["discretion_group_id"], row["large_trader_id"], row["alert_level"]
    who = f"group {group} (LTID {ltid})" if ltid else f"group {group} (no LTID)"
    if row["unidentified_large_trader"]:
        reason = "at the identifying activity level without an LTID: an unidentified large trader"
    elif level == "THRESHOLD":
        reason = "at the identifying activity level"
    else:
        reason = "approaching the identifying activity level"
    return f"{level}: {who} {reason}"


def _risk_message(row: dict[str, Any]) -> str:
    return (
        f"{row['status']}: account {row['account_id']} {row['rule_type']} ({row['rule_id']}) "
        f"at {row['utilisation_pct']} % of {row['threshold']} {row['limit_currency'] or ''}"
    ).rstrip()


@dataclass(frozen=True)
class Alerts:
    """Rows of a report's main table that are alerts: logged, returned and audited.

    Attributes:
        action: The audit action (``large_trader.alert``, ``risk.limit``).
        object_type: What the alert is about, for the audit entry.
        subject: The column naming it (the audit entry's object id).
        level: The column holding the alert level.
        quiet: Levels that are no alert.
        columns: The columns kept in the alert (and its audit entry).
        message: One line for the log.
    """

    action: str
    object_type: str
    subject: str
    level: str
    quiet: tuple[str, ...]
    columns: tuple[str, ...]
    message: Callable[[dict[str, Any]], str]


LARGE_TRADER_ALERTS = Alerts(
    action="large_trader.alert",
    object_type="discretion_group",
    subject="discretion_group_id",
    level="alert_level",
    quiet=("NONE",),
    columns=("discretion_group_id", "alert_level", "unidentified_large_trader", "large_trader_id"),
    message=_large_trader_message,
)
RISK_ALERTS = Alerts(
    action="risk.limit",
    object_type="account",
    subject="account_id",
    level="status",
    quiet=("OK",),
    columns=("account_id", "rule_id", "rule_type", "status", "threshold", "utilisation_pct",
             "limit_currency"),
    message=_risk_message,
)  # fmt: skip


@dataclass(frozen=True)
class PeriodicReport:
    """A periodic report: its type (registry, archive prefix), tables and GX checkpoint."""

    report_type: str
    title: str
    tables: tuple[ReportTable, ...]
    checkpoint: str | None = None
    xml_positions: bool = False
    #: Which rows of the main table are alerts (logged and audited), if any.
    alerts: Alerts | None = None


POSITIONS = PeriodicReport(
    report_type="positions",
    title="Position report",
    tables=(
        ReportTable("reports.rpt_positions", "business_date", ("account_id", "instrument_id")),
    ),
    checkpoint="positions_daily__report",
    xml_positions=True,
)
DAILY_TRADING = PeriodicReport(
    report_type="daily_trading",
    title="Daily trading report",
    tables=(
        ReportTable("reports.rpt_daily_trading", "trading_date", ("execution_id",)),
        ReportTable(
            "reports.rpt_daily_trading_summary", "trading_date", ("currency",), part="SUMMARY"
        ),
    ),
    checkpoint="daily_trading__report",
)
LARGE_TRADER_DAILY = PeriodicReport(
    report_type="large_trader_daily",
    title="Large trader monitoring (SEC Rule 13h-1), daily",
    tables=(
        ReportTable("reports.rpt_large_trader_daily", "business_date", ("discretion_group_id",)),
    ),
    checkpoint="large_trader_daily__report",
    alerts=LARGE_TRADER_ALERTS,
)
LARGE_TRADER_MONTHLY = PeriodicReport(
    report_type="large_trader_monthly",
    title="Large trader monitoring (SEC Rule 13h-1), calendar month",
    tables=(
        ReportTable("reports.rpt_large_trader_monthly", "month_start", ("discretion_group_id",)),
    ),
    checkpoint="large_trader_monthly__report",
    alerts=LARGE_TRADER_ALERTS,
)
RISK_LIMITS = PeriodicReport(
    report_type="risk_limits",
    title="Risk limit utilisation, daily",
    tables=(
        ReportTable("reports.rpt_risk_limits_daily", "business_date", ("account_id", "rule_id")),
    ),
    checkpoint="risk_limits_daily__report",
    alerts=RISK_ALERTS,
)
EXECUTION_QUALITY = PeriodicReport(
    report_type="execution_quality",
    title="Execution quality (SEC Rule 605 style), calendar month",
    tables=(
        ReportTable(
            "reports.rpt_execution_quality_monthly",
            "month_start",
            ("instrument_id", "order_category", "size_band"),
        ),
        ReportTable(
            "reports.rpt_execution_quality_realized_monthly",
            "month_start",
            ("instrument_id", "order_category", "size_band", "horizon_ms"),
            part="REALIZED",
        ),
    ),
    checkpoint="execution_quality_monthly__report",
)
EXECUTION_QUALITY_QUARTERLY = PeriodicReport(
    report_type="execution_quality_quarterly",
    title="Execution quality, calendar quarter (best-execution review, FINRA Rule 5310.09)",
    tables=(
        ReportTable(
            "reports.rpt_execution_quality_quarterly",
            "quarter_start",
            ("instrument_id", "order_category", "size_band"),
        ),
    ),
    checkpoint="execution_quality_quarterly__report",
)
#: Every periodic report, by report type.
REPORTS: dict[str, PeriodicReport] = {
    r.report_type: r
    for r in (
        POSITIONS,
        DAILY_TRADING,
        LARGE_TRADER_DAILY,
        RISK_LIMITS,
        LARGE_TRADER_MONTHLY,
        EXECUTION_QUALITY,
        EXECUTION_QUALITY_QUARTERLY,
    )
}


def _day(value: datetime | date) -> date:
    return value.date() if isinstance(value, datetime) else value


def file_stem(report: PeriodicReport, firm_lei: str, start: date, end: date) -> str:
    """``<TYPE>_<firm LEI>_<period>``: the period as ``YYYYMMDD``, ``YYYYMM`` or ``YYYYQn``.

    A day, a calendar month, a calendar quarter; any other span as ``first-last``.
    """
    last = end - timedelta(days=1)
    quarter = start.day == 1 and start.month % 3 == 1 and end.day == 1
    if start == last:
        period = f"{start:%Y%m%d}"
    elif start.day == 1 and (last + timedelta(days=1)).day == 1 and start.month == last.month:
        period = f"{start:%Y%m}"
    elif quarter and (end.year * 12 + end.month) - (start.year * 12 + start.month) == 3:
        period = f"{start.year}Q{(start.month - 1) // 3 + 1}"
    else:
        period = f"{start:%Y%m%d}-{last:%Y%m%d}"
    return f"{report.report_type.upper()}_{firm_lei}_{period}"


def _firm_lei(conn: psycopg.Connection[Any]) -> str:
    row = conn.execute("select firm_lei from staging.stg_qsuite__firm limit 1").fetchone()
    if row is None or not row[0]:
        raise LookupError("no firm in raw.qsuite_firm: the reporting firm's LEI is unknown")
    return str(row[0]).strip()


def _period_query(table: ReportTable, start: date, end: date) -> sql.Composed:
    schema, name = table.table.split(".", 1)
    return sql.SQL("select * from {} where {} >= {} and {} < {} order by {}").format(
        sql.Identifier(schema, name),
        sql.Identifier(table.period_column),
        sql.Literal(start),
        sql.Identifier(table.period_column),
        sql.Literal(end),
        sql.SQL(", ").join(sql.Identifier(c) for c in table.order_by),
    )


def write_csv(conn: psycopg.Connection[Any], query: sql.Composable, path: Path) -> int:
    """Stream `query` to `path` as CSV with a header (COPY); return the data rows written.

    The session's time zone and date style are fixed first, so timestamps and dates are
    rendered the same on every machine; numerics keep their stored scale.
    """
    conn.execute("set local timezone = 'UTC'")
    conn.execute("set local datestyle = 'ISO, YMD'")
    copy = sql.SQL("copy ({}) to stdout with (format csv, header true)").format(query)
    lines = 0
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as out, conn.cursor().copy(copy) as stream:
        for chunk in stream:
            data = bytes(chunk)
            lines += data.count(b"\n")
            out.write(data)
    tmp.replace(path)
    return max(lines - 1, 0)


def write_positions_xml(
    conn: psycopg.Connection[Any], table: ReportTable, start: date, end: date, path: Path
) -> int:
    """The position report as XML (`POSITIONS_NS`), one ``Pos`` element per row, streamed."""
    from lxml import etree

    query = _period_query(table, start, end)
    count = 0
    tmp = path.with_name(path.name + ".tmp")
    with (
        etree.xmlfile(str(tmp), encoding="UTF-8") as xf,
        conn.cursor(name="positions_xml") as cur,
    ):
        xf.write_declaration()
        cur.execute(query)
        names = [c.name for c in cur.description or ()]
        with xf.element("PosRpt", xmlns=POSITIONS_NS, BizDt=start.isoformat()):
            xf.write("\n")
            for row in cur:
                values = dict(zip(names, row, strict=True))
                attrs = {
                    "Acct": str(values["account_id"]),
                    "Instrm": str(values["instrument_id"]),
                    "Qty": _text(values["net_quantity"]),
                    "Ccy": str(values["currency"]),
                    "CostBsis": _text(values["cost_basis"]),
                }
                if values.get("isin"):
                    attrs["ISIN"] = str(values["isin"])
                if values.get("average_price") is not None:
                    attrs["AvgPric"] = _text(values["average_price"])
                xf.write(etree.Element("Pos", attrs), pretty_print=False)
                xf.write("\n")
                count += 1
    validate_positions_xml(tmp)
    tmp.replace(path)
    return count


class PositionsXmlInvalidError(RuntimeError):
    """A rendered position report does not validate against its XSD."""


def validate_positions_xml(path: Path) -> None:
    """Check a position report against ``xml/xsd/regreport-positions-1.xsd``.

    Raises:
        PositionsXmlInvalidError: With the first error's line and message.
    """
    from importlib import resources

    from lxml import etree

    xsd = resources.files("regreport").joinpath("xml/xsd/regreport-positions-1.xsd")
    with resources.as_file(xsd) as xsd_path:
        schema = etree.XMLSchema(etree.parse(str(xsd_path)))
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    doc = etree.parse(str(path), parser)
    if not schema.validate(doc):
        error = schema.error_log[0]
        raise PositionsXmlInvalidError(f"{path.name}: line {error.line}: {error.message}")


def _text(value: Any) -> str:
    """A numeric as PostgreSQL prints it (stored scale, no exponent)."""
    return format(value, "f") if value is not None else ""


def render(
    settings: Settings,
    warehouse_dsn: str,
    report: PeriodicReport,
    start: datetime | date,
    end: datetime | date,
    run_ids: dict[str, str],
) -> dict[str, Any]:
    """Write the period's files and manifests under the output folder.

    Args:
        settings: Deployment settings (output folder).
        warehouse_dsn: The warehouse (read only).
        report: Which report.
        start: First day of the period.
        end: The day after the last (exclusive).
        run_ids: The runs the data came from: "extract", "dbt", "gx".

    Returns:
        The "built" document `archive` and `register` take: report type, period, and per file
        its path, name, SHA-256, rows and manifest.
    """
    first, after = _day(start), _day(end)
    out_dir = settings.output_dir / report.report_type / f"{first:%Y/%m/%d}"
    out_dir.mkdir(parents=True, exist_ok=True)
    files: list[dict[str, Any]] = []
    with psycopg.connect(warehouse_dsn) as conn:
        stem = file_stem(report, _firm_lei(conn), first, after)
        outputs: list[tuple[Path, int, str]] = []
        for table in report.tables:
            name = f"{stem}_{table.part}.csv" if table.part else f"{stem}.csv"
            path = out_dir / name
            with conn.transaction():
                rows = write_csv(conn, _period_query(table, first, after), path)
            outputs.append((path, rows, CSV_LAYOUT))
        if report.xml_positions:
            path = out_dir / f"{stem}.xml"
            rows = write_positions_xml(conn, report.tables[0], first, after, path)
            outputs.append((path, rows, XML_LAYOUT))
        alerts = (
            read_alerts(conn, report.tables[0], report.alerts, first, after)
            if report.alerts
            else []
        )
        conn.rollback()
    for alert in alerts:
        log.warning("%s: %s", report.title, alert["message"])
    for part, (path, rows, layout) in enumerate(outputs, start=1):
        manifest = build_manifest(
            report_type=report.report_type,
            schema_version=layout,
            period_start=first,
            period_end=after - timedelta(days=1),
            report_file=path,
            record_count=rows,
            run_ids=run_ids,
            counts={"rows": rows},
        )
        manifest_path = path.with_name(path.name + ".manifest.json")
        write_manifest(manifest_path, manifest)
        files.append(
            {
                "part": part,
                "file_name": path.name,
                "report_path": str(path),
                "manifest_path": str(manifest_path),
                "sha256": manifest["sha256"],
                "bytes": manifest["bytes"],
                "record_count": rows,
                "manifest": manifest,
            }
        )
        log.info("%s: %s, %d rows, sha256 %s", report.title, path.name, rows, manifest["sha256"])
    return {
        "report_type": report.report_type,
        "period_start": first.isoformat(),
        "period_end": (after - timedelta(days=1)).isoformat(),
        "files": files,
        "record_count": sum(f["record_count"] for f in files),
        "alerts": alerts,
    }


def read_alerts(
    conn: psycopg.Connection[Any], table: ReportTable, spec: Alerts, start: date, end: date
) -> list[dict[str, Any]]:
    """The period's alert rows (`spec`), each with its audit action and a one-line message."""
    schema, name = table.table.split(".", 1)
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            sql.SQL(
                "select {} from {} where {} >= %s and {} < %s and not ({} = any(%s)) order by {}"
            ).format(
                sql.SQL(", ").join(sql.Identifier(c) for c in spec.columns),
                sql.Identifier(schema, name),
                sql.Identifier(table.period_column),
                sql.Identifier(table.period_column),
                sql.Identifier(spec.level),
                sql.SQL(", ").join(sql.Identifier(c) for c in spec.columns),
            ),
            (start, end, list(spec.quiet)),
        )
        rows = cur.fetchall()
    return [
        {
            **{k: (str(v) if isinstance(v, Decimal) else v) for k, v in row.items()},
            "action": spec.action,
            "object_type": spec.object_type,
            "object_id": str(row[spec.subject]),
            "message": spec.message(row),
        }
        for row in rows
    ]


def _registered(
    conn: psycopg.Connection[Any], report_type: str, period_start: date
) -> dict[str, int]:
    """SHA-256 -> submission number of every file registered for the period."""
    registry.ensure_schema(conn)
    rows = conn.execute(
        f"""select sha256, submission_seq from {registry.SCHEMA}.report_registry
            where report_type = %s and period_start = %s""",
        (report_type, period_start),
    ).fetchall()
    return {str(sha).strip(): int(seq) for sha, seq in rows}


def register(
    warehouse_dsn: str, built: dict[str, Any], archived: dict[str, Any], run_id: str | None
) -> dict[str, Any]:
    """Register each archived file (a rerun with identical files registers nothing new).

    Returns:
        The submission number (of the changed files; of the latest file when nothing
        changed), whether it was a rerun, each file's registry id, and the alerts.
    """
    from regreport.pipeline import audit_step, audit_stored_file

    period_start = date.fromisoformat(built["period_start"])
    period_end = date.fromisoformat(built["period_end"])
    registered = []
    with psycopg.connect(warehouse_dsn) as conn:
        # Each file is a version of its part: a rerun with the same rows registers nothing,
        # and a correction registers the changed files under the next submission number
        # while an unchanged part keeps the number it was first registered with.
        known = _registered(conn, built["report_type"], period_start)
        rerun = all(f["sha256"] in known for f in built["files"])
        seq = (
            max((known[f["sha256"]] for f in built["files"]), default=1)
            if rerun
            else max(known.values(), default=0) + 1
        )
        for file, stored in zip(built["files"], archived["files"], strict=True):
            row = registry.register(
                conn,
                report_type=built["report_type"],
                period_start=period_start,
                period_end=period_end,
                file_name=file["file_name"],
                sha256=file["sha256"],
                record_count=file["record_count"],
                size=file["bytes"],
                status="ARCHIVED",
                s3_uri=stored["s3_uri"],
                s3_version_id=stored["version_id"],
                retain_until=datetime.fromisoformat(stored["retain_until"]),
                manifest=file["manifest"],
                dag_run_id=run_id,
                submission_seq=seq,
                part=file["part"],
                part_count=len(built["files"]),
            )
            audit_stored_file(conn, run_id, file, stored, row)
            registered.append({"file_name": file["file_name"], "report_id": row.report_id,
                               "new": row.created})  # fmt: skip
        conn.commit()
    for alert in built.get("alerts", []):
        audit_step(
            warehouse_dsn,
            alert["action"],
            alert["object_type"],
            alert["object_id"],
            run_id=run_id,
            after={
                k: v
                for k, v in alert.items()
                if k not in ("message", "action", "object_type", "object_id")
            }
            | {"report_type": built["report_type"], "period_start": built["period_start"]},
        )
    audit_step(
        warehouse_dsn,
        "report.render",
        "submission",
        f"{built['report_type']}/{built['period_start']}/S{seq:03d}",
        run_id=run_id,
        after={
            "files": [f["file_name"] for f in built["files"]],
            "rows": built["record_count"],
            "rerun_of_submission": seq if rerun else None,
        },
    )
    return {
        "submission_seq": seq,
        "rerun": rerun,
        "files": registered,
        "alerts": [a["message"] for a in built.get("alerts", [])],
    }


class DaysNotBuiltError(RuntimeError):
    """A month is reported before the daily DAG built every one of its trading dates."""


def require_days_built(conn: psycopg.Connection[Any], start: date, end: date) -> dict[str, Any]:
    """Check that every date in ``[start, end)`` with live fills has its daily build.

    The monthly reports read what the daily DAG built (positions, large trader activity); a
    month with a day never built would be reported short.

    Returns:
        The dates with fills and the dates built.

    Raises:
        DaysNotBuiltError: Naming the dates to backfill.
    """
    traded = [
        r[0]
        for r in conn.execute(
            """select distinct trading_date from marts.fct_executions
               where trading_date >= %s and trading_date < %s and execution_status = 'LIVE'
               order by 1""",
            (start, end),
        )
    ]
    built = {
        r[0]
        for r in conn.execute(
            """select distinct business_date from marts.fct_positions_daily
               where business_date >= %s and business_date < %s""",
            (start, end),
        )
    }
    missing = [d for d in traded if d not in built]
    if missing:
        shown = ", ".join(d.isoformat() for d in missing[:10])
        raise DaysNotBuiltError(
            f"{len(missing)} trading date(s) of {start:%Y-%m} have fills but no daily build "
            f"({shown}{', ...' if len(missing) > 10 else ''}): backfill periodic_reports_daily "
            f"from {missing[0].isoformat()} first"
        )
    return {"traded_dates": len(traded), "built_dates": len(built)}
