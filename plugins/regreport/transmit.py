"""Send registered report files to the regulator and bring its answers back.

`submit_reports` delivers each file of a run exactly once: the registry says whether the file
already went out (`regreport.submissions`: anything but GENERATED is never uploaded again), and
`regreport.sftp.upload_once` checks the gateway (a file already there with the same SHA-256 is
not uploaded twice). Only after the file is on the gateway, under its final name, is it marked
SUBMITTED; a failed upload is recorded as an attempt and marks nothing.

`collect_feedback` lists the gateway's outbox, downloads each file it has not seen before,
archives it write-once next to the reports (what the regulator answered is evidence too),
parses it with the hardened parser (`regreport.feedback`: no DTD, no entities, no network,
XSD-checked) and applies every status advice to its file and records. Every feedback file gets
a row in `regreport.feedback_files`, so a file is processed once, and a bad one (unsafe,
invalid, unmatched, contradicting a final status) is kept aside with a reason code, in a local
quarantine folder and in the table, instead of vanishing or blocking the others.

No Airflow here: the DAG tasks pass an `SftpTarget` built from an Airflow connection.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from regreport import submissions
from regreport.manifest import sha256_file

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    import psycopg

    from regreport.sftp import RetryPolicy, SftpTarget

log = logging.getLogger(__name__)

SCHEMA = "regreport"

#: Reason codes of feedback files that could not be applied.
FEEDBACK_UNSAFE_OR_INVALID = "FEEDBACK_INVALID"
FEEDBACK_UNMATCHED = "FEEDBACK_UNMATCHED"
FEEDBACK_CONFLICT = "FEEDBACK_CONFLICT"
FEEDBACK_TOO_LARGE = "FEEDBACK_TOO_LARGE"

#: Final file statuses: the regulator has given its verdict on the file as a whole.
FINAL_FILE_STATUSES = frozenset(
    {submissions.ACCEPTED, submissions.PARTIALLY_ACCEPTED, submissions.REJECTED}
)

DDL = f"""
create table if not exists {SCHEMA}.feedback_files (
    feedback_id     bigint generated always as identity primary key,
    remote_name     text not null unique,
    sha256          char(64),
    bytes           bigint,
    status          text not null check (status in ('APPLIED', 'REFUSED')),
    reason_code     text,
    detail          text,
    advices         integer not null default 0,
    report_ids      bigint[] not null default '{{}}',
    s3_uri          text,
    s3_version_id   text,
    received_at     timestamptz not null default now(),
    check ((status = 'REFUSED') = (reason_code is not null))
);
"""


class SubmissionFailedError(RuntimeError):
    """A file could not be delivered; it is not marked submitted (retry the task)."""


@dataclass(frozen=True)
class SubmitOutcome:
    """What happened to one file.

    Attributes:
        uploaded: True if this call put the file on the gateway.
        already_submitted: The registry already had it as submitted: nothing was done.
        already_present: The gateway already had it (an earlier attempt delivered it before
            its task died); it is now marked submitted, nothing was uploaded.
    """

    report_id: int
    file_name: str
    remote_path: str | None
    status: str
    uploaded: bool
    already_submitted: bool
    already_present: bool
    attempts: int


@dataclass
class CollectResult:
    """What one `collect_feedback` call did."""

    listed: int = 0
    new_files: list[str] = field(default_factory=list)
    applied: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)


def ensure_schema(conn: psycopg.Connection[Any]) -> None:
    """Create the feedback-file table (with the registry and status tables) if missing."""
    from regreport import ddl, registry

    registry.ensure_schema(conn)
    ddl.ensure(conn, "transmit", DDL)
    conn.commit()


# --------------------------------------------------------------------------- submission


def _registered(conn: psycopg.Connection[Any], report_id: int) -> tuple[str, str]:
    row = conn.execute(
        f"select file_name, sha256 from {SCHEMA}.report_registry where report_id = %s",
        (report_id,),
    ).fetchone()
    if row is None:
        raise submissions.UnknownReportError(f"report {report_id} is not in the report registry")
    return str(row[0]), str(row[1]).strip()


def submit_reports(
    conn: psycopg.Connection[Any],
    target: SftpTarget,
    files: Sequence[tuple[int, Path]],
    *,
    retry: RetryPolicy | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(tz=UTC),
) -> list[SubmitOutcome]:
    """Deliver registered files to the gateway's inbox, each exactly once, in order.

    Args:
        conn: Warehouse connection.
        target: The firm's gateway account (host key pinned).
        files: (report_id, local path of the archived file) in part order.
        retry: Connection retry policy for each upload (default: `RetryPolicy()`).
        now: Clock for the submission time.

    Returns:
        One outcome per file.

    Raises:
        SubmissionFailedError: A file could not be delivered (gateway down after the retries,
            authentication or host key refused, different content under the same name). Files
            before it are delivered and marked; it and the ones after are not.
    """
    from regreport import sftp

    ensure_schema(conn)
    outcomes = []
    for report_id, path in files:
        file_name, sha256 = _registered(conn, report_id)
        current = submissions.status(conn, report_id)
        if current.status != submissions.GENERATED:
            log.info("%s already submitted as %s: not sent again", file_name, current.remote_name)
            outcomes.append(
                SubmitOutcome(
                    report_id,
                    file_name,
                    current.remote_name,
                    current.status,
                    uploaded=False,
                    already_submitted=True,
                    already_present=False,
                    attempts=current.attempts,
                )
            )
            continue
        try:
            result = sftp.upload_once(target, path, file_name, sha256, retry=retry)
        except (sftp.SftpError, OSError) as exc:
            submissions.record_attempt(conn, report_id, f"{type(exc).__name__}: {exc}"[:500])
            raise SubmissionFailedError(
                f"{file_name} was not submitted to {target.host}:{target.port}: {exc}. "
                "Nothing is marked submitted; the task can be retried safely."
            ) from exc
        status = submissions.mark_submitted(conn, report_id, file_name, submitted_at=now())
        log.info(
            "%s %s (%d bytes, sha256 %s)",
            "found already delivered" if result.already_present else "submitted",
            result.remote_path,
            result.size,
            result.sha256,
        )
        outcomes.append(
            SubmitOutcome(
                report_id,
                file_name,
                result.remote_path,
                status.status,
                uploaded=not result.already_present,
                already_submitted=False,
                already_present=result.already_present,
                attempts=result.attempts,
            )
        )
    return outcomes


def backlog(
    conn: psycopg.Connection[Any], report_type: str, before: Iterable[int] = ()
) -> list[tuple[int, date, str]]:
    """Registered files never submitted, oldest first: (report_id, period_start, file_name).

    Submissions must reach the regulator in order (a later file may cancel or amend what an
    earlier one reported), and a file archived but never submitted is a breach: the submit step
    sends these first. With `before`, only files registered before the earliest of those ids.
    """
    ensure_schema(conn)
    ids = list(before)
    rows = conn.execute(
        f"""select r.report_id, r.period_start, r.file_name
            from {SCHEMA}.report_registry as r
            left join {SCHEMA}.submissions as s using (report_id)
            where r.report_type = %s and coalesce(s.status, 'GENERATED') = 'GENERATED'
              and (%s::bigint is null or r.report_id < %s::bigint)
            order by r.report_id""",
        (report_type, min(ids) if ids else None, min(ids) if ids else None),
    ).fetchall()
    return [(int(r[0]), r[1], str(r[2])) for r in rows]


# --------------------------------------------------------------------------- feedback


def seen_feedback(conn: psycopg.Connection[Any]) -> set[str]:
    """Names of outbox files already processed (applied or refused)."""
    ensure_schema(conn)
    return {r[0] for r in conn.execute(f"select remote_name from {SCHEMA}.feedback_files")}


def _record_file(
    conn: psycopg.Connection[Any],
    name: str,
    *,
    sha256: str | None,
    size: int | None,
    reason_code: str | None,
    detail: str | None,
    advices: int,
    report_ids: Iterable[int],
    stored: Any = None,
) -> None:
    ids = sorted(set(report_ids))
    conn.execute(
        f"""insert into {SCHEMA}.feedback_files
            (remote_name, sha256, bytes, status, reason_code, detail, advices, report_ids,
             s3_uri, s3_version_id)
            values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            on conflict (remote_name) do nothing""",
        (
            name,
            sha256,
            size,
            "APPLIED" if reason_code is None else "REFUSED",
            reason_code,
            detail,
            advices,
            ids,
            getattr(stored, "uri", None),
            getattr(stored, "version_id", None),
        ),
    )
    from regreport import audit

    audit.record(
        conn,
        action="feedback.apply" if reason_code is None else "feedback.refuse",
        actor=audit.actor(),
        object_type="feedback_file",
        object_id=name,
        after={
            "sha256": sha256,
            "bytes": size,
            "reason_code": reason_code,
            "advices": advices,
            "report_ids": ids,
            "s3_uri": getattr(stored, "uri", None),
        },
    )
    conn.commit()


def _apply_file(
    conn: psycopg.Connection[Any], path: Path, schemas_dir: Path | None
) -> tuple[str | None, str | None, list[submissions.FeedbackResult]]:
    """Parse and apply one downloaded file; return (reason code, detail, results)."""
    from regreport.feedback import FeedbackError, parse_status_advice

    try:
        advices = parse_status_advice(path, schemas_dir=schemas_dir)
    except FeedbackError as exc:
        return FEEDBACK_UNSAFE_OR_INVALID, str(exc)[:1000], []
    results = []
    for advice in advices:
        try:
            results.append(submissions.apply_feedback(conn, advice))
        except submissions.FeedbackConflictError as exc:
            return FEEDBACK_CONFLICT, str(exc)[:1000], results
        except submissions.SubmissionError as exc:
            return FEEDBACK_UNMATCHED, str(exc)[:1000], results
    return None, None, results


def collect_feedback(
    conn: psycopg.Connection[Any],
    target: SftpTarget,
    work_dir: Path,
    *,
    schemas_dir: Path | None = None,
    archive: Callable[[Path, str], Any] | None = None,
    retry: RetryPolicy | None = None,
) -> CollectResult:
    """Fetch and apply every feedback file not seen before (see the module docstring).

    Args:
        conn: Warehouse connection.
        target: The firm's gateway account.
        work_dir: Local folder: downloads land in `work_dir/inbox`, refused files are moved to
            `work_dir/quarantine`.
        schemas_dir: ESMA XSD folder: feedback is validated against auth.031 when given.
        archive: Called with (local file, sha256) before parsing, to keep a write-once copy;
            returns an object with `uri` and `version_id` (e.g. `archive.archive_file`'s).
        retry: Connection retry policy.

    Returns:
        The files applied and refused. Refused files do not raise here (the caller decides:
        the DAG task fails after recording them, so nothing is silent).
    """
    from regreport import sftp

    ensure_schema(conn)
    inbox = work_dir / "inbox"
    quarantine = work_dir / "quarantine"
    inbox.mkdir(parents=True, exist_ok=True)
    result = CollectResult()
    listing = sftp.list_outbox(target, retry=retry)
    result.listed = len(listing)
    seen = seen_feedback(conn)
    for remote in listing:
        if remote.name in seen:
            continue
        result.new_files.append(remote.name)
        try:
            path = sftp.download(target, remote.name, inbox, retry=retry)
        except sftp.SftpIntegrityError as exc:
            _record_file(
                conn,
                remote.name,
                sha256=None,
                size=remote.size,
                reason_code=FEEDBACK_TOO_LARGE,
                detail=str(exc)[:1000],
                advices=0,
                report_ids=(),
            )
            result.refused.append({"file": remote.name, "reason_code": FEEDBACK_TOO_LARGE})
            continue
        digest = sha256_file(path)
        stored = archive(path, digest) if archive is not None else None
        reason, detail, applied = _apply_file(conn, path, schemas_dir)
        # Each advice is applied (and committed) on its own: in a refused file, the advices
        # before the one that failed stay applied, and `advices` says how many.
        conn.rollback()
        _record_file(
            conn,
            remote.name,
            sha256=digest,
            size=path.stat().st_size,
            reason_code=reason,
            detail=detail,
            advices=len(applied),
            report_ids=[r.report_id for r in applied],
            stored=stored,
        )
        entry = {
            "file": remote.name,
            "sha256": digest,
            "s3_uri": getattr(stored, "uri", None),
            "advices": [
                {"report_id": r.report_id, "status": r.status, "code": r.status_code}
                for r in applied
            ],
        }
        if reason is None:
            result.applied.append(entry)
            log.info("feedback %s applied: %s", remote.name, entry["advices"])
        else:
            quarantine.mkdir(parents=True, exist_ok=True)
            shutil.move(path, quarantine / path.name)
            result.refused.append({**entry, "reason_code": reason, "detail": detail})
            log.error("feedback %s refused (%s): %s", remote.name, reason, detail)
    return result


def pending_files(conn: psycopg.Connection[Any], report_ids: Iterable[int]) -> list[int]:
    """The files (of `report_ids`) still waiting for the regulator's verdict on the file."""
    ids = list(report_ids)
    if not ids:
        return []
    ensure_schema(conn)
    rows = conn.execute(
        f"""select r.report_id from {SCHEMA}.report_registry as r
            left join {SCHEMA}.submissions as s using (report_id)
            where r.report_id = any(%s)
              and coalesce(s.status, 'GENERATED') <> all(%s)
            order by r.report_id""",
        (ids, sorted(FINAL_FILE_STATUSES)),
    ).fetchall()
    return [int(r[0]) for r in rows]


def regulator_answer(conn: psycopg.Connection[Any], report_ids: Iterable[int]) -> dict[str, Any]:
    """The regulator's answer on a run's files: per file status and record counts, exceptions."""
    files = []
    for report_id in report_ids:
        st = submissions.status(conn, report_id)
        files.append(
            {
                "report_id": report_id,
                "file_name": st.file_name,
                "status": st.status,
                "status_code": st.status_code,
                "status_rules": [list(r) for r in st.status_rules],
                "submitted_at": st.submitted_at.isoformat() if st.submitted_at else None,
                "records": st.records,
                "unanswered": st.unanswered,
            }
        )
    exceptions = [
        {
            "report_id": e.report_id,
            "tx_id": e.tx_id,
            "rule_id": e.rule_id,
            "rule": e.rule_description,
        }
        for rid in report_ids
        for e in submissions.exceptions(conn, rid)
    ]
    return {"files": files, "exceptions": exceptions}
