"""`regreport archive verify` against the real S3 server (SeaweedFS) and a scratch registry.

A good archive (made by `archive_file`, as the pipeline does) must verify clean; then every way
the archive can disagree with the registry is staged and must be named: a missing object, a
tampered registry hash, a manifest that says something else, an object locked in GOVERNANCE
mode or for less time than the registry says, an overwrite under the key, an expired
retention, and a legal hold the server does not show. Objects that `archive_file` would never
write are put directly with boto3 into a bucket of their own.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from click.testing import CliRunner

from regreport import holds, registry
from regreport.archive import archive_file, ensure_bucket, retention_until, s3_client
from regreport.archive_verify import ArchiveCheck, verify_anchors, verify_archive, verify_feedback
from regreport.cli import main
from regreport.manifest import build_manifest, dumps_manifest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from regreport.config import Settings

pytestmark = pytest.mark.integration

#: Reused across runs (keys are unique): locked buckets cannot be removed.
BUCKET = "test-archive-verify"
RAW_BUCKET = "test-archive-verify-raw"
DAY = date(2026, 11, 2)


@dataclass(frozen=True)
class Staged:
    report_id: int
    key: str
    version_id: str
    sha256: str
    retain_until: datetime


@pytest.fixture(scope="module")
def s3(s3_services: Settings) -> Any:
    client = s3_client(s3_services)
    ensure_bucket(client, BUCKET)
    ensure_bucket(client, RAW_BUCKET)
    return client


@pytest.fixture
def conn(scratch_db: Callable[[str], str]) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(scratch_db("test_archive_verify")) as c:
        registry.ensure_schema(c)
        c.commit()
        yield c


def _until(days: int = 1) -> datetime:
    return retention_until(datetime.now(tz=UTC), days)


def _files(tmp_path: Path, records: int = 3) -> tuple[Path, dict[str, Any]]:
    path = tmp_path / f"QSUITE_DATTRA_{uuid.uuid4().hex[:12]}.xml"
    path.write_bytes(f"<Document>{uuid.uuid4().hex}</Document>\n".encode())
    manifest = build_manifest(
        report_type="mifir_rts22",
        schema_version="1.1.0",
        period_start=DAY,
        period_end=DAY,
        report_file=path,
        record_count=records,
        run_ids={"extract": "e1", "dbt": "d1", "gx": "g1"},
        counts={"reported": records},
    )
    return path, manifest


def _key(manifest: dict[str, Any]) -> str:
    return f"mifir_rts22/test/{uuid.uuid4().hex}/{manifest['sha256']}/{manifest['file_name']}"


def _register(
    conn: psycopg.Connection[Any],
    bucket: str,
    key: str,
    version_id: str | None,
    manifest: dict[str, Any],
    until: datetime,
) -> int:
    return registry.register(
        conn,
        report_type="mifir_rts22",
        period_start=DAY,
        period_end=DAY,
        file_name=manifest["file_name"],
        sha256=manifest["sha256"],
        record_count=manifest["record_count"],
        size=manifest["bytes"],
        status="ARCHIVED",
        s3_uri=f"s3://{bucket}/{key}",
        s3_version_id=version_id,
        retain_until=until,
        manifest=manifest,
        dag_run_id="test",
    ).report_id


def _archived(conn: psycopg.Connection[Any], s3: Any, tmp_path: Path) -> Staged:
    """A report archived the way the pipeline does it: file and manifest, COMPLIANCE."""
    path, manifest = _files(tmp_path)
    key = _key(manifest)
    result = archive_file(
        s3, BUCKET, key, path, sha256_hex=manifest["sha256"], retain_until=_until()
    )
    manifest_path = path.with_name(path.name + ".manifest.json")
    manifest_path.write_bytes(dumps_manifest(manifest))
    archive_file(
        s3,
        BUCKET,
        key + ".manifest.json",
        manifest_path,
        sha256_hex=hashlib.sha256(manifest_path.read_bytes()).hexdigest(),
        retain_until=result.retain_until,
    )
    report_id = _register(conn, BUCKET, key, result.version_id, manifest, result.retain_until)
    return Staged(report_id, key, result.version_id, manifest["sha256"], result.retain_until)


def _put(s3: Any, key: str, body: bytes, mode: str | None, until: datetime | None) -> str:
    lock = {"ObjectLockMode": mode, "ObjectLockRetainUntilDate": until} if mode else {}
    return s3.put_object(Bucket=RAW_BUCKET, Key=key, Body=body, **lock)["VersionId"]


def _raw(
    conn: psycopg.Connection[Any],
    s3: Any,
    tmp_path: Path,
    *,
    mode: str | None = "COMPLIANCE",
    object_until: datetime | None = None,
    registry_until: datetime | None = None,
    manifest_edit: dict[str, Any] | None = None,
) -> Staged:
    """A report put directly with boto3 (lock mode, retention and manifest chosen freely)."""
    path, manifest = _files(tmp_path)
    key = _key(manifest)
    object_until = object_until or _until()
    version_id = _put(s3, key, path.read_bytes(), mode, object_until)
    archived_manifest = dumps_manifest({**manifest, **(manifest_edit or {})})
    _put(s3, key + ".manifest.json", archived_manifest, "COMPLIANCE", object_until)
    until = registry_until or object_until
    report_id = _register(conn, RAW_BUCKET, key, version_id, manifest, until)
    return Staged(report_id, key, version_id, manifest["sha256"], until)


def _one(checks: list[ArchiveCheck]) -> ArchiveCheck:
    assert len(checks) == 1
    return checks[0]


def test_good_archive_verifies(conn: psycopg.Connection[Any], s3: Any, tmp_path: Path) -> None:
    first, second = _archived(conn, s3, tmp_path), _archived(conn, s3, tmp_path)
    checks = verify_archive(conn, s3, BUCKET)
    assert [c.report_id for c in checks] == [first.report_id, second.report_id]
    for check, staged in zip(checks, (first, second), strict=True):
        assert check.ok, check.problems
        assert check.problems == []
        assert check.key == staged.key
        assert check.version_id == staged.version_id


def test_registry_row_pointing_at_missing_key(
    conn: psycopg.Connection[Any], s3: Any, tmp_path: Path
) -> None:
    _, manifest = _files(tmp_path)
    key = _key(manifest)
    report_id = _register(conn, BUCKET, key, "no-such-version", manifest, _until())
    check = _one(verify_archive(conn, s3, BUCKET, report_ids=[report_id]))
    assert not check.ok
    assert check.problems == [
        f"object missing: s3://{BUCKET}/{key} version no-such-version",
        f"manifest missing: s3://{BUCKET}/{key}.manifest.json",
    ]


def test_tampered_registry_sha_is_named(
    conn: psycopg.Connection[Any], s3: Any, tmp_path: Path
) -> None:
    staged = _archived(conn, s3, tmp_path)
    forged = "f" * 64
    conn.execute(
        "update regreport.report_registry set sha256 = %s where report_id = %s",
        (forged, staged.report_id),
    )
    conn.commit()
    check = _one(verify_archive(conn, s3, BUCKET, report_ids=[staged.report_id]))
    assert check.problems == [
        f"local registry sha differs from manifest: registry {forged}, manifest {staged.sha256}",
        f"sha256 differs: registry {forged}, object {staged.sha256}",
        f"manifest sha256 differs: registry {forged}, manifest {staged.sha256}",
    ]


def test_manifest_mismatch_is_named(conn: psycopg.Connection[Any], s3: Any, tmp_path: Path) -> None:
    staged = _raw(conn, s3, tmp_path, manifest_edit={"record_count": 4, "file_name": "other.xml"})
    check = _one(verify_archive(conn, s3, RAW_BUCKET, report_ids=[staged.report_id]))
    name = staged.key.rsplit("/", 1)[-1]
    assert check.problems == [
        "manifest record_count differs: registry 3, manifest 4",
        f"manifest file_name differs: registry {name}, manifest other.xml",
        "archived manifest differs from the registry's copy in: file_name, record_count",
    ]


def test_governance_mode_is_named(conn: psycopg.Connection[Any], s3: Any, tmp_path: Path) -> None:
    staged = _raw(conn, s3, tmp_path, mode="GOVERNANCE")
    check = _one(verify_archive(conn, s3, RAW_BUCKET, report_ids=[staged.report_id]))
    assert check.problems == ["object: mode GOVERNANCE, expected COMPLIANCE"]


def test_object_without_lock_is_named(
    conn: psycopg.Connection[Any], s3: Any, tmp_path: Path
) -> None:
    staged = _raw(conn, s3, tmp_path, mode=None)
    check = _one(verify_archive(conn, s3, RAW_BUCKET, report_ids=[staged.report_id]))
    assert check.problems == ["object: no Object Lock retention, expected COMPLIANCE"]


def test_shorter_retention_than_registry_is_named(
    conn: psycopg.Connection[Any], s3: Any, tmp_path: Path
) -> None:
    held, said = _until(1), _until(2)
    staged = _raw(conn, s3, tmp_path, object_until=held, registry_until=said)
    check = _one(verify_archive(conn, s3, RAW_BUCKET, report_ids=[staged.report_id]))
    shortened = (
        f"retention shortened: object retained until {held.isoformat()}, "
        f"registry says {said.isoformat()}"
    )
    assert check.problems == [f"object: {shortened}", f"manifest: {shortened}"]


def test_expired_retention_is_named(conn: psycopg.Connection[Any], s3: Any, tmp_path: Path) -> None:
    staged = _archived(conn, s3, tmp_path)
    later = staged.retain_until + timedelta(seconds=1)
    check = _one(verify_archive(conn, s3, BUCKET, report_ids=[staged.report_id], now=later))
    expired = f"retention expired on {staged.retain_until.isoformat()}; the object can be deleted"
    assert check.problems == [f"object: {expired}", f"manifest: {expired}"]


def test_overwrite_under_the_key_is_named(
    conn: psycopg.Connection[Any], s3: Any, tmp_path: Path
) -> None:
    staged = _archived(conn, s3, tmp_path)
    s3.put_object(Bucket=BUCKET, Key=staged.key, Body=b"<Document>forged</Document>")
    check = _one(verify_archive(conn, s3, BUCKET, report_ids=[staged.report_id]))
    # The registered version is intact (its hash still matches); the new one is named.
    assert check.problems == [
        "object: 1 other version(s) under the key; a plain GET returns one of them, not the record"
    ]


def test_active_hold_without_object_flag_is_named(
    conn: psycopg.Connection[Any], s3: Any, tmp_path: Path
) -> None:
    staged = _archived(conn, s3, tmp_path)
    holds.ensure_schema(conn)
    hold_id = conn.execute(
        "insert into regreport.legal_holds (reason, placed_by) values ('test', 'test') "
        "returning hold_id"
    ).fetchone()[0]
    conn.execute(
        "insert into regreport.legal_hold_objects values (%s, %s, %s, %s)",
        (hold_id, staged.report_id, staged.key, staged.version_id),
    )
    conn.commit()
    check = _one(verify_archive(conn, s3, BUCKET, report_ids=[staged.report_id]))
    assert check.problems == [
        f"object: legal hold {hold_id} is active but the object's legal hold is OFF"
    ]


def test_unknown_report_id_is_named(conn: psycopg.Connection[Any], s3: Any) -> None:
    check = _one(verify_archive(conn, s3, BUCKET, report_ids=[424242]))
    assert (check.report_id, check.ok, check.problems) == (424242, False, ["not in the registry"])


def test_cli_verify_exit_code_and_lines(
    conn: psycopg.Connection[Any],
    s3: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    good = _archived(conn, s3, tmp_path)
    bad = _archived(conn, s3, tmp_path)
    conn.execute(
        "update regreport.report_registry set sha256 = %s where report_id = %s",
        ("0" * 64, bad.report_id),
    )
    conn.commit()
    monkeypatch.setenv("REGREPORT_WAREHOUSE_DSN", conn.info.dsn)
    monkeypatch.setenv("REGREPORT_S3_BUCKET", BUCKET)
    runner = CliRunner()

    result = runner.invoke(main, ["archive", "verify", "--report-id", str(good.report_id)])
    assert result.exit_code == 0, result.output
    assert f"ok    {good.report_id:>5}  s3://{BUCKET}/{good.key}" in result.output
    assert "1 report file(s) checked: 1 ok, 0 with problems" in result.output

    result = runner.invoke(main, ["archive", "verify", "--only", "reports"])
    assert result.exit_code == 1, result.output
    assert f"FAIL  {bad.report_id:>5}  s3://{BUCKET}/{bad.key}" in result.output
    assert f"sha256 differs: registry {'0' * 64}, object {bad.sha256}" in result.output
    assert "2 report file(s) checked: 1 ok, 1 with problems" in result.output

    result = runner.invoke(main, ["archive", "verify", "--only", "reports", "--json"])
    assert result.exit_code == 1
    by_id = {c["report_id"]: c for c in json.loads(result.output)}
    assert by_id[good.report_id]["ok"] is True
    assert by_id[bad.report_id]["ok"] is False
    assert by_id[bad.report_id]["version_id"] == bad.version_id


# -- regulator feedback and audit anchors -----------------------------------------------------

FEEDBACK_DAYS = 3


def _feedback(
    conn: psycopg.Connection[Any],
    s3: Any,
    tmp_path: Path,
    *,
    bucket: str = BUCKET,
    mode: str | None = "COMPLIANCE",
    days: int = FEEDBACK_DAYS,
    recorded_sha: str | None = None,
    archived: bool = True,
) -> tuple[int, str, str]:
    """A feedback file recorded as `transmit` records it; archived by `archive_file` (the
    pipeline's way) or put raw with the lock chosen freely. Returns (id, key, sha256)."""
    from regreport import transmit

    transmit.ensure_schema(conn)
    body = f"<Document>{uuid.uuid4().hex}</Document>\n".encode()
    path = tmp_path / f"FDBK_{uuid.uuid4().hex[:8]}.xml"
    path.write_bytes(body)
    sha = hashlib.sha256(body).hexdigest()
    key = f"feedback/mifir_rts22/test/{sha}/{path.name}"
    uri = version = None
    if archived and bucket == BUCKET:
        result = archive_file(s3, BUCKET, key, path, sha256_hex=sha, retain_until=_until(days))
        uri, version = result.uri, result.version_id
    elif archived:
        version = _put(s3, key, body, mode, _until(days) if mode else None)
        uri = f"s3://{bucket}/{key}"
    feedback_id = conn.execute(
        """insert into regreport.feedback_files
               (remote_name, sha256, bytes, status, advices, s3_uri, s3_version_id)
           values (%s, %s, %s, 'APPLIED', 1, %s, %s) returning feedback_id""",
        (path.name, recorded_sha or sha, len(body), uri, version),
    ).fetchone()[0]
    conn.commit()
    return feedback_id, key, sha


def _by_id(checks: list[ArchiveCheck], feedback_id: int) -> ArchiveCheck:
    [check] = [c for c in checks if c.report_id == feedback_id]
    assert check.kind == "feedback"
    return check


def test_archived_feedback_verifies(conn: psycopg.Connection[Any], s3: Any, tmp_path: Path) -> None:
    feedback_id, key, _ = _feedback(conn, s3, tmp_path)
    check = _by_id(verify_feedback(conn, s3, BUCKET, retention_days=FEEDBACK_DAYS), feedback_id)
    assert (check.ok, check.key, check.problems) == (True, key, [])


def test_feedback_problems_are_named(
    conn: psycopg.Connection[Any], s3: Any, tmp_path: Path
) -> None:
    tampered, _, sha = _feedback(conn, s3, tmp_path, recorded_sha="1" * 64)
    unarchived, _, _ = _feedback(conn, s3, tmp_path, archived=False)
    governance, _, _ = _feedback(conn, s3, tmp_path, bucket=RAW_BUCKET, mode="GOVERNANCE")
    short, _, _ = _feedback(conn, s3, tmp_path, days=1)
    too_large = conn.execute(
        """insert into regreport.feedback_files (remote_name, bytes, status, reason_code)
           values ('huge.xml', 999999999, 'REFUSED', 'FEEDBACK_TOO_LARGE') returning feedback_id"""
    ).fetchone()[0]
    conn.commit()

    checks = verify_feedback(conn, s3, BUCKET, retention_days=FEEDBACK_DAYS)
    assert _by_id(checks, tampered).problems == [
        f"sha256 differs: recorded {'1' * 64}, object {sha}"
    ]
    assert _by_id(checks, unarchived).problems == [
        "not archived: downloaded and recorded, but no S3 URI or version id"
    ]
    assert _by_id(checks, governance).problems == [
        f"recorded s3_uri names bucket {RAW_BUCKET}, expected {BUCKET}"
    ]
    [problem] = _by_id(checks, short).problems
    assert problem.startswith("feedback: retained until ")
    assert f"less than the {FEEDBACK_DAYS} days required from its archiving on" in problem
    assert too_large not in {c.report_id for c in checks}  # nothing was downloaded to keep
    raw = verify_feedback(conn, s3, RAW_BUCKET, retention_days=FEEDBACK_DAYS)
    assert _by_id(raw, governance).problems == ["feedback: mode GOVERNANCE, expected COMPLIANCE"]


def test_anchor_locks_are_checked(s3: Any) -> None:
    """Anchors as `audit.archive_anchor` writes them verify; an unlocked or overwritten one,
    or one kept for less than the audit retention, is named."""
    from regreport import audit

    prefix = f"audit/anchors/test-{uuid.uuid4().hex[:8]}/"
    anchor = audit.Anchor(
        day=DAY,
        first_seq=1,
        last_seq=1,
        count=1,
        merkle_root="b" * 64,
        chain_head_seq=1,
        chain_head_sha256="a" * 64,
    )
    uri = audit.archive_anchor(s3, BUCKET, anchor, _until(3), prefix=prefix)
    raw_prefix = f"{prefix}raw/"
    _put(s3, f"{raw_prefix}2026/11/02.json", b"{}", None, None)
    overwritten = f"{raw_prefix}2026/11/03.json"
    _put(s3, overwritten, b"{}", "COMPLIANCE", _until(3))
    _put(s3, overwritten, b"{ }", "COMPLIANCE", _until(3))

    [check] = verify_anchors(s3, BUCKET, retention_days=3, prefix=prefix)
    assert (check.kind, check.ok, f"s3://{BUCKET}/{check.key}") == ("anchor", True, uri)
    [short] = verify_anchors(s3, BUCKET, retention_days=30, prefix=prefix)
    assert short.problems[0].startswith("anchor: retained until ")
    unlocked, rewritten = verify_anchors(s3, RAW_BUCKET, retention_days=3, prefix=raw_prefix)
    assert unlocked.problems == ["anchor: no Object Lock retention, expected COMPLIANCE"]
    assert rewritten.problems == [
        "anchor: 1 other version(s) under the key; a plain GET returns one of them, not the record"
    ]
