"""The MiFIR daily report's steps as plain functions: what the DAG's tasks (and tests) call.

Each step takes DSNs, clients and paths, and returns a JSON-serialisable dict that Airflow can
pass on as XCom. None of this imports Airflow.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import re
from dataclasses import asdict, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from regreport import __version__, ledger, registry
from regreport import archive as worm
from regreport.config import REPORT_TYPE_MIFIR, Settings
from regreport.manifest import sha256_file

if TYPE_CHECKING:
    from collections.abc import Iterator

log = logging.getLogger(__name__)

REPORT_TABLE = "reports.rpt_mifir_rts22_transactions"
QUARANTINE_TABLE = "reports.rpt_mifir_rts22_quarantine"
SOURCE_TABLE = "raw.qsuite_executions"
ELIGIBILITY_TABLE = "intermediate.int_mifir__eligibility"

#: Execution ids listed per quarantine reason in the run summary.
QUARANTINE_SAMPLE = 10
GX_SUMMARY_KEYS = ("success", "evaluated", "run_id", "data_docs")
_VALUE_IN_MESSAGE = re.compile(r"[Tt]he value '[^']*'")


class ReconciliationError(RuntimeError):
    """Source executions do not equal reported + quarantined + not reportable."""


class ReportInvalidError(RuntimeError):
    """The rendered file does not validate against the ESMA schemas."""


class PeriodNotEndedError(ValueError):
    """The period to report has not ended: its trades are not all known yet."""


#: Set to 1 to report a period that has not ended (tests only: the report would be partial).
ALLOW_OPEN_PERIOD_ENV = "REGREPORT_ALLOW_OPEN_PERIOD"


def require_ended(end: datetime, now: datetime | None = None) -> None:
    """Refuse a period that ends in the future, unless `REGREPORT_ALLOW_OPEN_PERIOD=1`.

    Reporting an open day would send a partial report, and file the rest of the day's trades
    as corrections; a day is reported once it has ended.
    """
    import os

    now = now or datetime.now(tz=UTC)
    if end <= now or os.environ.get(ALLOW_OPEN_PERIOD_ENV) == "1":
        return
    raise PeriodNotEndedError(
        f"the period ending {end:%Y-%m-%d %H:%M} UTC has not ended yet "
        f"(now {now:%Y-%m-%d %H:%M} UTC): report a day once it is over "
        f"(set {ALLOW_OPEN_PERIOD_ENV}=1 to force a partial run in a test)"
    )


def audit_step(
    target: str | psycopg.Connection[Any],
    action: str,
    object_type: str,
    object_id: str | None,
    *,
    run_id: str | None,
    after: Any = None,
    before: Any = None,
) -> None:
    """Append one audit entry: in `target`'s transaction (a connection) or on its own (a DSN)."""
    from regreport import audit

    entry = {
        "action": action,
        "actor": audit.actor(),
        "object_type": object_type,
        "object_id": object_id,
        "run_id": run_id,
        "after": after,
        "before": before,
    }
    if isinstance(target, str):
        audit.record_dsn(target, **entry)
    else:
        audit.record(target, **entry)


def extract(
    source_dsn: str, warehouse_dsn: str, start: datetime, end: datetime, run_id: str
) -> dict[str, Any]:
    """Land the period in `raw` (see `regreport.extract`); refuse a period not yet ended."""
    from regreport.extract import extract_period

    require_ended(end)
    result = extract_period(source_dsn, warehouse_dsn, start, end, run_id)
    out = asdict(result)
    out["period_start"] = start.isoformat()
    out["period_end"] = end.isoformat()
    audit_step(
        warehouse_dsn, "extract", "period", out["period_start"][:10], run_id=run_id, after=out
    )
    return out


def validate(
    settings: Settings, warehouse_dsn: str, day: date, run_id: str | None = None
) -> dict[str, Any]:
    """Run the MiFIR report's GX checkpoint for `day`; raise `ValidationFailedError` on failure."""
    return validate_checkpoint(
        settings, warehouse_dsn, "mifir_transactions_daily__report", day, run_id
    )


def validate_checkpoint(
    settings: Settings, warehouse_dsn: str, checkpoint: str, day: date, run_id: str | None = None
) -> dict[str, Any]:
    """Run a report's GX checkpoint for `day` and audit it.

    Raises `ValidationFailedError` on failure: nothing downstream may run on unvalidated data.
    """
    from regreport import gx

    outcome = gx.run_checkpoint(settings.gx_root_dir, warehouse_dsn, checkpoint, day)
    log.info(outcome.summary())
    result = {k: v for k, v in asdict(outcome).items() if k in GX_SUMMARY_KEYS}
    audit_step(warehouse_dsn, "validate", "period", day.isoformat(), run_id=run_id, after=result)
    gx.require_success(outcome)
    return asdict(outcome)


def apply_rules(
    settings: Settings, warehouse_dsn: str, start: datetime, end: datetime, run_id: str
) -> dict[str, Any]:
    """Evaluate the rule catalogue on the run's candidate records (see `regreport.gate`)."""
    from regreport.gate import run_gate

    with psycopg.connect(warehouse_dsn) as conn:
        _audit_rule_catalogue(conn, run_id)
        result = run_gate(conn, start, end, settings.refdata_dir, run_id)
        out = json.loads(json.dumps(asdict(result), default=str))
        audit_step(
            conn, "rules.evaluate", "period", start.date().isoformat(), run_id=run_id, after=out
        )
        conn.commit()
    log.info("rule gate: %s", json.dumps(out, default=str))
    return out


def _audit_rule_catalogue(conn: psycopg.Connection[Any], run_id: str) -> None:
    """Record a "rule.change" when the rule catalogue differs from the one last recorded."""
    from importlib.resources import files

    from regreport import audit
    from regreport.rules import _registry

    text = files("regreport.rules").joinpath(_registry.CATALOGUE_RESOURCE).read_bytes()
    digest = hashlib.sha256(text).hexdigest()
    audit.ensure_schema(conn)
    row = conn.execute(
        "select after from regreport.audit_log where action = 'rule.change'"
        " order by seq desc limit 1"
    ).fetchone()
    before = row[0] if row else None
    if before is None or before.get("sha256") != digest:
        after = {"sha256": digest, "rules": len(json.loads(text)), "catalogue": "registry.json"}
        audit_step(
            conn,
            "rule.change",
            "rule_catalogue",
            "mifir",
            run_id=run_id,
            before=before,
            after=after,
        )


def scope_sql(source_table: str = SOURCE_TABLE) -> str:
    """The execution ids of a run: executed in the period, or changed in it (corrections)."""
    return (
        f"select execution_id from {source_table}"
        " where (executed_at >= %(start)s and executed_at < %(end)s)"
        " or (updated_at >= %(start)s and updated_at < %(end)s)"
    )


def withdrawn_sql() -> str:
    """Executions of the run scope the source itself withdrew: only their reports are cancelled.

    Not reportable by eligibility (busted, instrument out of scope, not a transaction): a
    deliberate change in the source. An execution that merely fails a rule now is not here.
    """
    return (
        f"select execution_id from {ELIGIBILITY_TABLE}"
        f" where not is_reportable and execution_id in ({scope_sql()})"
    )


def reconcile(conn: psycopg.Connection[Any], start: datetime, end: datetime) -> dict[str, Any]:
    """Count every source execution the run read into one bucket; raise if they do not add up.

    The run read its scope: executions traded in the period and executions changed in it
    (corrections of earlier days, and rows whose trade time is wrong, e.g. in the future).
    Each lands in exactly one bucket: reported, quarantined or not reportable. A source row
    duplicating another's execution id is counted too (quarantined with it).

    Returns:
        The counts, the part of the scope traded in the period, and per quarantine reason its
        count (source rows), how many of those hold back an accepted amendment, and up to
        ten execution ids.
    """
    bounds = {"start": start, "end": end}
    scope = f"select execution_id, executed_at, _source_copies from {SOURCE_TABLE} where " + (
        "(executed_at >= %(start)s and executed_at < %(end)s)"
        " or (updated_at >= %(start)s and updated_at < %(end)s)"
    )
    row = conn.execute(
        f"""
        with scope as ({scope})
        select
            coalesce(sum(_source_copies), 0),
            count(*) filter (where executed_at >= %(start)s and executed_at < %(end)s),
            count(*) filter (where executed_at < %(start)s),
            count(*) filter (where executed_at >= %(end)s),
            (select count(distinct r.execution_id) from {REPORT_TABLE} as r
             where r.execution_id in (select execution_id from scope)),
            (select count(*) from {ELIGIBILITY_TABLE} as e
             where not e.is_reportable and e.execution_id in (select execution_id from scope))
        from scope
        """,
        bounds,
    ).fetchone()
    source, in_period, earlier, later, reported, not_reportable = (int(v) for v in row or ())
    reasons = conn.execute(
        f"""
        with scope as ({scope})
        select q.reason_code, q.reason_text, sum(coalesce(q.source_rows, 1))::bigint,
               count(*) filter (where {_held_sql("q")}),
               (array_agg(q.execution_id order by q.execution_id))[1:{QUARANTINE_SAMPLE}]
        from {QUARANTINE_TABLE} as q
        join scope as s on s.execution_id = q.execution_id
        group by q.reason_code, q.reason_text
        order by q.reason_code
        """,
        bounds,
    ).fetchall()
    quarantined = sum(int(r[2]) for r in reasons)
    excluded = conn.execute(
        f"""
        with scope as ({scope})
        select not_reportable_reason, count(*)
        from {ELIGIBILITY_TABLE}
        where not is_reportable and execution_id in (select execution_id from scope)
        group by 1 order by 1
        """,
        bounds,
    ).fetchall()
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
        {
            "reason_code": code,
            "reason": text,
            "count": int(n),
            "amendments_held": int(held),
            "execution_ids": ids,
        }
        for code, text, n, held, ids in reasons
    ]
    return {
        "counts": counts,
        "scope": {"traded_in_period": in_period, "traded_earlier": earlier, "traded_later": later},
        "quarantine": quarantine,
        "not_reportable": {reason: n for reason, n in excluded},
    }


def _held_sql(quarantine: str) -> str:
    """SQL: the quarantined execution has a TxId whose last ledger entry is a `New`.

    That is an amendment held: the regulator holds a version (unless it rejected it, which
    `regreport exceptions` lists apart), and nothing cancels it while the source is wrong.
    """
    return f"""exists (
        select 1 from (
            select distinct on (tx_id) action from {ledger.SCHEMA}.transaction_ledger
            where execution_id = {quarantine}.execution_id
            order by tx_id, entry_id desc
        ) as last_entry
        where last_entry.action = '{ledger.NEW}'
    )"""


def held_amendments(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """Reported transactions whose execution now fails a blocking rule: amendments held.

    The regulator keeps the version last sent (nothing is cancelled for a bad source value);
    the quarantine says what to fix. Once fixed, the next run sends `Cxl` + `New`.
    """
    row = conn.execute("select to_regclass(%s)", (QUARANTINE_TABLE,)).fetchone()
    if row is None or row[0] is None:
        return []
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"""
            select l.tx_id, q.execution_id, q.trading_date, q.reason_codes,
                   g.report_id, g.file_name, l.created_at as sent_at
            from {QUARANTINE_TABLE} as q
            join lateral (
                select distinct on (tx_id) tx_id, action, report_id, created_at
                from {ledger.SCHEMA}.transaction_ledger
                where execution_id = q.execution_id
                order by tx_id, entry_id desc
            ) as l on l.action = '{ledger.NEW}'
            join {ledger.SCHEMA}.report_registry as g on g.report_id = l.report_id
            order by q.trading_date, l.tx_id
            """
        )
        return list(cur.fetchall())


def redact(message: str) -> str:
    """Drop the quoted value from an XSD error message, keeping the element and the rule."""
    return _VALUE_IN_MESSAGE.sub("the value", message)


def _firm(conn: psycopg.Connection[Any]) -> tuple[str, str]:
    row = conn.execute(
        "select firm_lei, firm_country_code from staging.stg_qsuite__firm"
    ).fetchone()
    if row is None:
        raise LookupError("no firm in raw.qsuite_firm: the executing entity's LEI is unknown")
    return str(row[0]), str(row[1])


def _submission_records(
    conn: psycopg.Connection[Any],
    plan: ledger.Plan,
    lei: str,
    bounds: dict[str, Any],
    entries: list[ledger.LedgerEntry],
) -> Iterator[dict[str, Any]]:
    """Cancellations (TxId order), then the new reports (TxId order), streamed.

    Every record yielded is appended to `entries`, so the caller learns the ledger entries
    of the file in file order without a second pass.
    """
    for tx_id, execution_id in plan.cancels:
        entries.append(ledger.LedgerEntry(tx_id, execution_id, ledger.CANCEL, None))
        yield {
            "record_type": ledger.CANCEL,
            "tx_id": tx_id,
            "executing_entity_lei": lei,
            "submitting_entity_lei": lei,
        }
    if not plan.news:
        return
    from psycopg.rows import dict_row

    news = plan.news
    with conn.cursor(name="rpt_mifir_rts22", row_factory=dict_row) as cur:
        cur.itersize = 5000
        cur.execute(
            f"""
            select r.*, {ledger.record_hash_sql("r")} as record_sha256
            from {REPORT_TABLE} as r
            where r.execution_id in ({scope_sql()})
            order by r.tx_id
            """,
            bounds,
        )
        for row in cur:
            if row["tx_id"] in news:
                entries.append(
                    ledger.LedgerEntry(
                        row["tx_id"], row["execution_id"], ledger.NEW, row["record_sha256"]
                    )
                )
                yield row


def _render_submission(
    settings: Settings,
    conn: psycopg.Connection[Any],
    *,
    plan: ledger.Plan,
    start: datetime,
    end: datetime,
    lei: str,
    nca: str,
    seq: int,
    out_dir: Path,
) -> tuple[list[Any], list[ledger.LedgerEntry]]:
    """Render one submission (split into parts) into `out_dir`; return parts and entries."""
    from regreport import naming
    from regreport.xml.render import ReportHeader, make_business_message_id, render_auth016_parts

    day = start.date()

    def header(part: int) -> ReportHeader:
        return ReportHeader(
            from_lei=lei,
            to_country=nca,
            business_message_id=make_business_message_id(
                REPORT_TYPE_MIFIR, day, sequence=seq, part=part
            ),
            created_at=end.astimezone(UTC),
            schema_version=settings.schema_version,
        )

    def name(part: int, part_count: int) -> str:
        return naming.file_name(
            settings.file_naming,
            sender_lei=lei,
            nca_country=nca,
            report_type=REPORT_TYPE_MIFIR,
            period_start=day,
            sequence=seq,
            part=part,
            part_count=part_count,
        )

    entries: list[ledger.LedgerEntry] = []
    bounds = {"start": start, "end": end}
    out_dir.mkdir(parents=True, exist_ok=True)
    with conn.transaction():
        parts = render_auth016_parts(
            out_dir,
            name,
            header,
            _submission_records(conn, plan, lei, bounds, entries),
            max_records=settings.max_records_per_file,
            max_bytes=settings.max_bytes_per_file,
        )
    return parts, entries


def _split_entries(
    parts: list[Any], entries: list[ledger.LedgerEntry]
) -> list[list[ledger.LedgerEntry]]:
    out, offset = [], 0
    for part in parts:
        out.append(entries[offset : offset + part.record_count])
        offset += part.record_count
    if offset != len(entries):
        raise ReconciliationError(f"rendered {offset} records but planned {len(entries)}")
    return out


def _write_ledger_sidecar(path: Path, entries: list[ledger.LedgerEntry]) -> None:
    """The file's records as sent (ids, actions, content hashes; no personal data)."""
    tmp = path.with_name(path.name + ".part")
    with tmp.open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(("position", "tx_id", "execution_id", "action", "record_sha256"))
        for position, e in enumerate(entries, start=1):
            writer.writerow((position, e.tx_id, e.execution_id, e.action, e.record_sha256 or ""))
    tmp.replace(path)


def read_ledger_sidecar(path: Path) -> list[ledger.LedgerEntry]:
    """Entries written by `_write_ledger_sidecar`, in file order."""
    with path.open(newline="") as fh:
        return [
            ledger.LedgerEntry(
                row["tx_id"],
                int(row["execution_id"]) if row["execution_id"] else None,
                row["action"],
                row["record_sha256"] or None,
            )
            for row in csv.DictReader(fh)
        ]


def render(
    settings: Settings,
    warehouse_dsn: str,
    start: datetime,
    end: datetime,
    run_ids: dict[str, str],
    gx_outcome: dict[str, Any] | None = None,
    *,
    only_rejected: bool = False,
    resend_unchanged: bool = False,
) -> dict[str, Any]:
    """Reconcile, plan, render, XSD-validate and hash the period's submission.

    What is sent is the difference between the report table and the transaction ledger: new
    transactions, `Cxl` + `New` for amended ones, `Cxl` for those the source withdrew (a reported
    one that now fails a rule is held, never cancelled: `ledger.Plan.held`). A rerun
    first re-plans against the ledger as it was before the period's last submission: if that
    reproduces the submission byte for byte, the run is a rerun of it (nothing new is sent);
    otherwise the changes since are a new submission with the next sequence number. The header
    timestamp is the end of the period, never the wall clock.

    Records the regulator rejected are sent again (as `New`, linked to the rejected version)
    once their content has changed; `only_rejected` restricts a run to them (a resubmission
    after a source fix) and `resend_unchanged` resends them even unchanged (e.g. a CON-412
    instrument that the regulator's reference data now knows).
    """
    from regreport.manifest import build_manifest, write_manifest
    from regreport.xml.schema import validate_file

    day = start.date()
    out_dir = settings.output_dir / REPORT_TYPE_MIFIR / f"{day:%Y/%m/%d}"
    with psycopg.connect(warehouse_dsn) as conn:
        registry.ensure_schema(conn)
        conn.commit()
        recon = reconcile(conn, start, end)
        lei, firm_country = _firm(conn)
        nca = settings.nca_country or firm_country
        seq, identical_to, plan, parts, entries = _build_submission(
            settings,
            conn,
            start=start,
            end=end,
            lei=lei,
            nca=nca,
            out_dir=out_dir,
            options={"only_rejected": only_rejected, "resend_unchanged": resend_unchanged},
        )
    changes = {
        "new": len(plan.news) - len(plan.amended),
        "amended": len(plan.amended),
        "cancelled": len(plan.cancels) - len(plan.amended),
        "unchanged": plan.unchanged,
        "records": plan.record_count,
        "resubmitted": len(plan.resubmitted),
        "held_back": len(plan.held_back),
        "held_amendments": len(plan.held),
    }
    if plan.held:
        log.warning(
            "%d accepted transaction(s) now fail a blocking rule: not cancelled, the last "
            "version sent stands until the source is fixed (`regreport exceptions`): %s",
            len(plan.held),
            ", ".join(tx for tx, _ in plan.held[:20]) + (" ..." if len(plan.held) > 20 else ""),
        )
    if plan.held_back:
        log.warning(
            "%d rejected record(s) unchanged since their rejection, not resent (fix the source, "
            "or resend with resend_unchanged): %s",
            len(plan.held_back),
            ", ".join(plan.held_back[:20]) + (" ..." if len(plan.held_back) > 20 else ""),
        )
    if not parts:
        log.warning("nothing to send for %s: no new, amended or cancelled transactions", day)
        return _built(start, end, seq, [], recon, changes, gx_outcome, identical_to)
    files = []
    for part, part_entries in zip(parts, _split_entries(parts, entries), strict=True):
        path = part.path
        report = validate_file(path, settings.schemas_dir, settings.schema_version)
        if not report.valid:
            rejected = path.with_name(path.name + ".invalid")
            path.replace(rejected)
            # Schema messages quote the offending value, which may be a national id or a name:
            # task logs get the element and the rule only (the file itself has the value).
            first = "; ".join(f"line {e.line}: {redact(e.message)}" for e in report.errors[:5])
            raise ReportInvalidError(
                f"{rejected.name} fails the ESMA {settings.schema_version} schemas "
                f"({len(report.errors)} errors): {first}"
            )
        manifest = build_manifest(
            report_type=REPORT_TYPE_MIFIR,
            schema_version=settings.schema_version,
            period_start=start,
            period_end=end,
            report_file=path,
            record_count=part.record_count,
            run_ids=run_ids,
            counts=recon["counts"],
            submission={
                "sequence": seq,
                "part": len(files) + 1,
                "part_count": len(parts),
                "cancellations": sum(e.action == ledger.CANCEL for e in part_entries),
                "new_reports": sum(e.action == ledger.NEW for e in part_entries),
            },
        )
        manifest_path = path.with_name(path.name + ".manifest.json")
        write_manifest(manifest_path, manifest)
        sidecar = path.with_name(path.name + ".ledger.csv")
        _write_ledger_sidecar(sidecar, part_entries)
        files.append(
            {
                "part": len(files) + 1,
                "report_path": str(path),
                "file_name": path.name,
                "manifest_path": str(manifest_path),
                "ledger_path": str(sidecar),
                "sha256": manifest["sha256"],
                "bytes": manifest["bytes"],
                "record_count": part.record_count,
                "manifest": manifest,
            }
        )
    return _built(start, end, seq, files, recon, changes, gx_outcome, identical_to)


def _build_submission(
    settings: Settings,
    conn: psycopg.Connection[Any],
    *,
    start: datetime,
    end: datetime,
    lei: str,
    nca: str,
    out_dir: Path,
    options: dict[str, bool],
) -> tuple[int, int | None, ledger.Plan, list[Any], list[ledger.LedgerEntry]]:
    """Decide what to send; return (sequence, rerun-of sequence, plan, parts, entries)."""
    day = start.date()
    bounds = {"start": start, "end": end}
    render_args = {"start": start, "end": end, "lei": lei, "nca": nca}
    latest = registry.latest_submission(conn, REPORT_TYPE_MIFIR, day)
    if latest is not None:
        # Replay the last submission: same ledger base, same sequence number.
        plan = ledger.plan(
            conn,
            report_table=REPORT_TABLE,
            scope_sql=scope_sql(),
            scope_params=bounds,
            withdrawn_sql=withdrawn_sql(),
            exclude_report_ids=latest.report_ids,
            **options,
        )
        parts: list[Any] = []
        entries: list[ledger.LedgerEntry] = []
        if plan.record_count:
            parts, entries = _render_submission(
                settings,
                conn,
                plan=plan,
                seq=latest.submission_seq,
                out_dir=out_dir / ".rerun",
                **render_args,
            )
        if tuple(sha256_file(p.path) for p in parts) == latest.sha256s:
            moved = [replace(p, path=p.path.replace(out_dir / p.path.name)) for p in parts]
            return latest.submission_seq, latest.submission_seq, plan, moved, entries
        for part in parts:
            part.path.unlink(missing_ok=True)
    seq = latest.submission_seq + 1 if latest else 1
    plan = ledger.plan(
        conn,
        report_table=REPORT_TABLE,
        scope_sql=scope_sql(),
        scope_params=bounds,
        withdrawn_sql=withdrawn_sql(),
        **options,
    )
    if not plan.record_count:
        return seq, None, plan, [], []
    parts, entries = _render_submission(
        settings, conn, plan=plan, seq=seq, out_dir=out_dir, **render_args
    )
    return seq, None, plan, parts, entries


def _built(
    start: datetime,
    end: datetime,
    seq: int,
    files: list[dict[str, Any]],
    recon: dict[str, Any],
    changes: dict[str, int],
    gx_outcome: dict[str, Any] | None,
    identical_to: int | None,
) -> dict[str, Any]:
    """The render step's result, passed to archive and register (JSON-serialisable)."""
    return {
        "report_type": REPORT_TYPE_MIFIR,
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "submission_seq": seq,
        "rerun_of_submission": identical_to,
        "files": files,
        "record_count": sum(f["record_count"] for f in files),
        "changes": changes,
        "counts": recon["counts"],
        "scope": recon.get("scope"),
        "quarantine": recon["quarantine"],
        "not_reportable": recon["not_reportable"],
        "gx": {k: (gx_outcome or {}).get(k) for k in GX_SUMMARY_KEYS},
    }


def archive_key(built: dict[str, Any], file: dict[str, Any]) -> str:
    """Content-addressed key: a new report never lands on an existing object."""
    day = date.fromisoformat(built["period_start"][:10])
    return f"{built['report_type']}/{day:%Y/%m/%d}/{file['sha256']}/{file['file_name']}"


def archive(
    settings: Settings, client: Any, built: dict[str, Any], now: datetime | None = None
) -> dict[str, Any]:
    """Put each file and its manifest under Object Lock; re-archive nothing already there."""
    results = []
    if built["files"]:
        retain_until = worm.retention_until(
            now or datetime.now(tz=UTC), settings.retention_days_for(built["report_type"])
        )
        worm.ensure_bucket(client, settings.s3_bucket)
    for file in built["files"]:
        key = archive_key(built, file)
        report = worm.archive_file(
            client,
            settings.s3_bucket,
            key,
            Path(file["report_path"]),
            sha256_hex=file["sha256"],
            retain_until=retain_until,
            metadata={"report-type": built["report_type"], "period": built["period_start"][:10]},
        )
        manifest = None
        if not report.already_archived:
            manifest_path = Path(file["manifest_path"])
            manifest = worm.archive_file(
                client,
                settings.s3_bucket,
                key + ".manifest.json",
                manifest_path,
                sha256_hex=sha256_file(manifest_path),
                retain_until=report.retain_until,
            )
        results.append(
            {
                "s3_uri": report.uri,
                "version_id": report.version_id,
                "retain_until": report.retain_until.isoformat(),
                "already_archived": report.already_archived,
                "manifest_uri": manifest.uri if manifest else None,
                "manifest_version_id": manifest.version_id if manifest else None,
            }
        )
    return {"files": results}


def sftp_retry_policy() -> Any:
    """Upload retries from `REGREPORT_SFTP_ATTEMPTS` (5) and `REGREPORT_SFTP_RETRY_DELAY` (2 s)."""
    import os

    from regreport.sftp import RetryPolicy

    return RetryPolicy(
        attempts=int(os.environ.get("REGREPORT_SFTP_ATTEMPTS") or 5),
        base_delay=float(os.environ.get("REGREPORT_SFTP_RETRY_DELAY") or 2.0),
    )


def submit(
    settings: Settings,
    conn: psycopg.Connection[Any],
    target: Any,
    registered: dict[str, Any],
    run_id: str | None = None,
) -> dict[str, Any]:
    """Deliver the run's files to the gateway (each exactly once); add it to the summary.

    Raises:
        FileNotFoundError: A file to submit is no longer in the output folder.
        regreport.transmit.SubmissionFailedError: The gateway did not take a file.
    """
    from regreport import transmit

    files = [(f["report_id"], Path(f["file"])) for f in registered.get("files", [])]
    earlier = transmit.backlog(conn, REPORT_TYPE_MIFIR, [rid for rid, _ in files])
    if earlier:
        log.warning(
            "%d earlier file(s) were archived but never submitted; submitting them first: %s",
            len(earlier),
            ", ".join(name for _, _, name in earlier),
        )
    files = [
        (rid, settings.output_dir / REPORT_TYPE_MIFIR / f"{day:%Y/%m/%d}" / name)
        for rid, day, name in earlier
    ] + files
    for report_id, path in files:
        if not path.exists():
            raise FileNotFoundError(
                f"{path} (report {report_id}) is not in the output folder; rerun the day to "
                "reproduce it (identical bytes) before submitting"
            )
    outcomes = transmit.submit_reports(conn, target, files, retry=sftp_retry_policy())
    for outcome in outcomes:
        if outcome.uploaded or outcome.already_present:
            audit_step(
                conn,
                "report.submit",
                "report",
                str(outcome.report_id),
                run_id=run_id,
                after={
                    "gateway": f"{target.host}:{target.port}",
                    "remote_path": outcome.remote_path,
                    "uploaded": outcome.uploaded,
                    "found_on_gateway": outcome.already_present,
                },
            )
    conn.commit()
    result = {
        "period": registered.get("period"),
        "gateway": f"{target.host}:{target.port}",
        "files": [asdict(o) for o in outcomes],
        "backlog": [rid for rid, _, _ in earlier],
    }
    update_summary(settings, registered.get("period"), "submission", result)
    return result


def archive_feedback(
    settings: Settings, client: Any, path: Path, sha256: str, now: datetime | None = None
) -> worm.ArchiveResult:
    """Keep the regulator's feedback file write-once, next to the reports it answers."""
    now = now or datetime.now(tz=UTC)
    worm.ensure_bucket(client, settings.s3_bucket)
    return worm.archive_file(
        client,
        settings.s3_bucket,
        f"feedback/{REPORT_TYPE_MIFIR}/{now:%Y/%m/%d}/{sha256}/{path.name}",
        path,
        sha256_hex=sha256,
        retain_until=worm.retention_until(now, settings.retention_days_for("feedback")),
        metadata={"report-type": REPORT_TYPE_MIFIR, "kind": "feedback"},
    )


def update_summary(settings: Settings, period: str | None, key: str, value: Any) -> None:
    """Add a section (e.g. the submission or the regulator's answer) to a run's summary."""
    if not period:
        return
    path = summary_path(settings, date.fromisoformat(period[:10]))
    if not path.exists():
        return
    summary = json.loads(path.read_text())
    summary[key] = value
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
    tmp.replace(path)


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
    """Record each file (and, for new files, its ledger entries); write the run summary."""
    rows: list[registry.RegisteredReport] = []
    if built["files"]:
        with psycopg.connect(warehouse_dsn) as conn:
            for file, stored in zip(built["files"], archived["files"], strict=True):
                rows.append(
                    registry.register(
                        conn,
                        report_type=built["report_type"],
                        period_start=date.fromisoformat(built["period_start"][:10]),
                        period_end=date.fromisoformat(built["period_end"][:10]),
                        file_name=file["file_name"],
                        sha256=file["sha256"],
                        record_count=file["record_count"],
                        size=file["bytes"],
                        status="ARCHIVED",
                        s3_uri=stored["s3_uri"],
                        s3_version_id=stored["version_id"],
                        retain_until=datetime.fromisoformat(stored["retain_until"]),
                        manifest=file["manifest"],
                        dag_run_id=dag_run_id,
                        submission_seq=built["submission_seq"],
                        part=file["part"],
                        part_count=len(built["files"]),
                        ledger_entries=read_ledger_sidecar(Path(file["ledger_path"])),
                    )
                )
                audit_stored_file(conn, dag_run_id, file, stored, rows[-1])
            conn.commit()
    audit_step(
        warehouse_dsn,
        "report.render",
        "submission",
        f"{built['report_type']}/{built['period_start'][:10]}/S{built['submission_seq']:03d}",
        run_id=dag_run_id,
        after={
            "files": [f["file_name"] for f in built["files"]],
            "records": built["record_count"],
            "changes": built["changes"],
            "counts": built["counts"],
            "rerun_of_submission": built["rerun_of_submission"],
        },
    )
    return _write_summary(settings, dag_run_id, built, archived, rows)


def audit_stored_file(
    conn: psycopg.Connection[Any],
    run_id: str | None,
    file: dict[str, Any],
    stored: dict[str, Any],
    row: registry.RegisteredReport,
) -> None:
    """Audit one file: archived (unless it already was) and registered."""
    if not stored["already_archived"]:
        audit_step(
            conn,
            "report.archive",
            "s3_object",
            stored["s3_uri"],
            run_id=run_id,
            after={
                "version_id": stored["version_id"],
                "retain_until": stored["retain_until"],
                "sha256": file["sha256"],
                "manifest_uri": stored["manifest_uri"],
            },
        )
    audit_step(
        conn,
        "report.register",
        "report",
        str(row.report_id),
        run_id=run_id,
        after={
            "file_name": file["file_name"],
            "sha256": file["sha256"],
            "records": file["record_count"],
            "new_report": row.created,
        },
    )


def _write_summary(
    settings: Settings,
    dag_run_id: str | None,
    built: dict[str, Any],
    archived: dict[str, Any],
    rows: list[registry.RegisteredReport],
) -> dict[str, Any]:
    files = [
        {
            "part": file["part"],
            "file": file["report_path"],
            "manifest": file["manifest_path"],
            "records": file["record_count"],
            "sha256": file["sha256"],
            "report_id": row.report_id,
            "new_report": row.created,
            "status": row.status,
            "s3_uri": row.s3_uri,
            "version_id": row.s3_version_id,
            "retain_until": stored["retain_until"],
            "already_archived": stored["already_archived"],
        }
        for file, stored, row in zip(built["files"], archived["files"], rows, strict=True)
    ]
    first = files[0] if files else {}
    summary = {
        "period": built["period_start"][:10],
        "dag_run_id": dag_run_id,
        "submission_seq": built["submission_seq"],
        "rerun_of_submission": built["rerun_of_submission"],
        "status": first.get("status", "NOTHING_TO_SEND"),
        "new_report": any(f["new_report"] for f in files),
        "already_archived": bool(files) and all(f["already_archived"] for f in files),
        "records": built["record_count"],
        "files": files,
        # The first file's identity, for a one-file day (the common case).
        "file": first.get("file"),
        "manifest": first.get("manifest"),
        "sha256": first.get("sha256"),
        "s3_uri": first.get("s3_uri"),
        "version_id": first.get("version_id"),
        "retain_until": first.get("retain_until"),
        "changes": built["changes"],
        "counts": built["counts"],
        "scope": built.get("scope"),
        "quarantine": built["quarantine"],
        "not_reportable": built["not_reportable"],
        "gx": built["gx"],
        "generated_by": f"regreport {__version__}",
    }
    path = summary_path(settings, date.fromisoformat(summary["period"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
    log.info("report summary: %s", json.dumps(summary, default=str))
    return summary


def reconcile_with_regulator(
    warehouse_dsn: str, source_dsn: str, day: date, *, mi_days: int = 10
) -> dict[str, Any]:
    """RTS 22 Art. 15: reconcile day `day` with the regulator's view; refresh the MI table.

    The MI covers the `mi_days` business days up to `day`, so late feedback and resubmissions
    update the days before too. The reporting time zone for the T+1 deadline is
    `REGREPORT_REPORTING_TZ` (default UTC); extra closing days come from
    `REGREPORT_EXTRA_HOLIDAYS`.

    Raises:
        ReconciliationError: The source has executions on `day` but the warehouse has no
            report rows for it (the daily report has not run): there is nothing to reconcile
            against, and an empty reconciliation would look clean.
    """
    import os

    from regreport import reconciliation
    from regreport.calendar import calendar_from_env

    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    end = start + timedelta(days=1)
    calendar = calendar_from_env()
    tz = os.environ.get("REGREPORT_REPORTING_TZ") or "UTC"
    with psycopg.connect(warehouse_dsn) as conn:
        row = conn.execute("select to_regclass(%s)", (reconciliation.REPORT_TABLE,)).fetchone()
        if row is None or row[0] is None:
            raise reconciliation.ReconciliationError(
                f"{reconciliation.REPORT_TABLE} does not exist in this warehouse yet: run "
                "mifir_transactions_daily (or `regreport run`) for a day first"
            )
        with psycopg.connect(source_dsn) as src:
            row = src.execute(
                "select count(*) from qsuite.executions"
                " where executed_at >= %s and executed_at < %s",
                (start, end),
            ).fetchone()
        source_executions = int(row[0]) if row else 0
        reconciliation.ensure_schema(conn)
        conn.commit()
        result = reconciliation.reconcile_day(conn, day)
        if source_executions and not result.source_records:
            raise reconciliation.ReconciliationError(
                f"QSuite has {source_executions:,} executions on {day} but the warehouse has no "
                f"report or quarantine rows for that day: run mifir_transactions_daily for {day} "
                "first (nothing to reconcile against)"
            )
        rows = reconciliation.submission_mi(
            conn,
            start=calendar.add_business_days(calendar.on_or_before(day), -(mi_days - 1)),
            end=day,
            calendar=calendar,
            tz=tz,
        )
        reconciliation.write_mi(conn, rows)
    breaks = [asdict(i) for i in result.items if i.bucket != reconciliation.MATCHED]
    summary = {
        "trading_date": day.isoformat(),
        "run_id": result.run_id,
        "source_executions": source_executions,
        "counts": result.counts,
        "breaks": breaks[:100],
        "breaks_total": len(breaks),
        "mi": [asdict(r) for r in rows],
    }
    # JSON-safe (dates, decimals as text) for XCom and the CLI.
    safe: dict[str, Any] = json.loads(json.dumps(summary, default=str))
    return safe
