"""The report registry: one row per distinct report file the platform produced and archived.

A report is identified by (report type, period, SHA-256): a rerun that renders the same bytes
finds its row and records the rerun instead of adding a report, which is how "no duplicate
submission" is enforced. Every run, including reruns, is kept in `report_runs` for the audit
question "who produced what, when".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from psycopg.rows import dict_row

if TYPE_CHECKING:
    from collections.abc import Iterable

    import psycopg

    from regreport.ledger import LedgerEntry

SCHEMA = "regreport"

DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {SCHEMA}.report_registry (
    report_id       bigint generated always as identity primary key,
    report_type     text not null,
    period_start    date not null,
    period_end      date not null,
    file_name       text not null,
    sha256          char(64) not null,
    record_count    integer not null,
    bytes           bigint not null,
    status          text not null,
    s3_uri          text,
    s3_version_id   text,
    retain_until    timestamptz,
    manifest        jsonb not null,
    dag_run_id      text,
    created_at      timestamptz not null default now(),
    unique (report_type, period_start, sha256)
);
-- A submission (one run's records for a period) may be split into several files (parts).
alter table {SCHEMA}.report_registry
    add column if not exists submission_seq integer not null default 1,
    add column if not exists part integer not null default 1,
    add column if not exists part_count integer not null default 1;
create table if not exists {SCHEMA}.report_runs (
    run_pk          bigint generated always as identity primary key,
    report_id       bigint not null references {SCHEMA}.report_registry (report_id),
    dag_run_id      text,
    outcome         text not null,
    recorded_at     timestamptz not null default now()
);
"""


@dataclass(frozen=True)
class RegisteredReport:
    """The registry row after `register`, and whether this run added it."""

    report_id: int
    created: bool
    status: str
    s3_uri: str | None
    s3_version_id: str | None


def ensure_schema(conn: psycopg.Connection[Any]) -> None:
    """Create the registry, ledger and submission tables if missing (add columns to old ones)."""
    from regreport import audit, ddl, ledger, submissions

    ddl.ensure(conn, "registry", DDL)
    ledger.ensure_schema(conn)
    submissions.ensure_schema(conn)
    audit.ensure_schema(conn)


@dataclass(frozen=True)
class Submission:
    """The files of one submission of a period, in part order."""

    submission_seq: int
    report_ids: tuple[int, ...]
    sha256s: tuple[str, ...]


def latest_submission(
    conn: psycopg.Connection[Any], report_type: str, period_start: date
) -> Submission | None:
    """The period's most recent complete submission, or None if nothing was registered."""
    ensure_schema(conn)
    rows = conn.execute(
        f"""
        select submission_seq, part, part_count, report_id, sha256
        from {SCHEMA}.report_registry
        where report_type = %s and period_start = %s
          and submission_seq = (
              select max(submission_seq) from {SCHEMA}.report_registry
              where report_type = %s and period_start = %s)
        order by part, report_id
        """,
        (report_type, period_start, report_type, period_start),
    ).fetchall()
    if not rows:
        return None
    return Submission(
        submission_seq=rows[0][0],
        report_ids=tuple(r[3] for r in rows),
        sha256s=tuple(str(r[4]) for r in rows),
    )


def register(
    conn: psycopg.Connection[Any],
    *,
    report_type: str,
    period_start: date,
    period_end: date,
    file_name: str,
    sha256: str,
    record_count: int,
    size: int,
    status: str,
    s3_uri: str | None,
    s3_version_id: str | None,
    retain_until: datetime | None,
    manifest: dict[str, Any],
    dag_run_id: str | None,
    submission_seq: int = 1,
    part: int = 1,
    part_count: int = 1,
    ledger_entries: Iterable[LedgerEntry] = (),
) -> RegisteredReport:
    """Add the report, or find the identical one already registered, and log this run.

    A new report's records go into the transaction ledger in the same transaction, so a
    registered file and its ledger entries exist together or not at all.
    """
    from regreport import ledger

    ensure_schema(conn)
    row = conn.execute(
        f"""
        insert into {SCHEMA}.report_registry (
            report_type, period_start, period_end, file_name, sha256, record_count, bytes,
            status, s3_uri, s3_version_id, retain_until, manifest, dag_run_id,
            submission_seq, part, part_count
        ) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        on conflict (report_type, period_start, sha256) do nothing
        returning report_id
        """,
        (
            report_type,
            period_start,
            period_end,
            file_name,
            sha256,
            record_count,
            size,
            status,
            s3_uri,
            s3_version_id,
            retain_until,
            json.dumps(manifest, sort_keys=True),
            dag_run_id,
            submission_seq,
            part,
            part_count,
        ),
    ).fetchone()
    created = row is not None
    if created:
        ledger.record(conn, row[0], ledger_entries)
    existing = conn.execute(
        f"""
        select report_id, status, s3_uri, s3_version_id from {SCHEMA}.report_registry
        where report_type = %s and period_start = %s and sha256 = %s
        """,
        (report_type, period_start, sha256),
    ).fetchone()
    assert existing is not None  # noqa: S101 - inserted or present by the statement above
    report_id, current_status, uri, version = existing
    conn.execute(
        f"insert into {SCHEMA}.report_runs (report_id, dag_run_id, outcome) values (%s, %s, %s)",
        (report_id, dag_run_id, "registered" if created else "rerun: identical report exists"),
    )
    conn.commit()
    return RegisteredReport(report_id, created, current_status, uri, version)


def list_reports(
    conn: psycopg.Connection[Any], report_type: str | None = None
) -> list[dict[str, Any]]:
    """Registry rows, newest period first, without the manifest body."""
    ensure_schema(conn)
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"""
            select r.report_id, r.report_type, r.period_start, r.period_end, r.file_name,
                   r.record_count, r.bytes, r.sha256, r.status, r.s3_uri, r.s3_version_id,
                   r.retain_until, r.created_at, r.submission_seq, r.part, r.part_count,
                   (select count(*) from {SCHEMA}.report_runs as u
                    where u.report_id = r.report_id) as runs,
                   coalesce(s.status, 'GENERATED') as submission_status, s.submitted_at
            from {SCHEMA}.report_registry as r
            left join {SCHEMA}.submissions as s using (report_id)
            where %(type)s::text is null or r.report_type = %(type)s
            order by r.period_start desc, r.report_id desc
            """,
            {"type": report_type},
        )
        return list(cur.fetchall())
