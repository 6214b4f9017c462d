"""The tamper-evident audit log: an append-only, hash-chained table plus daily WORM anchors.

Every platform action (extract, dbt run, validation, render, submit, feedback, archive, rule
change, a run or backfill triggered, access to personal data) is appended to
``regreport.audit_log`` by `record`. Each entry carries the SHA-256 of the previous one, so
changing, deleting, inserting or reordering an entry breaks the chain at that entry, and
`verify` names it. The hash is computed in Python over a canonical JSON of the row (see
`canonical_json`), so an auditor can recompute it from an export without trusting the database.

A chain alone cannot catch a database superuser who rewrites the whole chain and recomputes
every hash, nor one who cuts off its tail. For that, a daily anchor (the chain head and a Merkle
root of the day's entry hashes, see `build_anchor`) is archived to the S3 Object Lock bucket in
COMPLIANCE mode, out of reach of anyone with database access; `verify` checks the log against
every archived anchor.

Writes are refused three times over: a trigger raises on UPDATE, DELETE and TRUNCATE, the
application roles hold only INSERT and SELECT, and the chain plus anchors detect what a
superuser does with the trigger disabled.

This module does not import Airflow; anchor functions take a boto3 S3 client.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    import psycopg

    from regreport.archive import S3Client

SCHEMA = "regreport"
TABLE = f"{SCHEMA}.audit_log"
#: `prev_sha256` of the first entry: there is nothing before it.
GENESIS_SHA256 = "0" * 64
#: Advisory lock key serialising writers (and anchor builders): ASCII "REGAUDIT".
LOCK_KEY = 0x5245_4741_5544_4954
#: Where anchors live in the archive bucket: ``<prefix>YYYY/MM/DD/<chain head seq>.json``.
ANCHOR_PREFIX = "audit/anchors/"
ANCHOR_FORMAT = "regreport.audit.anchor/1"
#: How `recorded_at` enters the hash: UTC, always six fractional digits.
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_PAGE = 2000

DDL = f"""
select pg_advisory_xact_lock({LOCK_KEY});
create schema if not exists {SCHEMA};
create table if not exists {TABLE} (
    seq          bigint primary key,
    recorded_at  timestamptz not null,
    actor        text not null,
    action       text not null,
    object_type  text not null,
    object_id    text,
    before       jsonb,
    after        jsonb,
    run_id       text,
    request_id   text,
    prev_sha256  char(64) not null,
    sha256       char(64) not null unique
);
create index if not exists audit_log_recorded_at_idx on {TABLE} (recorded_at);
create index if not exists audit_log_object_idx on {TABLE} (object_id, seq);
create or replace function {SCHEMA}.audit_log_refuse_change() returns trigger
language plpgsql as $$
begin
    raise exception 'regreport.audit_log is append-only: % refused', tg_op
        using errcode = 'insufficient_privilege',
              hint = 'Audit entries can never be changed or removed; record a new entry.';
end
$$;
create or replace trigger audit_log_no_update_delete
    before update or delete on {TABLE}
    for each row execute function {SCHEMA}.audit_log_refuse_change();
create or replace trigger audit_log_no_truncate
    before truncate on {TABLE}
    for each statement execute function {SCHEMA}.audit_log_refuse_change();
revoke update, delete, truncate on {TABLE} from public;
"""

_SCHEMA_PRESENT = f"""
select to_regclass('{TABLE}') is not null
   and (select count(*) from pg_trigger
        where tgrelid = to_regclass('{TABLE}')
          and tgname in ('audit_log_no_update_delete', 'audit_log_no_truncate')) = 2
"""

_COLUMNS = (
    "seq, recorded_at, actor, action, object_type, object_id, before::text, after::text, "
    "run_id, request_id, prev_sha256, sha256"
)


class AuditError(RuntimeError):
    """The audit log or its anchors cannot be read or written as required."""


@dataclass(frozen=True)
class AuditEntry:
    """One audit log row, as stored.

    Attributes:
        seq: Position in the chain, from 1, without gaps.
        recorded_at: When it was recorded (timezone-aware UTC, microseconds).
        actor: Who acted: a user (``airflow:<user>``, ``os:<user>``) or the platform.
        action: What was done, dotted (``report.submit``, ``run.triggered``, ...).
        object_type: The kind of object acted on (``report``, ``run``, ``file``, ...).
        object_id: Its id, if it has one.
        before: State before the action (JSON value, as stored in jsonb), if any.
        after: State after the action (JSON value, as stored in jsonb), if any.
        run_id: Airflow run id, if the action was part of a run.
        request_id: Request id (API or CLI invocation), if any.
        prev_sha256: `sha256` of the entry before (`GENESIS_SHA256` for the first).
        sha256: SHA-256 of `canonical_json` of this entry.
    """

    seq: int
    recorded_at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str | None
    before: Any
    after: Any
    run_id: str | None
    request_id: str | None
    prev_sha256: str
    sha256: str


@dataclass(frozen=True)
class Anchor:
    """A day's entries pinned outside the database (archived with Object Lock).

    Attributes:
        day: The UTC date of the entries' `recorded_at`.
        first_seq: The day's first entry (None if the day had none).
        last_seq: The day's last entry (None if the day had none).
        count: Number of the day's entries.
        merkle_root: `merkle_root` of the day's entry hashes in seq order.
        chain_head_seq: The chain's last entry when the anchor was built (0 if empty).
        chain_head_sha256: Its hash (`GENESIS_SHA256` if the chain was empty).
    """

    day: date
    first_seq: int | None
    last_seq: int | None
    count: int
    merkle_root: str
    chain_head_seq: int
    chain_head_sha256: str

    def to_json(self) -> str:
        """Deterministic JSON: the same anchor always gives the same bytes.

        So re-archiving an anchor is a no-op rather than a conflict.
        """
        doc = {"format": ANCHOR_FORMAT, **asdict(self), "day": self.day.isoformat()}
        return json.dumps(doc, sort_keys=True, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Anchor:
        """Parse an archived anchor.

        Raises:
            ValueError: If it is not an anchor of a known format.
        """
        doc = json.loads(text)
        if not isinstance(doc, dict) or doc.get("format") != ANCHOR_FORMAT:
            raise ValueError(f"not a {ANCHOR_FORMAT} document")
        return cls(
            day=date.fromisoformat(doc["day"]),
            first_seq=doc["first_seq"],
            last_seq=doc["last_seq"],
            count=int(doc["count"]),
            merkle_root=str(doc["merkle_root"]),
            chain_head_seq=int(doc["chain_head_seq"]),
            chain_head_sha256=str(doc["chain_head_sha256"]),
        )

    @property
    def key(self) -> str:
        """Object key below the anchor prefix: ``YYYY/MM/DD/<chain head seq>.json``."""
        return f"{self.day:%Y/%m/%d}/{self.chain_head_seq}.json"


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of `verify`.

    Attributes:
        ok: True if the chain and every anchor check out.
        checked: Entries read and checked.
        first_bad_seq: The first entry found bad (or the first missing one), else None.
        problem: What is wrong, in words, else None.
        head_seq: The chain's last entry (0 if empty).
        anchors_checked: Anchors compared with the log.
    """

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str | None = None
    head_seq: int = 0
    anchors_checked: int = 0


# -- schema ---------------------------------------------------------------------------------


def ensure_schema(conn: psycopg.Connection[Any]) -> None:
    """Create the audit table and its guard triggers if they are missing.

    The DDL only runs when something is missing: `create or replace trigger` locks the table
    against inserts, and this is called inside transactions that may already have recorded
    entries, so running it every time would serialise (or deadlock) concurrent writers. It
    also lets an insert-only application role call this without owning the table. Creators
    take the writers' advisory lock first, so concurrent first calls do not race on the DDL.
    """
    row = conn.execute(_SCHEMA_PRESENT).fetchone()
    if row is None or not row[0]:
        conn.execute(DDL)


# -- hashing --------------------------------------------------------------------------------


def _format_time(value: datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("recorded_at must be timezone-aware")
    return value.astimezone(UTC).strftime(TIME_FORMAT)


def canonical_json(entry: AuditEntry) -> str:
    """The text an entry's SHA-256 is computed over.

    Every column except `sha256`, as one JSON object with sorted keys, no whitespace, UTF-8
    (non-ASCII kept, not escaped), `recorded_at` as `TIME_FORMAT` in UTC and `before`/`after`
    as the JSON values jsonb gives back (see `record`).
    """
    doc = {
        "seq": entry.seq,
        "recorded_at": _format_time(entry.recorded_at),
        "actor": entry.actor,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "before": entry.before,
        "after": entry.after,
        "run_id": entry.run_id,
        "request_id": entry.request_id,
        "prev_sha256": entry.prev_sha256,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_sha256(entry: AuditEntry) -> str:
    """Hex SHA-256 of `canonical_json` of `entry` (its stored `sha256` is ignored)."""
    return hashlib.sha256(canonical_json(entry).encode("utf-8")).hexdigest()


def merkle_root(hashes: Sequence[str]) -> str:
    """Merkle root of entry hashes (hex), in the given (seq) order.

    RFC 6962 style, so that no two different lists share a root: a leaf is
    ``sha256(0x00 || entry hash bytes)``, an inner node ``sha256(0x01 || left || right)``, and
    an odd node at the end of a level is PROMOTED unchanged to the next level (not duplicated,
    which would give ``[a, b, c]`` and ``[a, b, c, c]`` the same root). An empty list has
    ``sha256(b"")``.

    Args:
        hashes: 64-digit hex SHA-256 values.

    Returns:
        The hex root.
    """
    level = [hashlib.sha256(b"\x00" + bytes.fromhex(h)).digest() for h in hashes]
    if not level:
        return hashlib.sha256(b"").hexdigest()
    while len(level) > 1:
        paired = [
            hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest()
            for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0].hex()


# -- writing --------------------------------------------------------------------------------


def _utcnow() -> datetime:
    """The clock entries are stamped with (a function so tests can set the day)."""
    return datetime.now(tz=UTC)


def _jsonb_text(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, default=str, sort_keys=True, allow_nan=False)


def record(
    conn: psycopg.Connection[Any],
    *,
    action: str,
    actor: str,
    object_type: str,
    object_id: str | None = None,
    before: Any = None,
    after: Any = None,
    run_id: str | None = None,
    request_id: str | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction (the caller commits).

    Writers are serialised by a transaction-level advisory lock held until the caller's
    transaction ends, so seq numbers are dense and entries commit in seq order. `before` and
    `after` go through jsonb first and the hash is computed over what jsonb gives back
    (key order, number formats), so `verify` can recompute it from the stored row exactly.

    Args:
        conn: A warehouse connection (autocommit or not; with autocommit the entry is
            committed here).
        action: What was done, e.g. ``report.submit``.
        actor: Who did it, e.g. ``airflow:operator``; never personal data beyond a login.
        object_type: Kind of object acted on.
        object_id: Its id.
        before: State before (JSON-serialisable; other values are stored as ``str()``).
        after: State after (same).
        run_id: Airflow run id.
        request_id: Request id.

    Returns:
        The entry as stored.

    Raises:
        ValueError: If `action`, `actor` or `object_type` is empty, or a value is NaN/inf.
    """
    for name, value in (("action", action), ("actor", actor), ("object_type", object_type)):
        if not value:
            raise ValueError(f"audit entry needs a non-empty {name}")
    before_text, after_text = _jsonb_text(before), _jsonb_text(after)
    ensure_schema(conn)
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        normalised = conn.execute(
            "select %s::jsonb::text, %s::jsonb::text", (before_text, after_text)
        ).fetchone()
        assert normalised is not None  # noqa: S101 - a select without from returns a row
        last = conn.execute(
            f"select seq, sha256, recorded_at from {TABLE} order by seq desc limit 1"
        ).fetchone()
        now = _utcnow()
        if last is not None and last[2] > now:  # Clock went back: keep recorded_at monotonic.
            now = last[2].astimezone(UTC)
        entry = AuditEntry(
            seq=1 if last is None else last[0] + 1,
            recorded_at=now,
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            before=None if normalised[0] is None else json.loads(normalised[0]),
            after=None if normalised[1] is None else json.loads(normalised[1]),
            run_id=run_id,
            request_id=request_id,
            prev_sha256=GENESIS_SHA256 if last is None else str(last[1]),
            sha256="",
        )
        entry = replace(entry, sha256=entry_sha256(entry))
        conn.execute(
            f"""
            insert into {TABLE} (seq, recorded_at, actor, action, object_type, object_id,
                                 before, after, run_id, request_id, prev_sha256, sha256)
            values (%s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s, %s, %s)
            """,
            (
                entry.seq,
                entry.recorded_at,
                actor,
                action,
                object_type,
                object_id,
                normalised[0],
                normalised[1],
                run_id,
                request_id,
                entry.prev_sha256,
                entry.sha256,
            ),
        )
    return entry


#: The actor of the platform's own steps. The person behind a run is in the run's
#: "run.triggered" entry, linked by the same run id.
SYSTEM_ACTOR = "regreport"


def actor(default: str = SYSTEM_ACTOR) -> str:
    """Who to record as acting: `REGREPORT_ACTOR` when set, else `default`.

    The variable names an operator or a service account; the default is ``os:<login>`` for a
    command line, or the platform itself.
    """
    import os

    return os.environ.get("REGREPORT_ACTOR") or default


def record_dsn(dsn: str, **kwargs: Any) -> AuditEntry:
    """`record` on a short connection of its own, committed before returning."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        entry = record(conn, **kwargs)
        conn.commit()
    return entry


# -- reading --------------------------------------------------------------------------------


def _entry(row: Sequence[Any]) -> AuditEntry:
    return AuditEntry(
        seq=row[0],
        recorded_at=row[1].astimezone(UTC),
        actor=row[2],
        action=row[3],
        object_type=row[4],
        object_id=row[5],
        before=None if row[6] is None else json.loads(row[6]),
        after=None if row[7] is None else json.loads(row[7]),
        run_id=row[8],
        request_id=row[9],
        prev_sha256=str(row[10]),
        sha256=str(row[11]),
    )


def iter_entries(conn: psycopg.Connection[Any], *, after_seq: int = 0) -> Iterator[AuditEntry]:
    """Every entry with seq > `after_seq`, in seq order, read in pages (constant memory).

    `before`/`after` are parsed from jsonb's text form here, not by a psycopg loader a caller
    may have customised, so the values hashed are always the same.
    """
    last = after_seq
    while True:
        rows = conn.execute(
            f"select {_COLUMNS} from {TABLE} where seq > %s order by seq limit %s",
            (last, _PAGE),
        ).fetchall()
        for row in rows:
            yield _entry(row)
        if len(rows) < _PAGE:
            return
        last = rows[-1][0]


def recent(
    conn: psycopg.Connection[Any], *, limit: int = 50, object_id: str | None = None
) -> list[AuditEntry]:
    """The newest `limit` entries (optionally of one object), newest first."""
    rows = conn.execute(
        f"""
        select {_COLUMNS} from {TABLE}
        where %(object_id)s::text is null or object_id = %(object_id)s
        order by seq desc limit %(limit)s
        """,
        {"object_id": object_id, "limit": limit},
    ).fetchall()
    return [_entry(r) for r in rows]


# -- verification ---------------------------------------------------------------------------


def _link_problem(conn: psycopg.Connection[Any], entry: AuditEntry) -> tuple[int, str]:
    """Explain a prev_sha256 mismatch at `entry`: which entry it was chained to instead."""
    n = entry.seq
    base = f"entry {n} does not follow entry {n - 1} (prev_sha256 mismatch)"
    if entry.prev_sha256 == GENESIS_SHA256:
        return n, f"{base}: it claims to be the first entry"
    row = conn.execute(
        f"select min(seq) from {TABLE} where sha256 = %s", (entry.prev_sha256,)
    ).fetchone()
    linked = None if row is None else row[0]
    if linked is None:
        return n, f"{base}: the entry it was chained to is gone"
    if linked < n - 1:
        first = linked + 1
        span = f"entry {first} was" if first == n - 1 else f"entries {first}..{n - 1} were"
        return linked + 1, f"{span} inserted: {base}, it was chained to entry {linked}"
    return n, f"{base}: it was chained to entry {linked}, so entries were reordered"


def _chain_problem(
    conn: psycopg.Connection[Any], entry: AuditEntry, prev_seq: int, prev_sha: str
) -> tuple[int, str] | None:
    """(first bad seq, problem) if `entry` does not continue the chain, else None."""
    if entry.seq != prev_seq + 1:
        missing = prev_seq + 1
        what = (
            f"entry {missing} is"
            if entry.seq == missing + 1
            else f"entries {missing}..{entry.seq - 1} are"
        )
        return missing, f"{what} missing (seq gap)"
    if entry.prev_sha256 != prev_sha:
        return _link_problem(conn, entry)
    if entry_sha256(entry) != entry.sha256:
        return entry.seq, f"entry {entry.seq} was modified (hash mismatch)"
    return None


def _check_anchor(
    anchor: Anchor,
    head_seq: int,
    day_entries: list[tuple[int, str]],
    head_hashes: dict[int, str],
) -> tuple[int, str] | None:
    """(first bad seq, problem) if the log does not match `anchor`, else None."""
    day = anchor.day.isoformat()
    if head_seq < anchor.chain_head_seq:
        return head_seq + 1, (
            f"the chain ends at {head_seq} but the anchor of {day} covers up to "
            f"{anchor.chain_head_seq} (entries were removed from the end)"
        )
    entries = [(s, h) for s, h in day_entries if s <= anchor.chain_head_seq]
    seqs = [s for s, _ in entries]
    if (
        len(entries) != anchor.count
        or (seqs[0] if seqs else None) != anchor.first_seq
        or (seqs[-1] if seqs else None) != anchor.last_seq
        or merkle_root([h for _, h in entries]) != anchor.merkle_root
    ):
        firsts = [s for s in (anchor.first_seq, seqs[0] if seqs else None) if s is not None]
        first = min(firsts) if firsts else anchor.chain_head_seq
        return first, (
            f"anchor of {day}: Merkle root differs: the day's entries (now {len(entries)}, "
            f"seq {seqs[0] if seqs else '-'}..{seqs[-1] if seqs else '-'}) are not the "
            f"{anchor.count} anchored (seq {anchor.first_seq}..{anchor.last_seq}); they were "
            "rewritten after the anchor was archived"
        )
    if anchor.chain_head_seq and head_hashes.get(anchor.chain_head_seq) != (
        anchor.chain_head_sha256
    ):
        return anchor.chain_head_seq, (
            f"anchor of {day}: entry {anchor.chain_head_seq} is not the anchored chain head "
            "(sha256 differs)"
        )
    return None


def verify(conn: psycopg.Connection[Any], *, anchors: Iterable[Anchor] = ()) -> VerifyResult:
    """Check the whole chain, then the log against archived anchors.

    Per entry, in seq order: its seq follows the previous one (else an entry is missing), its
    `prev_sha256` is the previous entry's stored `sha256` (else something was inserted before
    it or entries were reordered), and its `sha256` recomputes (else it was modified). The
    chain check stops at the first problem. If the chain holds, each anchor must still match:
    the chain must reach its head (else the tail was cut), the day's entries must give the
    same Merkle root and the head entry the same hash (else the chain was rewritten
    consistently, which only the WORM copy can show). The earliest anchor problem is named.

    Args:
        conn: A warehouse connection; only reads (works for the read-only auditor role).
        anchors: Anchors to check against, e.g. `load_anchors` of the archive bucket.

    Returns:
        The outcome, naming the first bad entry.
    """
    anchors = list(anchors)
    present = conn.execute("select to_regclass(%s) is not null", (TABLE,)).fetchone()
    if present is None or not present[0]:
        if any(a.chain_head_seq for a in anchors):
            return VerifyResult(False, 0, 1, f"{TABLE} does not exist but anchors cover it")
        return VerifyResult(True, 0)
    days = {a.day for a in anchors}
    heads = {a.chain_head_seq for a in anchors}
    day_entries: dict[date, list[tuple[int, str]]] = {d: [] for d in days}
    head_hashes: dict[int, str] = {}
    checked, prev_seq, prev_sha = 0, 0, GENESIS_SHA256
    for entry in iter_entries(conn):
        checked += 1
        problem = _chain_problem(conn, entry, prev_seq, prev_sha)
        if problem is not None:
            return VerifyResult(False, checked, problem[0], problem[1], head_seq=prev_seq)
        day = entry.recorded_at.date()
        if day in day_entries:
            day_entries[day].append((entry.seq, entry.sha256))
        if entry.seq in heads:
            head_hashes[entry.seq] = entry.sha256
        prev_seq, prev_sha = entry.seq, entry.sha256
    found = [
        p
        for a in anchors
        if (p := _check_anchor(a, prev_seq, day_entries[a.day], head_hashes)) is not None
    ]
    if found:
        first_bad, problem_text = min(found)
        return VerifyResult(
            False, checked, first_bad, problem_text, prev_seq, anchors_checked=len(anchors)
        )
    return VerifyResult(True, checked, head_seq=prev_seq, anchors_checked=len(anchors))


# -- anchors --------------------------------------------------------------------------------


def build_anchor(conn: psycopg.Connection[Any], day: date) -> Anchor:
    """Pin `day`'s entries (by UTC date of `recorded_at`) and the current chain head.

    Taken under the writers' advisory lock, so every entry numbered up to the head has been
    committed and is seen. Building it again later gives a different anchor only if entries
    were added since (a new head), which is archived under a new key.
    """
    ensure_schema(conn)
    start = datetime.combine(day, time(), tzinfo=UTC)
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        head = conn.execute(f"select seq, sha256 from {TABLE} order by seq desc limit 1").fetchone()
        rows = conn.execute(
            f"""
            select seq, sha256 from {TABLE}
            where recorded_at >= %s and recorded_at < %s order by seq
            """,
            (start, start + timedelta(days=1)),
        ).fetchall()
    return Anchor(
        day=day,
        first_seq=rows[0][0] if rows else None,
        last_seq=rows[-1][0] if rows else None,
        count=len(rows),
        merkle_root=merkle_root([str(r[1]) for r in rows]),
        chain_head_seq=0 if head is None else head[0],
        chain_head_sha256=GENESIS_SHA256 if head is None else str(head[1]),
    )


def archive_anchor(
    client: S3Client,
    bucket: str,
    anchor: Anchor,
    retain_until: datetime,
    *,
    prefix: str = ANCHOR_PREFIX,
) -> str:
    """Archive `anchor` as JSON with COMPLIANCE retention; return its ``s3://`` URI.

    The key is ``<prefix>YYYY/MM/DD/<chain head seq>.json``. Archiving the same anchor again
    is a no-op; a different anchor under an existing key raises
    `regreport.archive.ArchiveConflictError` (an anchor is never overwritten).

    Args:
        client: A boto3 S3 client.
        bucket: The Object Lock bucket (see `regreport.archive.ensure_bucket`).
        anchor: From `build_anchor`.
        retain_until: Timezone-aware retention end (the audit retention).
        prefix: Key prefix (tests use a unique one).
    """
    from regreport.archive import archive_file

    body = anchor.to_json().encode("utf-8")
    with tempfile.TemporaryDirectory(prefix="regreport-anchor-") as tmp:
        path = Path(tmp) / "anchor.json"
        path.write_bytes(body)
        result = archive_file(
            client,
            bucket,
            prefix + anchor.key,
            path,
            sha256_hex=hashlib.sha256(body).hexdigest(),
            retain_until=retain_until,
            mode="COMPLIANCE",
            metadata={"kind": "audit-anchor"},
        )
    return result.uri


def load_anchors(client: S3Client, bucket: str, *, prefix: str = ANCHOR_PREFIX) -> list[Anchor]:
    """Every anchor archived in `bucket`, by day then chain head.

    Reads the OLDEST version of each key: that is the one archived under retention, and a
    newer version or a delete marker put on top by someone with S3 write access cannot hide
    it. A missing bucket gives no anchors.

    Raises:
        AuditError: If an object under the prefix is not a readable anchor.
    """
    try:
        pages = list(
            client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix)
        )
    except client.exceptions.ClientError as exc:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        if code in ("NoSuchBucket", "404", "NotFound"):
            return []
        raise
    oldest: dict[str, dict[str, Any]] = {}
    for page in pages:
        for version in page.get("Versions", []):
            key = version["Key"]
            if key.endswith(".json") and (
                key not in oldest or version["LastModified"] < oldest[key]["LastModified"]
            ):
                oldest[key] = version
    anchors = []
    for key, version in sorted(oldest.items()):
        body = client.get_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])["Body"]
        try:
            anchors.append(Anchor.from_json(body.read()))
        except (ValueError, KeyError, TypeError) as exc:
            raise AuditError(f"s3://{bucket}/{key} is not a readable audit anchor: {exc}") from exc
    return sorted(anchors, key=lambda a: (a.day, a.chain_head_seq))


def anchor_day(
    conn: psycopg.Connection[Any],
    client: Any,
    bucket: str,
    day: date,
    *,
    retain_until: datetime,
    actor: str,
) -> tuple[Anchor, str]:
    """Build, archive (write-once) and record the anchor of `day`; return it and its URI.

    The anchor's own "audit.anchor" entry goes into the next day's anchor, so every anchor is
    itself covered by a later one.
    """
    from regreport.archive import ensure_bucket

    ensure_bucket(client, bucket)
    anchor = build_anchor(conn, day)
    conn.commit()
    uri = archive_anchor(client, bucket, anchor, retain_until)
    record(
        conn,
        action="audit.anchor",
        actor=actor,
        object_type="audit_anchor",
        object_id=uri,
        after={"day": day.isoformat(), "uri": uri, "merkle_root": anchor.merkle_root},
    )
    conn.commit()
    return anchor, uri
