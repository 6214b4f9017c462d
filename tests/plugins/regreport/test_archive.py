from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from regreport.archive import (
    ArchiveConflictError,
    ArchiveIntegrityError,
    ArchiveResult,
    ObjectLockNotEnabledError,
    archive_file,
    ensure_bucket,
    retention_until,
    s3_client,
)

if TYPE_CHECKING:
    from pathlib import Path

    from regreport.config import Settings


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _report(tmp_path: Path, content: bytes = b"<Document>report</Document>\n") -> Path:
    path = tmp_path / f"report-{uuid.uuid4().hex[:8]}.xml"
    path.write_bytes(content)
    return path


def _until(days: int = 1) -> datetime:
    return retention_until(datetime.now(tz=UTC), days)


# --- unit ---------------------------------------------------------------------------------


@pytest.mark.unit
def test_retention_until_is_utc_whole_seconds() -> None:
    now = datetime(2026, 3, 31, 23, 30, 15, 987654, tzinfo=UTC)
    # Six years spanning two leap days (2028, 2032).
    assert retention_until(now, 2192) == datetime(2032, 3, 31, 23, 30, 15, tzinfo=UTC)
    cet = now.astimezone(datetime.fromisoformat("2026-01-01T00:00:00+02:00").tzinfo)
    assert retention_until(cet, 1) == datetime(2026, 4, 1, 23, 30, 15, tzinfo=UTC)
    assert retention_until(cet, 1).tzinfo is UTC


@pytest.mark.unit
@pytest.mark.parametrize(
    ("now", "days"),
    [(datetime(2026, 1, 1), 1), (datetime(2026, 1, 1, tzinfo=UTC), 0)],  # noqa: DTZ001
)
def test_retention_until_rejects_bad_input(now: datetime, days: int) -> None:
    with pytest.raises(ValueError):
        retention_until(now, days)


@pytest.mark.unit
def test_archive_file_validates_arguments(tmp_path: Path) -> None:
    path = _report(tmp_path)
    good = {"sha256_hex": _sha256(path), "retain_until": _until()}
    client: Any = None  # Never reached: validation comes first.
    with pytest.raises(ValueError, match="64 hex"):
        archive_file(client, "b", "k", path, **{**good, "sha256_hex": "abc"})
    with pytest.raises(ValueError, match="mode"):
        archive_file(client, "b", "k", path, **good, mode="LOCKED")
    past = datetime.now(tz=UTC) - timedelta(days=1)
    with pytest.raises(ValueError, match="future"):
        archive_file(client, "b", "k", path, **{**good, "retain_until": past})


@pytest.fixture
def moto_client(monkeypatch: pytest.MonkeyPatch) -> Any:
    moto = pytest.importorskip("moto")
    import boto3

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with moto.mock_aws():
        yield boto3.client("s3", region_name="us-east-1")


@pytest.mark.unit
def test_archive_idempotency_with_moto(moto_client: Any, tmp_path: Path) -> None:
    """Fast check of the idempotency path only: moto does not enforce WORM (see FACTS)."""
    ensure_bucket(moto_client, "archive")
    ensure_bucket(moto_client, "archive")
    path = _report(tmp_path)
    sha = _sha256(path)
    first = archive_file(
        moto_client, "archive", "r/1.xml", path, sha256_hex=sha, retain_until=_until()
    )
    again = archive_file(
        moto_client, "archive", "r/1.xml", path, sha256_hex=sha, retain_until=_until(3)
    )
    assert not first.already_archived
    assert again.already_archived
    assert again.version_id == first.version_id
    assert again.retain_until == first.retain_until
    versions = moto_client.list_object_versions(Bucket="archive", Prefix="r/1.xml")["Versions"]
    assert len(versions) == 1
    other = _report(tmp_path, b"other")
    with pytest.raises(ArchiveConflictError):
        archive_file(
            moto_client,
            "archive",
            "r/1.xml",
            other,
            sha256_hex=_sha256(other),
            retain_until=_until(),
        )


@pytest.mark.unit
def test_ensure_bucket_rejects_plain_bucket_with_moto(moto_client: Any) -> None:
    moto_client.create_bucket(Bucket="plain")
    with pytest.raises(ObjectLockNotEnabledError):
        ensure_bucket(moto_client, "plain")


# --- integration against SeaweedFS ----------------------------------------------------------


@pytest.fixture(scope="module")
def s3(s3_services: Settings) -> Any:
    return s3_client(s3_services)


@pytest.fixture(scope="module")
def bucket(s3: Any, s3_services: Settings) -> str:
    # One bucket reused across runs (keys are unique): every bucket is a SeaweedFS collection
    # with its own volumes, and locked buckets cannot be removed until retention ends.
    ensure_bucket(s3, s3_services.s3_bucket)
    return s3_services.s3_bucket


@pytest.fixture
def archived(s3: Any, bucket: str, tmp_path: Path) -> tuple[ArchiveResult, str, Path]:
    path = _report(tmp_path)
    key = f"mifir/{uuid.uuid4().hex}/report.xml"
    result = archive_file(
        s3,
        bucket,
        key,
        path,
        sha256_hex=_sha256(path),
        retain_until=_until(),
        metadata={"report-type": "mifir_rts22"},
    )
    return result, key, path


def _error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


@pytest.mark.integration
def test_ensure_bucket_enables_object_lock(s3: Any, bucket: str) -> None:
    ensure_bucket(s3, bucket)  # Existing lock bucket: accepted.
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    lock = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"


@pytest.mark.integration
def test_ensure_bucket_rejects_bucket_without_lock(s3: Any) -> None:
    name = f"test-plain-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    try:
        with pytest.raises(ObjectLockNotEnabledError, match="Object Lock is not enabled"):
            ensure_bucket(s3, name)
    finally:
        s3.delete_bucket(Bucket=name)


@pytest.mark.integration
def test_upload_sets_compliance_retention(
    s3: Any, bucket: str, archived: tuple[ArchiveResult, str, Path]
) -> None:
    result, key, path = archived
    assert result.uri == f"s3://{bucket}/{key}"
    assert not result.already_archived
    assert result.sha256 == _sha256(path)
    assert result.retain_until.tzinfo is not None
    assert result.retain_until.utcoffset() == timedelta(0)
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert head["VersionId"] == result.version_id
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] == result.retain_until
    assert head["Metadata"]["sha256"] == result.sha256
    assert head["Metadata"]["report-type"] == "mifir_rts22"
    assert base64.b64decode(head["ChecksumSHA256"]).hex() == result.sha256
    assert head["ContentType"] == "application/xml"
    body = s3.get_object(Bucket=bucket, Key=key, VersionId=result.version_id)["Body"].read()
    assert body == path.read_bytes()


@pytest.mark.integration
def test_locked_version_cannot_be_deleted(
    s3: Any, bucket: str, archived: tuple[ArchiveResult, str, Path]
) -> None:
    result, key, _ = archived
    with pytest.raises(ClientError) as exc:
        s3.delete_object(Bucket=bucket, Key=key, VersionId=result.version_id)
    assert _error_code(exc) == "AccessDenied"
    assert s3.head_object(Bucket=bucket, Key=key, VersionId=result.version_id)["ContentLength"]


@pytest.mark.integration
def test_retention_cannot_be_shortened(
    s3: Any, bucket: str, archived: tuple[ArchiveResult, str, Path]
) -> None:
    result, key, _ = archived
    shorter = result.retain_until - timedelta(hours=12)
    for mode in ("COMPLIANCE", "GOVERNANCE"):
        with pytest.raises(ClientError):
            s3.put_object_retention(
                Bucket=bucket,
                Key=key,
                VersionId=result.version_id,
                Retention={"Mode": mode, "RetainUntilDate": shorter},
                BypassGovernanceRetention=True,
            )
    head = s3.head_object(Bucket=bucket, Key=key, VersionId=result.version_id)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] == result.retain_until
    # Extending is allowed, so the refusal above is specific to shortening.
    longer = result.retain_until + timedelta(hours=1)
    s3.put_object_retention(
        Bucket=bucket,
        Key=key,
        VersionId=result.version_id,
        Retention={"Mode": "COMPLIANCE", "RetainUntilDate": longer},
    )
    head = s3.head_object(Bucket=bucket, Key=key, VersionId=result.version_id)
    assert head["ObjectLockRetainUntilDate"] == longer


@pytest.mark.integration
def test_versioning_cannot_be_suspended(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert _error_code(exc) == "InvalidBucketState"


@pytest.mark.integration
def test_governance_bypass_does_not_unlock_compliance(
    s3: Any, bucket: str, archived: tuple[ArchiveResult, str, Path]
) -> None:
    result, key, _ = archived
    with pytest.raises(ClientError) as exc:
        s3.delete_object(
            Bucket=bucket, Key=key, VersionId=result.version_id, BypassGovernanceRetention=True
        )
    assert _error_code(exc) == "AccessDenied"
    versions = s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    assert [v["VersionId"] for v in versions] == [result.version_id]


@pytest.mark.integration
def test_wrong_checksum_is_rejected(s3: Any, bucket: str, tmp_path: Path) -> None:
    path = _report(tmp_path)
    key = f"bad/{uuid.uuid4().hex}.xml"
    wrong = hashlib.sha256(b"something else").digest()
    with pytest.raises(ClientError) as exc:
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=path.read_bytes(),
            ChecksumSHA256=base64.b64encode(wrong).decode(),
        )
    assert _error_code(exc) == "BadDigest"
    with pytest.raises(ArchiveIntegrityError, match="BadDigest"):
        archive_file(s3, bucket, key, path, sha256_hex=wrong.hex(), retain_until=_until())
    assert "Versions" not in s3.list_object_versions(Bucket=bucket, Prefix=key)


@pytest.mark.integration
def test_rearchiving_same_file_is_idempotent(
    s3: Any, bucket: str, archived: tuple[ArchiveResult, str, Path]
) -> None:
    result, key, path = archived
    again = archive_file(s3, bucket, key, path, sha256_hex=result.sha256, retain_until=_until(2))
    assert again.already_archived
    assert again.version_id == result.version_id
    assert again.retain_until == result.retain_until  # The original retention is reported.
    assert again.uri == result.uri
    listing = s3.list_object_versions(Bucket=bucket, Prefix=key)
    assert [v["VersionId"] for v in listing["Versions"]] == [result.version_id]


@pytest.mark.integration
def test_different_content_conflicts(
    s3: Any, bucket: str, archived: tuple[ArchiveResult, str, Path], tmp_path: Path
) -> None:
    result, key, _ = archived
    other = _report(tmp_path, b"<Document>corrected</Document>\n")
    with pytest.raises(ArchiveConflictError, match="never overwritten"):
        archive_file(s3, bucket, key, other, sha256_hex=_sha256(other), retain_until=_until())
    listing = s3.list_object_versions(Bucket=bucket, Prefix=key)
    assert [v["VersionId"] for v in listing["Versions"]] == [result.version_id]


@pytest.mark.integration
def test_delete_marker_does_not_allow_a_second_version(
    s3: Any, bucket: str, archived: tuple[ArchiveResult, str, Path], tmp_path: Path
) -> None:
    result, key, path = archived
    s3.delete_object(Bucket=bucket, Key=key)  # Allowed: only hides the locked version.
    again = archive_file(s3, bucket, key, path, sha256_hex=result.sha256, retain_until=_until())
    assert again.already_archived
    assert again.version_id == result.version_id
    other = _report(tmp_path, b"other")
    with pytest.raises(ArchiveConflictError):
        archive_file(s3, bucket, key, other, sha256_hex=_sha256(other), retain_until=_until())
    listing = s3.list_object_versions(Bucket=bucket, Prefix=key)
    assert [v["VersionId"] for v in listing["Versions"]] == [result.version_id]


@pytest.mark.integration
def test_large_file_is_streamed(s3: Any, bucket: str, tmp_path: Path) -> None:
    path = tmp_path / "big.xml"
    chunk = b"<Tx>" + b"x" * 1020 + b"</Tx>\n"
    with path.open("wb") as fh:
        for _ in range(12 * 1024):  # ~12.6 MiB: more than one volume chunk.
            fh.write(chunk)
    key = f"big/{uuid.uuid4().hex}.xml"
    result = archive_file(s3, bucket, key, path, sha256_hex=_sha256(path), retain_until=_until())
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert head["ContentLength"] == path.stat().st_size
    assert head["VersionId"] == result.version_id
