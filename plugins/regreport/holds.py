"""Legal holds on archived reports, and retention per record type.

A legal hold (litigation, an investigation, a regulator's request) freezes a set of reports
beyond their retention: every covered S3 object version (the report and its manifest) gets
Object Lock ``LegalHold=ON``, which blocks deletion even once the retention has expired. Holds
are recorded in ``regreport.legal_holds`` / ``regreport.legal_hold_objects`` so that they can be
listed, verified (`regreport.archive_verify`) and released; every place and release is written to
the audit trail (`regreport.audit.record`).

S3 has one legal-hold flag per object version, while several matters may hold the same report.
So releasing a hold lifts the flag only from objects that no other active hold covers, and
placing and releasing serialise on a transaction-level advisory lock so that a concurrent place
cannot be undone by a release that did not see it.

This module does not import Airflow; S3 calls take a boto3 client (see `regreport.archive`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from psycopg.rows import dict_row

from regreport import archive as worm
from regreport import registry

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    import psycopg

    from regreport.config import Settings

SCHEMA = registry.SCHEMA
#: Suffix of the manifest archived next to each report (see `regreport.pipeline.archive`).
MANIFEST_SUFFIX = ".manifest.json"
#: Advisory lock key shared by place and release ("legal_hold" in ASCII, as a bigint).
_LOCK_KEY = 0x6C6567616C686F6C

DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {SCHEMA}.legal_holds (
    hold_id         bigint generated always as identity primary key,
    reason          text not null check (length(btrim(reason)) > 0),
    placed_by       text not null,
    placed_at       timestamptz not null default now(),
    released_by     text,
    released_at     timestamptz,
    release_reason  text,
    check ((released_at is null) = (released_by is null))
);
create table if not exists {SCHEMA}.legal_hold_objects (
    hold_id         bigint not null references {SCHEMA}.legal_holds (hold_id),
    report_id       bigint not null references {SCHEMA}.report_registry (report_id),
    key             text not null,
    version_id      text not null,
    primary key (hold_id, key, version_id)
);
create index if not exists legal_hold_objects_version_idx
    on {SCHEMA}.legal_hold_objects (key, version_id);
"""


class HoldError(RuntimeError):
    """A hold cannot be placed or released as asked (unknown report or hold, not archived)."""


@dataclass(frozen=True)
class HeldObject:
    """One S3 object version under a hold: a report file or its manifest."""

    report_id: int
    key: str
    version_id: str


@dataclass(frozen=True)
class Release:
    """What releasing a hold did: flags lifted, and objects another active hold still covers."""

    hold_id: int
    lifted: tuple[HeldObject, ...]
    kept: tuple[HeldObject, ...]


def retention_until_for(settings: Settings, record_type: str, now: datetime) -> datetime:
    """The retain-until date for a record of `record_type` archived at `now`.

    Args:
        settings: Deployment settings (`retention_years` per type, else `retention_days`).
        record_type: A report type (e.g. "mifir_rts22"), "feedback" or "audit".
        now: Timezone-aware instant the retention runs from.

    Returns:
        The timezone-aware UTC retention end, whole seconds.
    """
    return worm.retention_until(now, settings.retention_days_for(record_type))


def ensure_schema(conn: psycopg.Connection[Any]) -> None:
    """Create the hold tables (and the registry they reference) if missing."""
    from regreport import ddl

    registry.ensure_schema(conn)
    ddl.ensure(conn, "holds", DDL)


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key).

    Raises:
        ValueError: If `uri` is not an ``s3://bucket/key`` URI.
    """
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"not an s3://bucket/key URI: {uri!r}")
    bucket, key = uri[5:].split("/", 1)
    if not bucket or not key:
        raise ValueError(f"not an s3://bucket/key URI: {uri!r}")
    return bucket, key


def key_versions(client: worm.S3Client, bucket: str, key: str) -> list[dict[str, Any]]:
    """Every version (not delete markers) stored under exactly `key`, oldest first."""
    versions: list[dict[str, Any]] = []
    paginator = client.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, Prefix=key):
        versions.extend(v for v in page.get("Versions", []) if v["Key"] == key)
    return sorted(versions, key=lambda v: v["LastModified"])


def archived_manifest_version(client: worm.S3Client, bucket: str, report_key: str) -> str | None:
    """Version id of the manifest archived with a report: the first version under its key.

    The manifest is archived once, right after its report; any later version under the same
    key is an overwrite attempt and never the record.
    """
    versions = key_versions(client, bucket, report_key + MANIFEST_SUFFIX)
    return versions[0]["VersionId"] if versions else None


def report_objects(
    conn: psycopg.Connection[Any], client: worm.S3Client, bucket: str, report_ids: Iterable[int]
) -> list[HeldObject]:
    """The archived object versions of registered reports: each file and its manifest.

    Raises:
        HoldError: A report id is not registered, not archived, or archived in another bucket.
    """
    ids = sorted(set(report_ids))
    rows = conn.execute(
        f"""
        select report_id, s3_uri, s3_version_id from {SCHEMA}.report_registry
        where report_id = any(%s) order by report_id
        """,
        (ids,),
    ).fetchall()
    found = {r[0] for r in rows}
    missing = [i for i in ids if i not in found]
    if missing:
        raise HoldError(f"report(s) not in the registry: {', '.join(map(str, missing))}")
    objects: list[HeldObject] = []
    for report_id, uri, version_id in rows:
        if not uri or not version_id:
            raise HoldError(f"report {report_id} was never archived; there is nothing to hold")
        uri_bucket, key = split_s3_uri(uri)
        if uri_bucket != bucket:
            raise HoldError(
                f"report {report_id} is archived in bucket {uri_bucket!r}, not {bucket!r}"
            )
        objects.append(HeldObject(report_id, key, version_id))
        manifest_version = archived_manifest_version(client, bucket, key)
        if manifest_version is not None:
            objects.append(HeldObject(report_id, key + MANIFEST_SUFFIX, manifest_version))
    return objects


def _set_flag(client: worm.S3Client, bucket: str, obj: HeldObject, status: str) -> None:
    client.put_object_legal_hold(
        Bucket=bucket, Key=obj.key, VersionId=obj.version_id, LegalHold={"Status": status}
    )


def _covered(conn: psycopg.Connection[Any], objects: Iterable[HeldObject]) -> set[tuple[str, str]]:
    """The (key, version) pairs among `objects` that an active hold covers."""
    pairs = [(o.key, o.version_id) for o in objects]
    if not pairs:
        return set()
    rows = conn.execute(
        f"""
        select distinct o.key, o.version_id
        from {SCHEMA}.legal_hold_objects as o
        join {SCHEMA}.legal_holds as h using (hold_id)
        where h.released_at is null
          and (o.key, o.version_id) in (select * from unnest(%s::text[], %s::text[]))
        """,
        ([p[0] for p in pairs], [p[1] for p in pairs]),
    ).fetchall()
    return {(r[0], r[1]) for r in rows}


def _audit(conn: psycopg.Connection[Any], action: str, actor: str, hold_id: int, **kw: Any) -> None:
    from regreport import audit

    audit.record(
        conn,
        action=action,
        actor=actor,
        object_type="legal_hold",
        object_id=str(hold_id),
        before=kw.get("before"),
        after=kw.get("after"),
    )


def place_hold(
    conn: psycopg.Connection[Any],
    client: worm.S3Client,
    bucket: str,
    *,
    report_ids: Iterable[int],
    reason: str,
    actor: str,
) -> int:
    """Put a legal hold on reports (each file and its manifest) and record it, audited.

    The hold rows, the audit entry and the S3 flags succeed together: if setting a flag fails,
    the transaction is rolled back and the flags already set are lifted again unless another
    active hold covers them.

    Args:
        conn: Warehouse connection (committed on success).
        client: A boto3 S3 client.
        bucket: The archive bucket (Object Lock enabled).
        report_ids: Registry ids of the reports to hold.
        reason: Why (matter, request reference); required.
        actor: Who places the hold (recorded and audited).

    Returns:
        The new hold's id.

    Raises:
        ValueError: No report ids, or an empty reason or actor.
        HoldError: A report is unknown or not archived.
    """
    ids = sorted(set(report_ids))
    if not ids:
        raise ValueError("a legal hold needs at least one report id")
    if not reason.strip() or not actor.strip():
        raise ValueError("a legal hold needs a reason and an actor")
    ensure_schema(conn)
    conn.commit()
    try:
        conn.execute("select pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        objects = report_objects(conn, client, bucket, ids)
        row = conn.execute(
            f"""
            insert into {SCHEMA}.legal_holds (reason, placed_by) values (%s, %s)
            returning hold_id, placed_at
            """,
            (reason, actor),
        ).fetchone()
        assert row is not None  # noqa: S101 - insert ... returning always returns a row
        hold_id, placed_at = row
        with conn.cursor() as cur:
            cur.executemany(
                f"""
                insert into {SCHEMA}.legal_hold_objects (hold_id, report_id, key, version_id)
                values (%s, %s, %s, %s)
                """,
                [(hold_id, o.report_id, o.key, o.version_id) for o in objects],
            )
        _audit(
            conn,
            "legal_hold.place",
            actor,
            hold_id,
            before=None,
            after={
                "hold_id": hold_id,
                "reason": reason,
                "placed_at": placed_at.isoformat(),
                "report_ids": ids,
                "objects": [{"key": o.key, "version_id": o.version_id} for o in objects],
            },
        )
    except BaseException:
        conn.rollback()
        raise
    flagged: list[HeldObject] = []
    try:
        for obj in objects:
            _set_flag(client, bucket, obj, "ON")
            flagged.append(obj)
        conn.commit()
    except BaseException:
        conn.rollback()
        covered = _covered(conn, flagged)
        conn.rollback()
        for obj in flagged:
            if (obj.key, obj.version_id) not in covered:
                _set_flag(client, bucket, obj, "OFF")
        raise
    return int(hold_id)


def release_hold(
    conn: psycopg.Connection[Any],
    client: worm.S3Client,
    bucket: str,
    hold_id: int,
    *,
    actor: str,
    reason: str,
) -> Release:
    """Release a legal hold, audited; lift the S3 flag where no other active hold remains.

    Args:
        conn: Warehouse connection (committed on success).
        client: A boto3 S3 client.
        bucket: The archive bucket.
        hold_id: The hold to release.
        actor: Who releases it (recorded and audited).
        reason: Why (e.g. the matter closed); required.

    Returns:
        The objects whose flag was lifted and those still held by another hold.

    Raises:
        ValueError: An empty reason or actor.
        HoldError: No such hold, or it was already released.
    """
    if not reason.strip() or not actor.strip():
        raise ValueError("releasing a legal hold needs a reason and an actor")
    ensure_schema(conn)
    conn.commit()
    try:
        conn.execute("select pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        with conn.cursor(row_factory=dict_row) as cur:
            hold = cur.execute(
                f"select * from {SCHEMA}.legal_holds where hold_id = %s for update", (hold_id,)
            ).fetchone()
        if hold is None:
            raise HoldError(f"no legal hold {hold_id}")
        if hold["released_at"] is not None:
            raise HoldError(f"legal hold {hold_id} was already released")
        objects = [
            HeldObject(r[0], r[1], r[2])
            for r in conn.execute(
                f"""
                select report_id, key, version_id from {SCHEMA}.legal_hold_objects
                where hold_id = %s order by report_id, key
                """,
                (hold_id,),
            ).fetchall()
        ]
        released = conn.execute(
            f"""
            update {SCHEMA}.legal_holds
            set released_by = %s, released_at = now(), release_reason = %s
            where hold_id = %s returning released_at
            """,
            (actor, reason, hold_id),
        ).fetchone()
        assert released is not None  # noqa: S101 - the row was locked above
        covered = _covered(conn, objects)  # Other active holds, now that this one is released.
        lifted = tuple(o for o in objects if (o.key, o.version_id) not in covered)
        kept = tuple(o for o in objects if (o.key, o.version_id) in covered)
        _audit(
            conn,
            "legal_hold.release",
            actor,
            hold_id,
            before={
                "hold_id": hold_id,
                "reason": hold["reason"],
                "placed_by": hold["placed_by"],
                "placed_at": hold["placed_at"].isoformat(),
                "released_at": None,
            },
            after={
                "hold_id": hold_id,
                "released_at": released[0].isoformat(),
                "release_reason": reason,
                "lifted": [{"key": o.key, "version_id": o.version_id} for o in lifted],
                "kept_by_other_holds": [{"key": o.key, "version_id": o.version_id} for o in kept],
            },
        )
    except BaseException:
        conn.rollback()
        raise
    done: list[HeldObject] = []
    try:
        for obj in lifted:
            _set_flag(client, bucket, obj, "OFF")
            done.append(obj)
        conn.commit()
    except BaseException:
        conn.rollback()
        for obj in done:  # The hold is still active in the database: put its flags back.
            _set_flag(client, bucket, obj, "ON")
        raise
    return Release(hold_id, lifted, kept)


def list_holds(conn: psycopg.Connection[Any], *, active_only: bool = False) -> list[dict[str, Any]]:
    """Legal holds, newest first, with the reports they cover."""
    ensure_schema(conn)
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"""
            select h.hold_id, h.reason, h.placed_by, h.placed_at, h.released_by,
                   h.released_at, h.release_reason,
                   coalesce(array_agg(distinct o.report_id order by o.report_id)
                            filter (where o.report_id is not null), '{{}}') as report_ids,
                   count(o.key) as objects
            from {SCHEMA}.legal_holds as h
            left join {SCHEMA}.legal_hold_objects as o using (hold_id)
            where not %s or h.released_at is null
            group by h.hold_id
            order by h.hold_id desc
            """,
            (active_only,),
        )
        return list(cur.fetchall())


def active_holds(conn: psycopg.Connection[Any]) -> dict[tuple[str, str], list[int]]:
    """(key, version id) -> ids of the active holds covering it; empty if no hold table yet.

    Read-only (no DDL), so an auditor's read-only role can run `regreport archive verify`.
    """
    exists = conn.execute("select to_regclass(%s)", (f"{SCHEMA}.legal_hold_objects",)).fetchone()
    if not exists or exists[0] is None:
        return {}
    held: dict[tuple[str, str], list[int]] = {}
    for key, version_id, hold_id in conn.execute(
        f"""
        select o.key, o.version_id, o.hold_id
        from {SCHEMA}.legal_hold_objects as o
        join {SCHEMA}.legal_holds as h using (hold_id)
        where h.released_at is null
        order by o.hold_id
        """
    ).fetchall():
        held.setdefault((key, version_id), []).append(hold_id)
    return held
