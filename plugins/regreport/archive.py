"""WORM archive of submitted reports on S3 Object Lock.

Every report file that leaves the firm is archived once, write-once-read-many: the object is
uploaded into a bucket with Object Lock enabled, with a per-object COMPLIANCE retention that
nobody (not even the root account) can shorten or remove, and with its SHA-256 sent as
``ChecksumSHA256`` so the server refuses the upload if a single byte differs (``BadDigest``).

Archiving is idempotent: archiving the same content under the same key again returns the
existing version without uploading; different content under an archived key raises
`ArchiveConflictError`, since an archived record is never replaced.

This module does not import Airflow: functions take a boto3 S3 client, so an Airflow task can
pass ``S3Hook(aws_conn_id=...).get_conn()`` and the CLI or tests a client from `s3_client`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import mimetypes
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from regreport.config import Settings

#: A boto3 S3 client (``botocore.client.S3``); typed loosely to keep boto3 stubs optional.
S3Client = Any

LOCK_MODES = ("COMPLIANCE", "GOVERNANCE")
_NOT_FOUND = {"404", "NoSuchKey", "NotFound", "NoSuchVersion"}
_NO_BUCKET = {"404", "NoSuchBucket", "NotFound"}
_BAD_DIGEST = {"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch"}
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class ArchiveError(RuntimeError):
    """The archive could not store or verify an object."""


class ArchiveConflictError(ArchiveError):
    """A different object is already archived under the key; it is never overwritten."""


class ArchiveIntegrityError(ArchiveError):
    """The server rejected the upload because its content does not match the SHA-256."""


class ObjectLockNotEnabledError(ArchiveError):
    """The bucket exists but has no Object Lock, so it cannot hold WORM records."""


@dataclass(frozen=True)
class ArchiveResult:
    """Where and how a file was archived.

    Attributes:
        uri: ``s3://bucket/key`` of the archived object.
        version_id: The S3 version id of the archived (locked) version.
        retain_until: End of the retention, timezone-aware UTC.
        sha256: Lowercase hex SHA-256 of the archived content.
        already_archived: True if identical content was already archived under the key and
            nothing was uploaded by this call.
    """

    uri: str
    version_id: str
    retain_until: datetime
    sha256: str
    already_archived: bool


def s3_client(settings: Settings) -> S3Client:
    """Build a boto3 S3 client for the configured endpoint (path-style addressing).

    Args:
        settings: Deployment settings (endpoint, region, access key and secret).

    Returns:
        A boto3 S3 client.
    """
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key,
        aws_secret_access_key=settings.s3_secret_key,
        config=Config(
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            retries={"max_attempts": 5, "mode": "standard"},
        ),
    )


def retention_until(now: datetime, days: int) -> datetime:
    """Return the retention end `days` after `now`, in UTC, truncated to whole seconds.

    Args:
        now: A timezone-aware instant (e.g. the end of the reporting data interval).
        days: Retention period in days; must be positive.

    Returns:
        The timezone-aware UTC retention end.

    Raises:
        ValueError: If `now` is naive or `days` is not positive.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("retention_until needs a timezone-aware datetime")
    if days <= 0:
        raise ValueError(f"retention days must be positive, got {days}")
    return (now.astimezone(UTC) + timedelta(days=days)).replace(microsecond=0)


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def ensure_bucket(client: S3Client, bucket: str) -> None:
    """Create the archive bucket with Object Lock, or check that an existing one has it.

    A bucket created with Object Lock has versioning enabled and can never turn it off.

    Args:
        client: A boto3 S3 client.
        bucket: Bucket name.

    Raises:
        ObjectLockNotEnabledError: If the bucket exists without Object Lock.
    """
    try:
        client.head_bucket(Bucket=bucket)
    except client.exceptions.ClientError as exc:
        if _code(exc) not in _NO_BUCKET:
            raise
        kwargs: dict[str, Any] = {"Bucket": bucket, "ObjectLockEnabledForBucket": True}
        region = client.meta.region_name
        if region and region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            client.create_bucket(**kwargs)
        except client.exceptions.ClientError as create_exc:
            if _code(create_exc) != "BucketAlreadyOwnedByYou":  # Lost a creation race.
                raise
    try:
        config = client.get_object_lock_configuration(Bucket=bucket)
    except client.exceptions.ClientError as exc:
        if _code(exc) != "ObjectLockConfigurationNotFoundError":
            raise
        config = {}
    enabled = config.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
    if enabled != "Enabled":
        raise ObjectLockNotEnabledError(
            f"Bucket {bucket!r} exists but Object Lock is not enabled; it cannot hold WORM "
            "records. Object Lock can only be chosen when a bucket is created: use another "
            "bucket name (REGREPORT_S3_BUCKET) or recreate the bucket."
        )


def _stored_sha256(client: S3Client, bucket: str, key: str, head: dict[str, Any]) -> str:
    """The hex SHA-256 of an existing version: server checksum, else metadata, else hashed."""
    checksum = head.get("ChecksumSHA256")
    if (
        checksum
        and head.get("ChecksumType", "FULL_OBJECT") == "FULL_OBJECT"
        and "-" not in checksum
    ):
        try:
            return base64.b64decode(checksum, validate=True).hex()
        except (binascii.Error, ValueError):
            pass
    meta = {k.lower(): v for k, v in (head.get("Metadata") or {}).items()}
    if _SHA256_HEX.fullmatch(meta.get("sha256", "").lower()):
        return meta["sha256"].lower()
    body = client.get_object(Bucket=bucket, Key=key, VersionId=head["VersionId"])["Body"]
    digest = hashlib.sha256()
    for chunk in iter(lambda: body.read(1 << 20), b""):
        digest.update(chunk)
    return digest.hexdigest()


def _existing_version(client: S3Client, bucket: str, key: str) -> dict[str, Any] | None:
    """Head the newest real version under `key`, also when a delete marker hides it."""
    try:
        return client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except client.exceptions.ClientError as exc:
        if _code(exc) not in _NOT_FOUND:
            raise
    listing = client.list_object_versions(Bucket=bucket, Prefix=key)
    versions = [v for v in listing.get("Versions", []) if v["Key"] == key]
    if not versions:
        return None
    newest = max(versions, key=lambda v: v["LastModified"])
    return client.head_object(
        Bucket=bucket, Key=key, VersionId=newest["VersionId"], ChecksumMode="ENABLED"
    )


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _existing_result(
    client: S3Client,
    bucket: str,
    key: str,
    head: dict[str, Any],
    *,
    sha256_hex: str,
    retain_until: datetime,
    mode: str,
) -> ArchiveResult:
    """Accept an identical archived version (locking it if needed) or raise a conflict."""
    uri = f"s3://{bucket}/{key}"
    stored = _stored_sha256(client, bucket, key, head)
    if stored != sha256_hex:
        raise ArchiveConflictError(
            f"{uri} is already archived with SHA-256 {stored}, not {sha256_hex}; an archived "
            "record is never overwritten. Archive the new content under a new key."
        )
    version_id = head.get("VersionId")
    if not version_id or version_id == "null":
        raise ArchiveError(f"{uri} exists but is not versioned; is Object Lock enabled?")
    existing_until = head.get("ObjectLockRetainUntilDate")
    if existing_until is None:  # Identical but unlocked (uploaded by other means): lock it.
        client.put_object_retention(
            Bucket=bucket,
            Key=key,
            VersionId=version_id,
            Retention={"Mode": mode, "RetainUntilDate": retain_until},
        )
        existing_until = retain_until
    return ArchiveResult(
        uri=uri,
        version_id=version_id,
        retain_until=_as_utc(existing_until),
        sha256=stored,
        already_archived=True,
    )


def _validated(sha256_hex: str, retain_until: datetime, mode: str) -> tuple[str, datetime]:
    """Check `archive_file` arguments; return the normalised checksum and retention end."""
    sha256_hex = sha256_hex.lower()
    if not _SHA256_HEX.fullmatch(sha256_hex):
        raise ValueError(f"sha256_hex must be 64 hex digits, got {sha256_hex!r}")
    if mode not in LOCK_MODES:
        raise ValueError(f"mode must be one of {LOCK_MODES}, got {mode!r}")
    if retain_until.tzinfo is None or retain_until.utcoffset() is None:
        raise ValueError("retain_until must be timezone-aware")
    retain_until = retain_until.astimezone(UTC).replace(microsecond=0)
    if retain_until <= datetime.now(tz=UTC):
        raise ValueError(f"retain_until {retain_until.isoformat()} is not in the future")
    return sha256_hex, retain_until


def archive_file(
    client: S3Client,
    bucket: str,
    key: str,
    path: Path,
    *,
    sha256_hex: str,
    retain_until: datetime,
    mode: str = "COMPLIANCE",
    metadata: dict[str, str] | None = None,
) -> ArchiveResult:
    """Archive one file under `key` with Object Lock retention, exactly once.

    The file is streamed (single PUT, so at most 5 GiB). The server checks the content against
    `sha256_hex` (sent as ``ChecksumSHA256``), so a file that changed since it was hashed is
    refused. If the key already holds a version with the same SHA-256, that version is
    returned and nothing is uploaded; the upload itself is conditional (``If-None-Match: *``)
    so that two concurrent archivers cannot both write a version.

    Args:
        client: A boto3 S3 client.
        bucket: A bucket with Object Lock enabled (see `ensure_bucket`).
        key: Object key.
        path: The file to archive.
        sha256_hex: SHA-256 of the file as computed when it was produced (hex).
        retain_until: Timezone-aware retention end (see `retention_until`).
        mode: ``COMPLIANCE`` (nobody can shorten or lift it) or ``GOVERNANCE``.
        metadata: Extra user metadata (ASCII values); ``sha256`` is always added.

    Returns:
        The archived object's URI, version id, retention and checksum.

    Raises:
        ArchiveConflictError: If different content is already archived under `key`.
        ArchiveIntegrityError: If the server found the content does not match `sha256_hex`.
        ValueError: For a malformed checksum, a naive or past `retain_until`, or a bad mode.
    """
    sha256_hex, retain_until = _validated(sha256_hex, retain_until, mode)
    uri = f"s3://{bucket}/{key}"

    head = _existing_version(client, bucket, key)
    if head is not None:
        return _existing_result(
            client, bucket, key, head, sha256_hex=sha256_hex, retain_until=retain_until, mode=mode
        )

    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    try:
        with path.open("rb") as body:
            response = client.put_object(
                Bucket=bucket,
                Key=key,
                Body=body,
                ContentType=content_type,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=base64.b64encode(bytes.fromhex(sha256_hex)).decode("ascii"),
                ObjectLockMode=mode,
                ObjectLockRetainUntilDate=retain_until,
                Metadata={**(metadata or {}), "sha256": sha256_hex},
                IfNoneMatch="*",
            )
    except client.exceptions.ClientError as exc:
        code = _code(exc)
        if code in _BAD_DIGEST:
            raise ArchiveIntegrityError(
                f"Server refused {path} for {uri}: content does not match SHA-256 "
                f"{sha256_hex} ({code}: {exc})"
            ) from exc
        if code in ("PreconditionFailed", "ConditionalRequestConflict"):
            head = _existing_version(client, bucket, key)  # Another archiver won the race.
            if head is not None:
                return _existing_result(
                    client,
                    bucket,
                    key,
                    head,
                    sha256_hex=sha256_hex,
                    retain_until=retain_until,
                    mode=mode,
                )
        raise
    version_id = response.get("VersionId")
    if not version_id or version_id == "null":
        raise ArchiveError(f"{uri} was stored without a version id; is Object Lock enabled?")
    return ArchiveResult(
        uri=uri,
        version_id=version_id,
        retain_until=retain_until,
        sha256=sha256_hex,
        already_archived=False,
    )
