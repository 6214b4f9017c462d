"""The MiFIR daily report's steps as plain functions: what the DAG's tasks (and tests) call.

Each step takes DSNs, clients and paths, and returns a JSON-serialisable dict that Airflow can
pass on as XCom. None of this imports Airflow.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg

from regreport import __version__, registry
from regreport import archive as worm
from regreport.config import REPORT_TYPE_MIFIR, Settings

log = logging.getLogger(__name__)

REPORT_TABLE = "reports.rpt_mifir_rts22_transactions"
QUARANTINE_TABLE = "reports.rpt_mifir_rts22_quarantine"
SOURCE_TABLE = "raw.qsuite_executions"

#: Execution ids listed per quarantine reason in the run summary.
QUARANTINE_SAMPLE = 10
GX_SUMMARY_KEYS = ("success", "evaluated", "run_id", "data_docs")
_VALUE_IN_MESSAGE = re.compile(r"[Tt]he value '[^']*'")


class ReconciliationError(RuntimeError):
    """Source executions do not equal reported + quarantined + not reportable."""


class ReportInvalidError(RuntimeError):
    """The rendered file does not validate against the ESMA schemas."""


def extract(
    source_dsn: str, warehouse_dsn: str, start: datetime, end: datetime, run_id: str
) -> dict[str, Any]:
    """Land the period in `raw` (see `regreport.extract`)."""
    from regreport.extract import extract_period

    result = extract_period(source_dsn, warehouse_dsn, start, end, run_id)
    out = asdict(result)
    out["period_start"] = start.isoformat()
    out["period_end"] = end.isoformat()
    return out


def validate(settings: Settings, warehouse_dsn: str, day: date) -> dict[str, Any]:
    """Run the report's GX checkpoint for `day`; raise `ValidationFailedError` on failure."""
    from regreport import gx

    outcome = gx.run_checkpoint(
        settings.gx_root_dir, warehouse_dsn, "mifir_transactions_daily__report", day
    )
    log.info(outcome.summary())
    gx.require_success(outcome)
    return asdict(outcome)


def reconcile(conn: psycopg.Connection[Any], start: datetime, end: datetime) -> dict[str, Any]:
    """Count source, reported, quarantined and not-reportable executions; raise if they differ.

    Returns:
        The counts and, per quarantine reason, its count and up to ten execution ids.
    """
    bounds = {"start": start, "end": end}
    source = conn.execute(
        f"select count(*) from {SOURCE_TABLE} where executed_at >= %(start)s"
        " and executed_at < %(end)s",
        bounds,
    ).fetchone()[0]  # type: ignore[index]
    reported = conn.execute(
        f"select count(*) from {REPORT_TABLE} where trading_datetime >= %(start)s"
        " and trading_datetime < %(end)s",
        bounds,
    ).fetchone()[0]  # type: ignore[index]
    reasons = conn.execute(
        f"""
        select reason_code, reason_text, count(*),
               (array_agg(execution_id order by execution_id))[1:{QUARANTINE_SAMPLE}]
        from {QUARANTINE_TABLE}
        where executed_at >= %(start)s and executed_at < %(end)s
        group by reason_code, reason_text
        order by reason_code
        """,
        bounds,
    ).fetchall()
    quarantined = sum(r[2] for r in reasons)
    # Eligibility (instrument not in scope, not an RTS 22 transaction) comes with the full
    # field set; until then every execution is in scope.
    not_reportable = 0
    counts = {
        "source_executions": source,
        "reported": reported,
        "quarantined": quarantined,
        "not_reportable": not_reportable,
    }
    if source != reported + quarantined + not_reportable:
        raise ReconciliationError(
            f"counts do not reconcile for {start:%Y-%m-%d}: source {source} != reported "
            f"{reported} + quarantined {quarantined} + not reportable {not_reportable}"
        )
    quarantine = [
        {"reason_code": code, "reason": text, "count": n, "execution_ids": ids}
        for code, text, n, ids in reasons
    ]
    return {"counts": counts, "quarantine": quarantine}


def redact(message: str) -> str:
    """Drop the quoted value from an XSD error message, keeping the element and the rule."""
    return _VALUE_IN_MESSAGE.sub("the value", message)


def _records(conn: psycopg.Connection[Any], start: datetime, end: datetime) -> Any:
    """Report rows in tx_id order, streamed with a server-side cursor."""
    from psycopg.rows import dict_row

    cur = conn.cursor(name="rpt_mifir_rts22", row_factory=dict_row)
    cur.itersize = 5000
    cur.execute(
        f"select * from {REPORT_TABLE} where trading_datetime >= %s and trading_datetime < %s"
        " order by tx_id",
        (start, end),
    )
    return cur


def _firm(conn: psycopg.Connection[Any]) -> tuple[str, str]:
    row = conn.execute(
        "select firm_lei, firm_country_code from staging.stg_qsuite__firm"
    ).fetchone()
    if row is None:
        raise LookupError("no firm in raw.qsuite_firm: the executing entity's LEI is unknown")
    return str(row[0]), str(row[1])


def report_file_name(lei: str, day: date, sequence: int = 1) -> str:
    """`MIFIR_RTS22_<LEI>_<YYYYMMDD>_<NNN>.xml`: sortable, one name per firm, day and part."""
    return f"MIFIR_RTS22_{lei}_{day:%Y%m%d}_{sequence:03d}.xml"


def render(
    settings: Settings,
    warehouse_dsn: str,
    start: datetime,
    end: datetime,
    run_ids: dict[str, str],
    gx_outcome: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Reconcile, render, XSD-validate and hash the period's report; write its manifest.

    The creation timestamp in the header is the end of the period, not the wall clock, so the
    same input renders the same bytes.
    """
    from regreport.manifest import build_manifest, write_manifest
    from regreport.xml.render import ReportHeader, make_business_message_id, render_auth016
    from regreport.xml.schema import validate_file

    day = start.date()
    with psycopg.connect(warehouse_dsn) as conn:
        recon = reconcile(conn, start, end)
        lei, firm_country = _firm(conn)
        nca = settings.nca_country or firm_country
        header = ReportHeader(
            from_lei=lei,
            to_country=nca,
            business_message_id=make_business_message_id(REPORT_TYPE_MIFIR, day, end.date()),
            created_at=end.astimezone(UTC),
            schema_version=settings.schema_version,
        )
        out_dir = settings.output_dir / REPORT_TYPE_MIFIR / f"{day:%Y/%m/%d}"
        out_dir.mkdir(parents=True, exist_ok=True)
        if recon["counts"]["reported"] == 0:
            # auth.016 needs at least one Tx: with nothing reportable, no file is sent.
            log.warning("no reportable transactions for %s; no report file", day)
            return _built(start, end, None, None, 0, recon, gx_outcome, {})
        path = out_dir / report_file_name(lei, day)
        partial = path.with_suffix(".xml.partial")
        with conn.transaction():
            rendered = render_auth016(partial, header, _records(conn, start, end))
    if rendered.record_count != recon["counts"]["reported"]:
        raise ReconciliationError(
            f"rendered {rendered.record_count} records but the report table holds "
            f"{recon['counts']['reported']}"
        )
    report = validate_file(partial, settings.schemas_dir, settings.schema_version)
    if not report.valid:
        rejected = path.with_suffix(".xml.invalid")
        partial.replace(rejected)
        # Schema messages quote the offending value, which may be a national id or a name:
        # task logs get the element and the rule only (the file itself has the value).
        first = "; ".join(f"line {e.line}: {redact(e.message)}" for e in report.errors[:5])
        raise ReportInvalidError(
            f"{rejected.name} fails the ESMA {settings.schema_version} schemas "
            f"({len(report.errors)} errors): {first}"
        )
    partial.replace(path)
    manifest = build_manifest(
        report_type=REPORT_TYPE_MIFIR,
        schema_version=settings.schema_version,
        period_start=start,
        period_end=end,
        report_file=path,
        record_count=rendered.record_count,
        run_ids=run_ids,
        counts=recon["counts"],
    )
    manifest_path = path.with_name(path.name + ".manifest.json")
    write_manifest(manifest_path, manifest)
    return _built(start, end, path, manifest_path, rendered.bytes, recon, gx_outcome, manifest)


def _built(
    start: datetime,
    end: datetime,
    path: Path | None,
    manifest_path: Path | None,
    size: int,
    recon: dict[str, Any],
    gx_outcome: dict[str, Any] | None,
    manifest: dict[str, Any],
) -> dict[str, Any]:
    """The render step's result, passed to archive and register (JSON-serialisable)."""
    return {
        "report_type": REPORT_TYPE_MIFIR,
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "report_path": str(path) if path else None,
        "manifest_path": str(manifest_path) if manifest_path else None,
        "file_name": path.name if path else None,
        "sha256": manifest.get("sha256"),
        "bytes": size,
        "record_count": recon["counts"]["reported"],
        "counts": recon["counts"],
        "quarantine": recon["quarantine"],
        "manifest": manifest,
        "gx": {k: (gx_outcome or {}).get(k) for k in GX_SUMMARY_KEYS},
    }


def archive_key(built: dict[str, Any]) -> str:
    """Content-addressed key: a new report never lands on an existing object."""
    day = date.fromisoformat(built["period_start"][:10])
    return f"{built['report_type']}/{day:%Y/%m/%d}/{built['sha256']}/{built['file_name']}"


def archive(
    settings: Settings, client: Any, built: dict[str, Any], now: datetime | None = None
) -> dict[str, Any]:
    """Put report and manifest under Object Lock; re-archive nothing that is already there."""
    if built["report_path"] is None:
        return {
            "s3_uri": None,
            "version_id": None,
            "retain_until": None,
            "already_archived": False,
            "manifest_uri": None,
            "manifest_version_id": None,
        }
    retain_until = worm.retention_until(now or datetime.now(tz=UTC), settings.retention_days)
    worm.ensure_bucket(client, settings.s3_bucket)
    key = archive_key(built)
    report = worm.archive_file(
        client,
        settings.s3_bucket,
        key,
        Path(built["report_path"]),
        sha256_hex=built["sha256"],
        retain_until=retain_until,
        metadata={"report-type": built["report_type"], "period": built["period_start"][:10]},
    )
    manifest = None
    if not report.already_archived:
        from regreport.manifest import sha256_file

        manifest_path = Path(built["manifest_path"])
        manifest = worm.archive_file(
            client,
            settings.s3_bucket,
            key + ".manifest.json",
            manifest_path,
            sha256_hex=sha256_file(manifest_path),
            retain_until=report.retain_until,
        )
    return {
        "s3_uri": report.uri,
        "version_id": report.version_id,
        "retain_until": report.retain_until.isoformat(),
        "already_archived": report.already_archived,
        "manifest_uri": manifest.uri if manifest else None,
        "manifest_version_id": manifest.version_id if manifest else None,
    }


def summary_path(settings: Settings, day: date) -> Path:
    """Where the last run for `day` leaves its summary (read by `regreport run`)."""
    return settings.output_dir / REPORT_TYPE_MIFIR / f"{day:%Y/%m/%d}" / "run_summary.json"


def register(
    settings: Settings,
    warehouse_dsn: str,
    built: dict[str, Any],
    archived: dict[str, Any],
    dag_run_id: str | None,
) -> dict[str, Any]:
    """Record the report in the registry; write and return the run summary."""
    if built["report_path"] is None:
        return _write_summary(settings, dag_run_id, built, archived, None)
    with psycopg.connect(warehouse_dsn) as conn:
        row = registry.register(
            conn,
            report_type=built["report_type"],
            period_start=date.fromisoformat(built["period_start"][:10]),
            period_end=date.fromisoformat(built["period_end"][:10]),
            file_name=built["file_name"],
            sha256=built["sha256"],
            record_count=built["record_count"],
            size=built["bytes"],
            status="ARCHIVED",
            s3_uri=archived["s3_uri"],
            s3_version_id=archived["version_id"],
            retain_until=datetime.fromisoformat(archived["retain_until"]),
            manifest=built["manifest"],
            dag_run_id=dag_run_id,
        )
    return _write_summary(settings, dag_run_id, built, archived, row)


def _write_summary(
    settings: Settings,
    dag_run_id: str | None,
    built: dict[str, Any],
    archived: dict[str, Any],
    row: registry.RegisteredReport | None,
) -> dict[str, Any]:
    summary = {
        "period": built["period_start"][:10],
        "dag_run_id": dag_run_id,
        "report_id": row.report_id if row else None,
        "new_report": row.created if row else False,
        "status": row.status if row else "NOTHING_TO_REPORT",
        "file": built["report_path"],
        "manifest": built["manifest_path"],
        "records": built["record_count"],
        "sha256": built["sha256"],
        "s3_uri": row.s3_uri if row else None,
        "version_id": row.s3_version_id if row else None,
        "retain_until": archived["retain_until"],
        "already_archived": archived["already_archived"],
        "counts": built["counts"],
        "quarantine": built["quarantine"],
        "gx": built["gx"],
        "generated_by": f"regreport {__version__}",
    }
    path = summary_path(settings, date.fromisoformat(summary["period"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
    log.info("report summary: %s", json.dumps(summary, default=str))
    return summary
