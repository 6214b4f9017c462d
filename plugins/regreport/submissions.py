"""Where each report file stands with the regulator, per file and per record, with history.

A file registered in `report_registry` is GENERATED. `mark_submitted` records that it went out
(SUBMITTED, with its remote name); the regulator's auth.031 status advice then makes it
ACCEPTED, PARTIALLY_ACCEPTED or REJECTED (`apply_feedback`). File-level CRPT (corrupt) and
INCF (incorrect file name) are rejections too; the auth.031 code is kept in `status_code`.
A later advice about the same file (e.g. on records that were pending) moves it between
ACCEPTED and PARTIALLY_ACCEPTED, never out of REJECTED, and into REJECTED only when it rejects
records (CON-412 after CON-411) and no record of the file is accepted; a file with a rejected
record stays PARTIALLY_ACCEPTED even if the later advice says ACPT for the records it re-checked.

Per record (keyed by report_id and TxId) the status is ACPT, PDNG or RJCT with the rules the
regulator gave. Feedback lists exceptions only, so a record the advice does not mention is
accepted when the file is ACPT, PART or WARN ("unmentioned means accepted", REGULATORY.md E2),
but only if it has no status yet: a later advice about a file (typically the daily re-check of
records pending on reference data) does not mention the records already settled, and must not
overturn them. A PDNG record stays PDNG until an advice names it again as ACPT or RJCT, or
accepts the whole file (file-level ACPT or WARN: every record is accepted);
record status RCVD (received, not yet processed) counts as PDNG, since neither is final.

Nothing is updated in place except the one `submissions` row per file, which is a cache of
the latest event: every change is an appended row in `submission_events` (files) or
`record_status_events` (records), and `record_status_current` is the latest event per record.
A feedback file is identified by its SHA-256, and applying one a second time changes nothing.

**Matching feedback to files.** The registry does not store a file's `BizMsgIdr` (its manifest
has no such key), but the id is a pure function of registry columns
(`regreport.xml.render.make_business_message_id` of report type, period start, submission
sequence and part, exactly as `regreport.pipeline` builds it). `mark_submitted` computes it and
keeps it in `submissions.business_message_id`, and the default lookup matches the advice's
`MsgRptIdr` (or, when that is left out, the feedback header's `Rltd/BizMsgIdr`) against it. An
NCA that puts the file name there instead is matched by the remote name or registered file
name (with or without extension). Callers can pass their own `report_id_lookup`.

Personal data: only ids, codes and the regulator's rule descriptions are stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    import psycopg

    from regreport.feedback import StatusAdvice, ValidationRule

SCHEMA = "regreport"

GENERATED = "GENERATED"
SUBMITTED = "SUBMITTED"
ACCEPTED = "ACCEPTED"
PARTIALLY_ACCEPTED = "PARTIALLY_ACCEPTED"
REJECTED = "REJECTED"
FILE_STATUSES = (GENERATED, SUBMITTED, ACCEPTED, PARTIALLY_ACCEPTED, REJECTED)

#: auth.031 file-level code -> file status. RCVD (received, not processed) and RMDR (reminder
#: that a file was not received) change nothing: the event is recorded, the status stays.
FILE_STATUS_BY_CODE: dict[str, str | None] = {
    "ACPT": ACCEPTED,
    "WARN": ACCEPTED,
    "PART": PARTIALLY_ACCEPTED,
    "RJCT": REJECTED,
    "CRPT": REJECTED,
    "INCF": REJECTED,
    "RCVD": None,
    "RMDR": None,
}
#: File-level codes under which unmentioned records count as accepted.
_UNMENTIONED_ACCEPTED = frozenset({"ACPT", "PART", "WARN"})
#: File-level codes that accept every record of the file.
_WHOLE_FILE_ACCEPTED = frozenset({"ACPT", "WARN"})

REC_ACCEPTED = "ACPT"
REC_PENDING = "PDNG"
REC_REJECTED = "RJCT"
#: auth.031 record code -> stored record status.
RECORD_STATUS_BY_CODE = {
    "ACPT": REC_ACCEPTED,
    "PDNG": REC_PENDING,
    "RCVD": REC_PENDING,
    "RJCT": REC_REJECTED,
}

DDL = f"""
create table if not exists {SCHEMA}.submissions (
    report_id           bigint primary key references {SCHEMA}.report_registry (report_id),
    business_message_id text,
    status              text not null check (status in (
                            'GENERATED', 'SUBMITTED', 'ACCEPTED', 'PARTIALLY_ACCEPTED',
                            'REJECTED')),
    status_code         text,
    status_rules        jsonb not null default '[]',
    remote_name         text,
    submitted_at        timestamptz,
    attempts            integer not null default 0,
    feedback_sha256     char(64),
    feedback_at         timestamptz,
    updated_at          timestamptz not null default now(),
    check ((status = 'GENERATED') = (remote_name is null))
);
create unique index if not exists submissions_remote_name_idx
    on {SCHEMA}.submissions (remote_name);
create index if not exists submissions_business_message_id_idx
    on {SCHEMA}.submissions (business_message_id);
create table if not exists {SCHEMA}.submission_events (
    event_id            bigint generated always as identity primary key,
    report_id           bigint not null references {SCHEMA}.report_registry (report_id),
    event               text not null check (event in ('ATTEMPT', 'SUBMITTED', 'FEEDBACK')),
    status              text not null,
    status_code         text,
    rules               jsonb not null default '[]',
    remote_name         text,
    detail              text,
    feedback_sha256     char(64),
    advice_index        integer,
    recorded_at         timestamptz not null default now()
);
create unique index if not exists submission_events_feedback_idx
    on {SCHEMA}.submission_events (feedback_sha256, advice_index, report_id)
    where event = 'FEEDBACK';
create table if not exists {SCHEMA}.record_status_events (
    event_id            bigint generated always as identity primary key,
    report_id           bigint not null references {SCHEMA}.report_registry (report_id),
    tx_id               text not null,
    status              text not null check (status in ('ACPT', 'PDNG', 'RJCT')),
    status_code         text not null,
    rules               jsonb not null default '[]',
    implicit            boolean not null default false,
    feedback_sha256     char(64) not null,
    recorded_at         timestamptz not null default now()
);
create index if not exists record_status_events_key_idx
    on {SCHEMA}.record_status_events (report_id, tx_id, event_id);
do $$ begin
    if to_regclass('{SCHEMA}.record_status_current') is null then
        create view {SCHEMA}.record_status_current as
        select distinct on (report_id, tx_id)
            report_id, tx_id, status, status_code, rules, implicit, feedback_sha256,
            recorded_at, event_id
        from {SCHEMA}.record_status_events
        order by report_id, tx_id, event_id desc;
    end if;
end $$;
"""


class SubmissionError(RuntimeError):
    """A submission or feedback step contradicts what is recorded; nothing was changed."""


class UnknownReportError(SubmissionError, LookupError):
    """The report (or the file a feedback refers to) is not known."""


class DuplicateSubmissionError(SubmissionError):
    """The file was already submitted under another name, or the name is taken."""


class FeedbackConflictError(SubmissionError):
    """A feedback overturns a final status (e.g. an accepted record now rejected)."""


@dataclass(frozen=True)
class SubmissionStatus:
    """A file's status and its records' status counts.

    Attributes:
        records: Count of records per current status (ACPT, PDNG, RJCT).
        unanswered: Records of the file (ledger) with no status yet.
    """

    report_id: int
    file_name: str
    status: str
    status_code: str | None
    status_rules: tuple[tuple[str, str], ...]
    business_message_id: str | None
    remote_name: str | None
    submitted_at: datetime | None
    attempts: int
    feedback_sha256: str | None
    records: dict[str, int] = field(default_factory=dict)
    unanswered: int = 0


@dataclass(frozen=True)
class FeedbackResult:
    """What `apply_feedback` did.

    Attributes:
        applied: False if this advice (same feedback file, same position) had been applied.
        record_events: Record status rows appended, implicit acceptances included.
    """

    report_id: int
    status: str
    status_code: str
    applied: bool
    record_events: int


@dataclass(frozen=True)
class RecordException:
    """A rejected record and one rule it failed (a record failing two rules gives two)."""

    report_id: int
    file_name: str
    tx_id: str
    rule_id: str | None
    rule_description: str | None
    status_code: str
    recorded_at: datetime


def ensure_schema(conn: psycopg.Connection[Any]) -> None:
    """Create the status tables and view if missing (the registry must exist)."""
    from regreport import ddl

    ddl.ensure(conn, "submissions", DDL)


def _business_message_id(conn: psycopg.Connection[Any], report_id: int) -> str | None:
    from regreport.xml.render import make_business_message_id

    row = conn.execute(
        f"""select report_type, period_start, submission_seq, part
            from {SCHEMA}.report_registry where report_id = %s""",
        (report_id,),
    ).fetchone()
    if row is None:
        raise UnknownReportError(f"report {report_id} is not in the report registry")
    try:
        return make_business_message_id(row[0], row[1], sequence=row[2], part=row[3])
    except ValueError:
        return None


def _lock(conn: psycopg.Connection[Any], report_id: int) -> tuple[Any, ...]:
    """The file's submissions row, created as GENERATED if missing, locked for update."""
    biz_id = _business_message_id(conn, report_id)
    conn.execute(
        f"""insert into {SCHEMA}.submissions (report_id, business_message_id, status)
            values (%s, %s, %s) on conflict (report_id) do nothing""",
        (report_id, biz_id, GENERATED),
    )
    row = conn.execute(
        f"""select status, remote_name, status_code from {SCHEMA}.submissions
            where report_id = %s for update""",
        (report_id,),
    ).fetchone()
    assert row is not None  # noqa: S101 - inserted or present by the statement above
    return tuple(row)


def _finish(conn: psycopg.Connection[Any], work: Callable[[], Any]) -> Any:
    """Run `work` in one transaction: commit on success, roll back on any error."""
    try:
        ensure_schema(conn)
        result = work()
    except BaseException:
        conn.rollback()
        raise
    conn.commit()
    return result


def record_attempt(conn: psycopg.Connection[Any], report_id: int, detail: str | None) -> int:
    """Count one upload attempt (e.g. a failed try before a retry); return the attempt count.

    Args:
        conn: Warehouse connection.
        report_id: The file (`report_registry.report_id`).
        detail: Short reason (an exception class or "retry"), never file content.
    """

    def work() -> int:
        status, remote, _ = _lock(conn, report_id)
        conn.execute(
            f"""insert into {SCHEMA}.submission_events
                (report_id, event, status, remote_name, detail) values (%s, 'ATTEMPT', %s, %s, %s)
            """,
            (report_id, status, remote, detail),
        )
        row = conn.execute(
            f"""update {SCHEMA}.submissions set attempts = attempts + 1, updated_at = now()
                where report_id = %s returning attempts""",
            (report_id,),
        ).fetchone()
        return int(row[0])

    return int(_finish(conn, work))


def mark_submitted(
    conn: psycopg.Connection[Any],
    report_id: int,
    remote_name: str,
    *,
    submitted_at: datetime | None = None,
) -> SubmissionStatus:
    """Record that the file is on the regulator's side under `remote_name`.

    Idempotent: marking the same file with the same name again changes nothing, so a retried
    task is harmless. A second, different submission of the same file is refused, as is a
    name already used by another file (it would overwrite that file at the regulator).

    Args:
        conn: Warehouse connection.
        report_id: The file (`report_registry.report_id`).
        remote_name: The file's name on the regulator's side.
        submitted_at: When the upload completed; defaults to the database's now().

    Raises:
        UnknownReportError: No such report.
        DuplicateSubmissionError: The file went out under another name, or the name is taken.
    """

    def work() -> None:
        status, remote, _ = _lock(conn, report_id)
        if status != GENERATED:
            if remote == remote_name:
                return
            raise DuplicateSubmissionError(
                f"report {report_id} was already submitted as {remote}; refusing to submit it "
                f"again as {remote_name}"
            )
        other = conn.execute(
            f"select report_id from {SCHEMA}.submissions where remote_name = %s",
            (remote_name,),
        ).fetchone()
        if other is not None:
            raise DuplicateSubmissionError(
                f"remote name {remote_name} is already used by report {other[0]}"
            )
        conn.execute(
            f"""update {SCHEMA}.submissions
                set status = %s, remote_name = %s, submitted_at = coalesce(%s, now()),
                    attempts = greatest(attempts, 1), updated_at = now()
                where report_id = %s""",
            (SUBMITTED, remote_name, submitted_at, report_id),
        )
        conn.execute(
            f"""insert into {SCHEMA}.submission_events (report_id, event, status, remote_name)
                values (%s, 'SUBMITTED', %s, %s)""",
            (report_id, SUBMITTED, remote_name),
        )

    _finish(conn, work)
    return status(conn, report_id)


def lookup_report(conn: psycopg.Connection[Any], advice: StatusAdvice) -> int | None:
    """The default `report_id_lookup`: the submitted file this advice is about, if unique.

    Tries, in order, the submitted file whose `BizMsgIdr` is the advice's original message id,
    then the one whose remote or registered file name (with or without extension) is.

    Raises:
        SubmissionError: More than one submitted file matches.
    """
    ident = advice.original_message_id
    if not ident:
        return None
    queries = (
        f"select report_id from {SCHEMA}.submissions "
        "where business_message_id = %(id)s and status <> 'GENERATED'",
        f"""select s.report_id from {SCHEMA}.submissions as s
            join {SCHEMA}.report_registry as r using (report_id)
            where s.status <> 'GENERATED' and %(id)s in (
                s.remote_name, r.file_name,
                regexp_replace(s.remote_name, '\\.[^.]*$', ''),
                regexp_replace(r.file_name, '\\.[^.]*$', ''))""",
    )
    for query in queries:
        ids = sorted({r[0] for r in conn.execute(query, {"id": ident}).fetchall()})
        if len(ids) > 1:
            raise SubmissionError(
                f"feedback for {ident} matches several submitted files: {ids}; pass a "
                "report_id_lookup that tells them apart"
            )
        if ids:
            return int(ids[0])
    return None


def _rules_json(rules: tuple[ValidationRule, ...]) -> str:
    return json.dumps([{"id": r.id, "desc": r.description} for r in rules])


def _next_status(report_id: int, current: str, code: str, *, has_records: bool = False) -> str:
    """The file status after an advice with file-level `code` (see the module docstring)."""
    target = FILE_STATUS_BY_CODE[code]
    if current == GENERATED:
        raise SubmissionError(
            f"report {report_id} has feedback but was never marked submitted; "
            "call mark_submitted with its remote name first"
        )
    if target is None:
        return current
    if current == REJECTED and target != REJECTED:
        raise FeedbackConflictError(
            f"report {report_id} was rejected; a later advice ({code}) cannot accept it"
        )
    if current in (ACCEPTED, PARTIALLY_ACCEPTED) and target == REJECTED and has_records:
        # A follow-up that rejects records left pending (CON-412): the records carry the
        # verdict; the file is REJECTED only if none of its records ends up accepted.
        return PARTIALLY_ACCEPTED
    if current in (ACCEPTED, PARTIALLY_ACCEPTED) and target == REJECTED:
        raise FeedbackConflictError(
            f"report {report_id} was {current}; a later advice ({code}) cannot reject it"
        )
    return target


def _apply_records(conn: psycopg.Connection[Any], report_id: int, advice: StatusAdvice) -> int:
    """Append record status events for one advice; return how many were appended."""
    current = {
        r[0]: (r[1], r[2])
        for r in conn.execute(
            f"""select tx_id, status, rules from {SCHEMA}.record_status_current
                where report_id = %s""",
            (report_id,),
        ).fetchall()
    }
    in_file = {
        r[0]
        for r in conn.execute(
            f"select distinct tx_id from {SCHEMA}.transaction_ledger where report_id = %s",
            (report_id,),
        ).fetchall()
    }
    unknown = sorted({rec.record_id for rec in advice.records} - in_file)
    if unknown:
        raise SubmissionError(
            f"feedback for report {report_id} names {len(unknown)} record(s) that are not in "
            f"the file, e.g. TxId {unknown[0]}"
        )
    rows: list[tuple[Any, ...]] = []
    for rec in advice.records:
        new = RECORD_STATUS_BY_CODE[rec.status]
        rules = [{"id": r.id, "desc": r.description} for r in rec.rules]
        before = current.get(rec.record_id)
        if before is not None and before[0] != REC_PENDING:
            if before[0] != new:
                raise FeedbackConflictError(
                    f"record {rec.record_id} of report {report_id} is final ({before[0]}); "
                    f"a later advice says {rec.status}"
                )
            continue
        if before is not None and before == (new, rules):
            continue
        current[rec.record_id] = (new, rules)
        rows.append((rec.record_id, new, rec.status, json.dumps(rules), False))
    mentioned = {rec.record_id for rec in advice.records}
    if advice.status in _UNMENTIONED_ACCEPTED:
        rows.extend(
            (tx, REC_ACCEPTED, "ACPT", "[]", True)
            for tx in sorted(in_file - mentioned - current.keys())
        )
    if advice.status in _WHOLE_FILE_ACCEPTED:
        # File-level ACPT/WARN means every record is accepted, including ones still pending
        # from an earlier advice that this one does not name.
        rows.extend(
            (tx, REC_ACCEPTED, advice.status, "[]", True)
            for tx in sorted(in_file - mentioned)
            if current.get(tx, ("",))[0] == REC_PENDING
        )
    with conn.cursor() as cur:
        cur.executemany(
            f"""insert into {SCHEMA}.record_status_events
                (report_id, tx_id, status, status_code, rules, implicit, feedback_sha256)
                values (%s, %s, %s, %s, %s, %s, %s)""",
            [(report_id, *row, advice.source_sha256) for row in rows],
        )
    return len(rows)


def _has_records(conn: psycopg.Connection[Any], report_id: int, record_status: str) -> bool:
    """Whether any record of the file currently has `record_status`."""
    row = conn.execute(
        f"""select exists (select 1 from {SCHEMA}.record_status_current
            where report_id = %s and status = %s)""",
        (report_id, record_status),
    ).fetchone()
    return bool(row and row[0])


def apply_feedback(
    conn: psycopg.Connection[Any],
    advice: StatusAdvice,
    report_id_lookup: Callable[[StatusAdvice], int | None] | None = None,
) -> FeedbackResult:
    """Apply one status advice to its file and records, in one transaction.

    Args:
        conn: Warehouse connection.
        advice: From `regreport.feedback.parse_status_advice`.
        report_id_lookup: Finds the report an advice is about; default `lookup_report`.

    Returns:
        What changed; `applied` is False if this advice was applied before (idempotent).

    Raises:
        UnknownReportError: The advice matches no submitted file.
        SubmissionError: The file was never marked submitted, or the advice names records
            that are not in the file.
        FeedbackConflictError: The advice overturns a final file or record status.
    """

    def work() -> FeedbackResult:
        lookup = report_id_lookup or (lambda a: lookup_report(conn, a))
        report_id = lookup(advice)
        if report_id is None:
            raise UnknownReportError(
                f"feedback for {advice.original_message_id or '(no message id)'} "
                f"(status {advice.status}) matches no submitted report"
            )
        current, _, _ = _lock(conn, report_id)
        seen = conn.execute(
            f"""select 1 from {SCHEMA}.submission_events
                where event = 'FEEDBACK' and feedback_sha256 = %s and advice_index = %s
                  and report_id = %s""",
            (advice.source_sha256, advice.index, report_id),
        ).fetchone()
        if seen is not None:
            return FeedbackResult(report_id, current, advice.status, False, 0)
        new_status = _next_status(
            report_id, current, advice.status, has_records=bool(advice.records)
        )
        events = _apply_records(conn, report_id, advice)
        if advice.status == "RJCT" and new_status == PARTIALLY_ACCEPTED:
            new_status = REJECTED if not _has_records(conn, report_id, REC_ACCEPTED) else new_status
        if new_status == ACCEPTED and _has_records(conn, report_id, REC_REJECTED):
            # A later advice that accepts the re-checked pending records does not make the
            # records rejected earlier accepted: the file stays partially accepted.
            new_status = PARTIALLY_ACCEPTED
        rules = _rules_json(advice.rules)
        conn.execute(
            f"""insert into {SCHEMA}.submission_events
                (report_id, event, status, status_code, rules, feedback_sha256, advice_index)
                values (%s, 'FEEDBACK', %s, %s, %s, %s, %s)""",
            (report_id, new_status, advice.status, rules, advice.source_sha256, advice.index),
        )
        conn.execute(
            f"""update {SCHEMA}.submissions
                set status = %s, status_code = %s, status_rules = %s, feedback_sha256 = %s,
                    feedback_at = now(), updated_at = now()
                where report_id = %s""",
            (new_status, advice.status, rules, advice.source_sha256, report_id),
        )
        return FeedbackResult(report_id, new_status, advice.status, True, events)

    result: FeedbackResult = _finish(conn, work)
    return result


def status(conn: psycopg.Connection[Any], report_id: int) -> SubmissionStatus:
    """The file's status (GENERATED if never submitted) and its records' status counts.

    Raises:
        UnknownReportError: No such report.
    """
    ensure_schema(conn)
    row = conn.execute(
        f"""select r.file_name, coalesce(s.status, 'GENERATED'), s.status_code,
                   coalesce(s.status_rules, '[]'), s.business_message_id, s.remote_name,
                   s.submitted_at, coalesce(s.attempts, 0), s.feedback_sha256
            from {SCHEMA}.report_registry as r
            left join {SCHEMA}.submissions as s using (report_id)
            where r.report_id = %s""",
        (report_id,),
    ).fetchone()
    if row is None:
        raise UnknownReportError(f"report {report_id} is not in the report registry")
    counts = dict(
        conn.execute(
            f"""select status, count(*) from {SCHEMA}.record_status_current
                where report_id = %s group by status""",
            (report_id,),
        ).fetchall()
    )
    in_file = conn.execute(
        f"""select count(distinct tx_id) from {SCHEMA}.transaction_ledger
            where report_id = %s""",
        (report_id,),
    ).fetchone()
    total = int(in_file[0]) if in_file else 0
    return SubmissionStatus(
        report_id=report_id,
        file_name=row[0],
        status=row[1],
        status_code=row[2],
        status_rules=tuple((r["id"], r["desc"]) for r in row[3]),
        business_message_id=row[4],
        remote_name=row[5],
        submitted_at=row[6],
        attempts=int(row[7]),
        feedback_sha256=row[8].strip() if row[8] else None,
        records={k: int(v) for k, v in counts.items()},
        unanswered=max(0, total - sum(counts.values())),
    )


def exceptions(
    conn: psycopg.Connection[Any], report_id: int | None = None, *, include_resolved: bool = False
) -> list[RecordException]:
    """Records currently rejected, one row per rule, by file and TxId (all files or one).

    A rejection is resolved once the transaction went out again in a later file (a
    resubmission, or a cancellation); resolved ones are left out unless `include_resolved`.
    If the later report is rejected too, it is listed under its own file.

    Only ids, rule ids and the regulator's rule descriptions: no personal data is joined in.
    A file rejected as a whole (RJCT/CRPT/INCF) without record statuses is not listed here;
    its rules are in `status(...).status_rules`.
    """
    ensure_schema(conn)
    rows = conn.execute(
        f"""select c.report_id, r.file_name, c.tx_id, rule->>'id', rule->>'desc',
                   c.status_code, c.recorded_at
            from {SCHEMA}.record_status_current as c
            join {SCHEMA}.report_registry as r using (report_id)
            left join lateral jsonb_array_elements(
                case when jsonb_array_length(c.rules) = 0 then '[null]'::jsonb else c.rules end
            ) as rule on true
            where c.status = 'RJCT' and (%(rid)s::bigint is null or c.report_id = %(rid)s)
              and (%(all)s or not exists (
                  select 1 from {SCHEMA}.transaction_ledger as later
                  where later.tx_id = c.tx_id and later.report_id > c.report_id))
            order by c.report_id, c.tx_id, rule->>'id'""",
        {"rid": report_id, "all": include_resolved},
    ).fetchall()
    return [RecordException(*row) for row in rows]
