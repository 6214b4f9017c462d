"""Prove the archive: re-read every archived report and check it against registry and manifest.

For each row of ``regreport.report_registry`` this re-reads the archived object version the
registry points at, recomputes its SHA-256 (streamed, so memory stays flat for any size),
reads the manifest archived beside it, and checks the Object Lock state the server reports:
COMPLIANCE mode, a retain-until date no earlier than the registry's (and not yet passed), and
the legal hold flag wherever an active hold (`regreport.holds`) says there must be one.

Every difference is named in plain words, so the output can be handed to an auditor as is.
Nothing is written: an auditor's read-only database role and read-only S3 credentials suffice.
This module does not import Airflow.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
    """The verdict on one registered report.

    Attributes:
        report_id: Registry id.
        key: Object key of the report (None if the registry has no S3 URI).
        ok: True if nothing is missing or different.
        problems: One precise sentence per finding; empty when ok.
        file_name: The registered file name.
        version_id: The registered S3 version id.
    """

    report_id: int
    key: str | None
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    file_name: str | None = None
    version_id: str | None = None

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
