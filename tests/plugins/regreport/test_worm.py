"""WORM evidence (SEC 17a-4(f)): the real S3 server refuses every way of changing a record.

Run against SeaweedFS, which enforces Object Lock like AWS S3 (moto does not: see
stack/FACTS.md, so none of this may be shown with moto). For an object under COMPLIANCE
retention: deleting its version, replacing it (a put creates a *new* version; the record stays
byte for byte), shortening the retention and switching to GOVERNANCE are all refused. A legal
hold blocks deletion of an object with no retention at all, or with a GOVERNANCE retention that
the caller is allowed to bypass, until the hold is released.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from regreport.archive import (
    ArchiveConflictError,
    ArchiveResult,
    archive_file,
    ensure_bucket,
    retention_until,
    s3_client,
)

if TYPE_CHECKING:
    from pathlib import Path

    from regreport.config import Settings

pytestmark = pytest.mark.integration

#: Reused across runs (keys are unique): locked buckets cannot be removed.
BUCKET = "test-worm"
CONTENT = b"<Document>the report as sent</Document>\n"


@pytest.fixture(scope="module")
def s3(s3_services: Settings) -> Any:
    client = s3_client(s3_services)
    ensure_bucket(client, BUCKET)
    return client


@pytest.fixture
def record(s3: Any, tmp_path: Path) -> tuple[ArchiveResult, str]:
    """A report archived under COMPLIANCE retention (one day), as the pipeline archives it."""
    path = tmp_path / "report.xml"
    path.write_bytes(CONTENT)
    key = f"worm/{uuid.uuid4().hex}/report.xml"
    until = retention_until(datetime.now(tz=UTC), 1)
    sha = hashlib.sha256(CONTENT).hexdigest()
    return archive_file(s3, BUCKET, key, path, sha256_hex=sha, retain_until=until), key


def _refused(call: Any, **kwargs: Any) -> str:
    """Run an S3 call that must fail; return the server's error code."""
    with pytest.raises(ClientError) as exc:
        call(Bucket=BUCKET, **kwargs)
    return str(exc.value.response["Error"]["Code"])


def _lock(s3: Any, key: str, version_id: str) -> tuple[str | None, datetime | None]:
    head = s3.head_object(Bucket=BUCKET, Key=key, VersionId=version_id)
    return head.get("ObjectLockMode"), head.get("ObjectLockRetainUntilDate")


def _versions(s3: Any, key: str) -> list[str]:
    listing = s3.list_object_versions(Bucket=BUCKET, Prefix=key)
    return sorted(v["VersionId"] for v in listing.get("Versions", []) if v["Key"] == key)


def test_compliance_version_cannot_be_deleted(s3: Any, record: tuple[ArchiveResult, str]) -> None:
    result, key = record
    version = {"Key": key, "VersionId": result.version_id}
    assert _refused(s3.delete_object, **version) == "AccessDenied"
    assert _refused(s3.delete_object, **version, BypassGovernanceRetention=True) == "AccessDenied"
    # Bulk delete reports a per-key error instead of raising.
    bulk = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [version]})
    assert [e["Code"] for e in bulk.get("Errors", [])] == ["AccessDenied"]
    assert bulk.get("Deleted", []) == []
    body = s3.get_object(Bucket=BUCKET, **version)["Body"].read()
    assert body == CONTENT


def test_overwrite_adds_a_version_and_leaves_the_record_unchanged(
    s3: Any, record: tuple[ArchiveResult, str], tmp_path: Path
) -> None:
    result, key = record
    mode, until = _lock(s3, key, result.version_id)
    # Our archiver refuses outright: different content never goes under an archived key.
    other = tmp_path / "corrected.xml"
    other.write_bytes(b"<Document>corrected</Document>\n")
    with pytest.raises(ArchiveConflictError, match="never overwritten"):
        archive_file(
            s3,
            BUCKET,
            key,
            other,
            sha256_hex=hashlib.sha256(other.read_bytes()).hexdigest(),
            retain_until=retention_until(datetime.now(tz=UTC), 1),
        )
    assert _versions(s3, key) == [result.version_id]
    # A raw put is accepted by S3, but only as a new version beside the record.
    forged = s3.put_object(Bucket=BUCKET, Key=key, Body=b"<Document>forged</Document>")
    assert forged["VersionId"] != result.version_id
    assert _versions(s3, key) == sorted([result.version_id, forged["VersionId"]])
    kept = s3.get_object(Bucket=BUCKET, Key=key, VersionId=result.version_id)
    assert kept["Body"].read() == CONTENT
    assert _lock(s3, key, result.version_id) == (mode, until) == ("COMPLIANCE", result.retain_until)


def test_retention_cannot_be_shortened(s3: Any, record: tuple[ArchiveResult, str]) -> None:
    result, key = record
    shorter = result.retain_until - timedelta(hours=1)
    for mode in ("COMPLIANCE", "GOVERNANCE"):
        code = _refused(
            s3.put_object_retention,
            Key=key,
            VersionId=result.version_id,
            Retention={"Mode": mode, "RetainUntilDate": shorter},
            BypassGovernanceRetention=True,
        )
        assert code == "AccessDenied"
    assert _lock(s3, key, result.version_id) == ("COMPLIANCE", result.retain_until)


def test_mode_cannot_be_switched_to_governance(s3: Any, record: tuple[ArchiveResult, str]) -> None:
    result, key = record
    for until in (result.retain_until, result.retain_until + timedelta(days=1)):
        code = _refused(
            s3.put_object_retention,
            Key=key,
            VersionId=result.version_id,
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until},
            BypassGovernanceRetention=True,
        )
        assert code == "AccessDenied"
    assert _lock(s3, key, result.version_id) == ("COMPLIANCE", result.retain_until)


@pytest.mark.parametrize("retention", ["none", "governance", "expired"])
def test_legal_hold_blocks_delete_until_released(s3: Any, retention: str) -> None:
    """With no retention, one the caller may bypass, or one that has run out, only the legal
    hold protects the object; once released, the same delete succeeds."""
    key = f"worm-hold/{uuid.uuid4().hex}/report.xml"
    lock: dict[str, Any] = {}
    bypass: dict[str, Any] = {}
    now = datetime.now(tz=UTC).replace(microsecond=0)
    if retention == "governance":
        lock = {
            "ObjectLockMode": "GOVERNANCE",
            "ObjectLockRetainUntilDate": now + timedelta(hours=1),
        }
        bypass = {"BypassGovernanceRetention": True}
    elif retention == "expired":
        until = now + timedelta(seconds=2)
        lock = {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": until}
    version_id = s3.put_object(Bucket=BUCKET, Key=key, Body=CONTENT, **lock)["VersionId"]
    version = {"Key": key, "VersionId": version_id}
    s3.put_object_legal_hold(Bucket=BUCKET, **version, LegalHold={"Status": "ON"})
    if retention == "expired":  # Let the retention run out (the server's clock is ours).
        time.sleep(max(0.0, (until - datetime.now(tz=UTC)).total_seconds()) + 1.0)

    assert _refused(s3.delete_object, **version, **bypass) == "AccessDenied"
    assert _versions(s3, key) == [version_id]
    assert s3.get_object(Bucket=BUCKET, **version)["Body"].read() == CONTENT

    s3.put_object_legal_hold(Bucket=BUCKET, **version, LegalHold={"Status": "OFF"})
    s3.delete_object(Bucket=BUCKET, **version, **bypass)
    assert _versions(s3, key) == []
