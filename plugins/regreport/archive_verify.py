"""Prove the archive: re-read every archived object and check it against what we recorded.

- **Reports** (`verify_archive`): for each row of ``regreport.report_registry`` this re-reads
  the archived object version the registry points at, recomputes its SHA-256 (streamed, so
  memory stays flat for any size), reads the manifest archived beside it, and checks the
  Object Lock state the server reports: COMPLIANCE mode, a retain-until date no earlier than
  the registry's (and not yet passed), and the legal hold flag wherever an active hold
  (`regreport.holds`) says there must be one.
- **Regulator feedback** (`verify_feedback`): each file in ``regreport.feedback_files`` that
  was downloaded is archived, its bytes hash to the recorded SHA-256, and it is locked
  COMPLIANCE for the feedback retention from the day it was archived.
- **Audit anchors** (`verify_anchors`): every anchor object is locked COMPLIANCE for the audit
  retention and was never overwritten (their content is checked by ``regreport audit verify``).

Every difference is named in plain words, so the output can be handed to an auditor as is.
Nothing is written: an auditor's read-only database role and read-only S3 credentials suffice.
This module does not import Airflow.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from psycopg.rows import dict_row

from regreport import holds
from regreport.registry import SCHEMA

if TYPE_CHECKING:
    from collections.abc import Iterable

    import psycopg

    from regreport.archive import S3Client

#: The lock mode every archived record must have (nobody can shorten or lift it).
EXPECTED_MODE = "COMPLIANCE"
#: Manifests are a few KiB; refuse to load anything absurd into memory.
_MAX_MANIFEST_BYTES = 16 * 1024 * 1024
_CHUNK = 1024 * 1024
_NOT_FOUND = {"404", "NoSuchKey", "NotFound", "NoSuchVersion"}
#: Manifest fields the registry also keeps as columns.
_MANIFEST_FIELDS = ("sha256", "record_count", "file_name")


@dataclass
class ArchiveCheck:
    """The verdict on one archived object (a report, a feedback file or an audit anchor).

    Attributes:
        report_id: Registry id of a report, ``feedback_id`` of a feedback file; None for an
            anchor.
        key: Object key (None if nothing says where it was archived).
        ok: True if nothing is missing or different.
        problems: One precise sentence per finding; empty when ok.
        file_name: The registered file name.
        version_id: The registered S3 version id.
        kind: "report", "feedback" or "anchor".
    """

    report_id: int | None
    key: str | None
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    file_name: str | None = None
    version_id: str | None = None
    kind: str = "report"

    def add(self, problem: str) -> None:
        """Record a finding (and mark the check failed)."""
        self.problems.append(problem)
        self.ok = False


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso(value: datetime) -> str:
    return _utc(value).replace(microsecond=0).isoformat()


def _stream_sha256(client: S3Client, bucket: str, key: str, version_id: str) -> tuple[str, int]:
    """SHA-256 and size of one version, read in chunks."""
    body = client.get_object(Bucket=bucket, Key=key, VersionId=version_id)["Body"]
    digest = hashlib.sha256()
    size = 0
    try:
        for chunk in iter(lambda: body.read(_CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    finally:
        body.close()
    return digest.hexdigest(), size


def _check_lock(
    check: ArchiveCheck,
    what: str,
    head: dict[str, Any],
    retain_until: datetime | None,
    now: datetime,
    held_by: list[int] | None,
) -> None:
    """Object Lock mode, retention and (if an active hold covers it) the legal hold flag."""
    mode = head.get("ObjectLockMode")
    until = head.get("ObjectLockRetainUntilDate")
    if not mode or until is None:
        check.add(f"{what}: no Object Lock retention, expected {EXPECTED_MODE}")
    else:
        if mode != EXPECTED_MODE:
            check.add(f"{what}: mode {mode}, expected {EXPECTED_MODE}")
        until = _utc(until)
        if retain_until is not None and until < _utc(retain_until).replace(microsecond=0):
            check.add(
                f"{what}: retention shortened: object retained until {_iso(until)}, "
                f"registry says {_iso(retain_until)}"
            )
        if until <= now:
            check.add(f"{what}: retention expired on {_iso(until)}; the object can be deleted")
    if held_by:
        status = head.get("ObjectLockLegalHoldStatus") or "OFF"
        if status != "ON":
            ids = ", ".join(map(str, held_by))
            check.add(f"{what}: legal hold {ids} is active but the object's legal hold is {status}")


def _head(
    client: S3Client, bucket: str, key: str, version_id: str, check: ArchiveCheck, what: str
) -> dict[str, Any] | None:
    """head_object on one version; a missing or unreadable one is recorded as a problem."""
    try:
        return client.head_object(Bucket=bucket, Key=key, VersionId=version_id)
    except client.exceptions.ClientError as exc:
        if _code(exc) in _NOT_FOUND:
            check.add(f"{what} missing: s3://{bucket}/{key} version {version_id}")
        else:
            check.add(f"{what} unreadable: s3://{bucket}/{key} version {version_id} ({_code(exc)})")
        return None


def _check_other_versions(
    client: S3Client, bucket: str, key: str, version_id: str, check: ArchiveCheck, what: str
) -> None:
    """Name versions written under the key after the record (an overwrite attempt)."""
    others = [v for v in holds.key_versions(client, bucket, key) if v["VersionId"] != version_id]
    if others:
        latest = any(v.get("IsLatest") for v in others)
        check.add(
            f"{what}: {len(others)} other version(s) under the key"
            + ("; a plain GET returns one of them, not the record" if latest else "")
        )


def _check_local_manifest(check: ArchiveCheck, row: dict[str, Any]) -> None:
    """The registry's own copy of the manifest must agree with its columns."""
    local = row["manifest"] or {}
    for name in _MANIFEST_FIELDS:
        if name in local and str(local[name]) != str(row[name]).strip():
            label = "sha" if name == "sha256" else name
            check.add(
                f"local registry {label} differs from manifest: registry {row[name]}, "
                f"manifest {local[name]}"
            )


def _check_manifest(
    client: S3Client,
    bucket: str,
    key: str,
    row: dict[str, Any],
    check: ArchiveCheck,
    now: datetime,
    held: dict[tuple[str, str], list[int]],
) -> None:
    """The archived manifest: present, locked, and saying what the registry says."""
    mkey = key + holds.MANIFEST_SUFFIX
    versions = holds.key_versions(client, bucket, mkey)
    if not versions:
        check.add(f"manifest missing: s3://{bucket}/{mkey}")
        return
    version_id = versions[0]["VersionId"]
    if len(versions) > 1:
        check.add(f"manifest: {len(versions) - 1} other version(s) under the key")
    head = _head(client, bucket, mkey, version_id, check, "manifest")
    if head is None:
        return
    _check_lock(check, "manifest", head, row["retain_until"], now, held.get((mkey, version_id)))
    if head.get("ContentLength", 0) > _MAX_MANIFEST_BYTES:
        check.add(f"manifest: {head['ContentLength']} bytes, too large to be a manifest")
        return
    body = client.get_object(Bucket=bucket, Key=mkey, VersionId=version_id)["Body"]
    try:
        archived = json.loads(body.read())
    except ValueError as exc:
        check.add(f"manifest unreadable: not JSON ({exc.__class__.__name__})")
        return
    finally:
        body.close()
    if not isinstance(archived, dict):
        check.add("manifest unreadable: not a JSON object")
        return
    for name in _MANIFEST_FIELDS:
        value = archived.get(name)
        if value is None or str(value) != str(row[name]).strip():
            check.add(
                f"manifest {name} differs: registry {row[name]}, manifest "
                f"{'(none)' if value is None else value}"
            )
    local = row["manifest"] or {}
    changed = sorted(k for k in set(local) | set(archived) if local.get(k) != archived.get(k))
    if changed:
        check.add(f"archived manifest differs from the registry's copy in: {', '.join(changed)}")


def _check_row(
    client: S3Client,
    bucket: str,
    row: dict[str, Any],
    now: datetime,
    held: dict[tuple[str, str], list[int]],
) -> ArchiveCheck:
    check = ArchiveCheck(row["report_id"], None, file_name=row["file_name"])
    _check_local_manifest(check, row)
    uri, version_id = row["s3_uri"], row["s3_version_id"]
    if not uri or not version_id:
        check.add("not archived: the registry has no S3 URI or version id")
        return check
    try:
        uri_bucket, key = holds.split_s3_uri(uri)
    except ValueError:
        check.add(f"registry s3_uri is malformed: {uri!r}")
        return check
    check.key, check.version_id = key, version_id
    if uri_bucket != bucket:
        check.add(f"registry s3_uri names bucket {uri_bucket}, expected {bucket}")
    if key.rsplit("/", 1)[-1] != row["file_name"]:
        check.add(f"object key {key} does not end in the registered file name {row['file_name']}")
    if row["retain_until"] is None:
        check.add("registry has no retain_until date")
    head = _head(client, bucket, key, version_id, check, "object")
    if head is not None:
        sha256, size = _stream_sha256(client, bucket, key, version_id)
        registered = str(row["sha256"]).strip()
        if sha256 != registered:
            check.add(f"sha256 differs: registry {registered}, object {sha256}")
        if size != row["bytes"]:
            check.add(f"size differs: registry {row['bytes']} bytes, object {size} bytes")
        _check_lock(check, "object", head, row["retain_until"], now, held.get((key, version_id)))
        _check_other_versions(client, bucket, key, version_id, check, "object")
    _check_manifest(client, bucket, key, row, check, now, held)
    return check


def verify_archive(
    conn: psycopg.Connection[Any],
    client: S3Client,
    bucket: str,
    *,
    report_ids: Iterable[int] | None = None,
    now: datetime | None = None,
) -> list[ArchiveCheck]:
    """Check archived reports against the registry and their manifests.

    Args:
        conn: Warehouse connection (only read).
        client: A boto3 S3 client (only reads).
        bucket: The archive bucket.
        report_ids: Only these registry ids (default: every registered report). An id not in
            the registry yields a failed check.
        now: The instant retention is judged against (default: now); timezone-aware.

    Returns:
        One `ArchiveCheck` per report, in report id order.
    """
    now = _utc(now or datetime.now(tz=UTC))
    ids = sorted(set(report_ids)) if report_ids is not None else None
    exists = conn.execute("select to_regclass(%s)", (f"{SCHEMA}.report_registry",)).fetchone()
    if not exists or exists[0] is None:  # Nothing registered yet; verify creates nothing.
        conn.rollback()
        rows: list[dict[str, Any]] = []
        held: dict[tuple[str, str], list[int]] = {}
    else:
        rows, held = _registry_rows(conn, ids)
    checks = [_check_row(client, bucket, row, now, held) for row in rows]
    for missing in sorted(set(ids or ()) - {r["report_id"] for r in rows}):
        check = ArchiveCheck(missing, None)
        check.add("not in the registry")
        checks.append(check)
    return sorted(checks, key=lambda c: c.report_id)


def _registry_rows(
    conn: psycopg.Connection[Any], ids: list[int] | None
) -> tuple[list[dict[str, Any]], dict[tuple[str, str], list[int]]]:
    """The registry rows to check and the active holds, read in one short transaction."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"""
            select report_id, report_type, file_name, sha256, record_count, bytes, s3_uri,
                   s3_version_id, retain_until, manifest
            from {SCHEMA}.report_registry
            where %(ids)s::bigint[] is null or report_id = any(%(ids)s::bigint[])
            order by report_id
            """,
            {"ids": ids},
        )
        rows = list(cur.fetchall())
    held = holds.active_holds(conn)
    conn.rollback()  # Do not hold a read transaction open while reading S3.
    return rows, held


#: Slack between the retention computed before an upload and the server's LastModified.
_RETENTION_SLACK = timedelta(hours=1)


def _check_retention_floor(
    check: ArchiveCheck, what: str, head: dict[str, Any], retention_days: int
) -> None:
    """Retention must run at least `retention_days` from the day the object was written."""
    until, written = head.get("ObjectLockRetainUntilDate"), head.get("LastModified")
    if until is None or written is None:
        return
    floor = _utc(written) + timedelta(days=retention_days) - _RETENTION_SLACK
    if _utc(until) < floor:
        check.add(
            f"{what}: retained until {_iso(until)}, less than the {retention_days} days "
            f"required from its archiving on {_iso(written)}"
        )


def _check_stored_object(
    client: S3Client,
    bucket: str,
    check: ArchiveCheck,
    key: str,
    version_id: str,
    *,
    sha256: str | None,
    size: int | None,
    retention_days: int,
    now: datetime,
) -> None:
    """Hash, size, lock, retention floor and extra versions of one stored object version."""
    check.key, check.version_id = key, version_id
    head = _head(client, bucket, key, version_id, check, check.kind)
    if head is None:
        return
    if sha256 is not None or size is not None:
        actual_sha, actual_size = _stream_sha256(client, bucket, key, version_id)
        if sha256 is not None and actual_sha != sha256.strip():
            check.add(f"sha256 differs: recorded {sha256.strip()}, object {actual_sha}")
        if size is not None and actual_size != size:
            check.add(f"size differs: recorded {size} bytes, object {actual_size} bytes")
    _check_lock(check, check.kind, head, None, now, None)
    _check_retention_floor(check, check.kind, head, retention_days)
    _check_other_versions(client, bucket, key, version_id, check, check.kind)


def verify_feedback(
    conn: psycopg.Connection[Any],
    client: S3Client,
    bucket: str,
    *,
    retention_days: int,
    now: datetime | None = None,
) -> list[ArchiveCheck]:
    """Check every regulator feedback file recorded in ``regreport.feedback_files``.

    A file refused before it was read (too large) has no content to keep and is skipped;
    every other one must be archived, intact and locked.

    Args:
        conn: Warehouse connection (only read).
        client: A boto3 S3 client (only reads).
        bucket: The archive bucket.
        retention_days: The feedback retention (`Settings.retention_days_for("feedback")`).
        now: The instant retention is judged against (default: now); timezone-aware.

    Returns:
        One `ArchiveCheck` (kind "feedback", `report_id` = feedback id) per file, in id order.
    """
    now = _utc(now or datetime.now(tz=UTC))
    exists = conn.execute("select to_regclass(%s)", (f"{SCHEMA}.feedback_files",)).fetchone()
    if not exists or exists[0] is None:
        conn.rollback()
        return []
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"""select feedback_id, remote_name, sha256, bytes, s3_uri, s3_version_id
                from {SCHEMA}.feedback_files where sha256 is not null order by feedback_id"""
        )
        rows = list(cur.fetchall())
    conn.rollback()
    checks = []
    for row in rows:
        check = ArchiveCheck(row["feedback_id"], None, file_name=row["remote_name"])
        check.kind = "feedback"
        checks.append(check)
        if not row["s3_uri"] or not row["s3_version_id"]:
            check.add("not archived: downloaded and recorded, but no S3 URI or version id")
            continue
        try:
            uri_bucket, key = holds.split_s3_uri(row["s3_uri"])
        except ValueError:
            check.add(f"recorded s3_uri is malformed: {row['s3_uri']!r}")
            continue
        if uri_bucket != bucket:
            check.add(f"recorded s3_uri names bucket {uri_bucket}, expected {bucket}")
            continue
        _check_stored_object(
            client,
            bucket,
            check,
            key,
            row["s3_version_id"],
            sha256=str(row["sha256"]),
            size=row["bytes"],
            retention_days=retention_days,
            now=now,
        )
    return checks


def verify_anchors(
    client: S3Client,
    bucket: str,
    *,
    retention_days: int,
    now: datetime | None = None,
    prefix: str | None = None,
) -> list[ArchiveCheck]:
    """Check the lock of every archived audit anchor (one object per day, never rewritten).

    Args:
        client: A boto3 S3 client (only reads).
        bucket: The archive bucket.
        retention_days: The audit retention (`Settings.retention_days_for("audit")`).
        now: The instant retention is judged against (default: now); timezone-aware.
        prefix: Where anchors live (default `regreport.audit.ANCHOR_PREFIX`).

    Returns:
        One `ArchiveCheck` (kind "anchor") per anchor key, in key order.
    """
    from regreport.audit import ANCHOR_PREFIX

    now = _utc(now or datetime.now(tz=UTC))
    by_key: dict[str, list[dict[str, Any]]] = {}
    paginator = client.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix or ANCHOR_PREFIX):
        for version in page.get("Versions", []):
            by_key.setdefault(version["Key"], []).append(version)
        for marker in page.get("DeleteMarkers", []):
            by_key.setdefault(marker["Key"], [])
    checks = []
    for key in sorted(by_key):
        # S3 lists a key's versions newest first; reversed, a stable sort keeps that order
        # for versions written within the same second.
        versions = sorted(reversed(by_key[key]), key=lambda v: v["LastModified"])
        check = ArchiveCheck(None, key, file_name=key.rsplit("/", 1)[-1], kind="anchor")
        checks.append(check)
        if not versions:
            check.add("anchor hidden by a delete marker and no version left")
            continue
        # The first version written is the anchor; any later one is an overwrite attempt.
        _check_stored_object(
            client,
            bucket,
            check,
            key,
            versions[0]["VersionId"],
            sha256=None,
            size=None,
            retention_days=retention_days,
            now=now,
        )
    return checks
