"""Legal holds (real SeaweedFS, scratch registry) and retention per record type (unit).

The point of the integration tests: the S3 legal-hold flag follows the set of *active* holds,
so releasing one matter's hold never lifts another's, and every place and release is in the
audit trail.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from click.testing import CliRunner

from regreport import holds, registry
from regreport.archive import archive_file, ensure_bucket, retention_until, s3_client
from regreport.archive_verify import verify_archive
from regreport.cli import main
from regreport.config import Settings
from regreport.manifest import build_manifest, dumps_manifest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

#: Reused across runs (keys are unique): locked buckets cannot be removed.
BUCKET = "test-holds"
DAY = date(2026, 11, 3)


# --- retention per record type (unit) ------------------------------------------------------


@pytest.mark.unit
def test_retention_years_per_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGREPORT_RETENTION_YEARS", "mifir_rts22=5, audit=7")
    monkeypatch.setenv("REGREPORT_RETENTION_DAYS", "10")
    settings = Settings.from_env()
    assert settings.retention_years == {"mifir_rts22": 5, "audit": 7}
    # Whole years with the most leap days such a run of years can hold.
    assert settings.retention_days_for("mifir_rts22") == 5 * 365 + 2
    assert settings.retention_days_for("audit") == 7 * 365 + 2
    assert settings.retention_days_for("feedback") == 10  # Not listed: retention_days.
    now = datetime(2026, 3, 1, 12, 0, 0, 500, tzinfo=UTC)
    assert holds.retention_until_for(settings, "mifir_rts22", now) == datetime(
        2031, 3, 2, 12, 0, tzinfo=UTC
    )
    assert holds.retention_until_for(settings, "other", now) == datetime(
        2026, 3, 11, 12, 0, tzinfo=UTC
    )


@pytest.mark.unit
def test_retention_years_default_is_six_years(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REGREPORT_RETENTION_YEARS", raising=False)
    settings = Settings.from_env()
    for record_type in ("mifir_rts22", "feedback", "audit"):
        assert settings.retention_days_for(record_type) == 2192  # 6 years and two leap days.


@pytest.mark.unit
@pytest.mark.parametrize("text", ["mifir_rts22", "mifir_rts22=0", "audit=six", "=6", "a=1.5"])
def test_malformed_retention_years_fail_loudly(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv("REGREPORT_RETENTION_YEARS", text)
    with pytest.raises(ValueError, match="REGREPORT_RETENTION_YEARS"):
        Settings.from_env()


# --- legal holds (integration) -------------------------------------------------------------


@pytest.fixture(scope="module")
def s3(s3_services: Settings) -> Any:
    client = s3_client(s3_services)
    ensure_bucket(client, BUCKET)
    return client


@pytest.fixture
def conn(scratch_db: Callable[[str], str]) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(scratch_db("test_holds")) as c:
        registry.ensure_schema(c)
        c.commit()
        yield c


def _archived(conn: psycopg.Connection[Any], s3: Any, tmp_path: Path) -> int:
    """Archive a report and its manifest under COMPLIANCE and register it; its report id."""
    path = tmp_path / f"QSUITE_DATTRA_{uuid.uuid4().hex[:12]}.xml"
    path.write_bytes(f"<Document>{uuid.uuid4().hex}</Document>\n".encode())
    manifest = build_manifest(
        report_type="mifir_rts22",
        schema_version="1.1.0",
        period_start=DAY,
        period_end=DAY,
        report_file=path,
        record_count=1,
        run_ids={"extract": "e1", "dbt": "d1", "gx": "g1"},
        counts={"reported": 1},
    )
    key = f"mifir_rts22/test/{uuid.uuid4().hex}/{manifest['sha256']}/{path.name}"
    until = retention_until(datetime.now(tz=UTC), 1)
    result = archive_file(s3, BUCKET, key, path, sha256_hex=manifest["sha256"], retain_until=until)
    manifest_bytes = dumps_manifest(manifest)
    manifest_path = tmp_path / (path.name + ".manifest.json")
    manifest_path.write_bytes(manifest_bytes)
    archive_file(
        s3,
        BUCKET,
        key + ".manifest.json",
        manifest_path,
        sha256_hex=hashlib.sha256(manifest_bytes).hexdigest(),
        retain_until=until,
    )
    return registry.register(
        conn,
        report_type="mifir_rts22",
        period_start=DAY,
        period_end=DAY,
        file_name=path.name,
        sha256=manifest["sha256"],
        record_count=1,
        size=manifest["bytes"],
        status="ARCHIVED",
        s3_uri=f"s3://{BUCKET}/{key}",
        s3_version_id=result.version_id,
        retain_until=until,
        manifest=manifest,
        dag_run_id="test",
    ).report_id


def _flags(conn: psycopg.Connection[Any], s3: Any, report_id: int) -> list[str]:
    """The server's legal-hold status of a report's file and manifest."""
    objects = holds.report_objects(conn, s3, BUCKET, [report_id])
    conn.rollback()
    assert len(objects) == 2
    # head_object, since get_object_legal_hold fails (NoSuchObjectLegalHold) if never set.
    return [
        s3.head_object(Bucket=BUCKET, Key=o.key, VersionId=o.version_id).get(
            "ObjectLockLegalHoldStatus", "OFF"
        )
        for o in objects
    ]


def _audit(conn: psycopg.Connection[Any], hold_id: int) -> list[tuple[Any, ...]]:
    return conn.execute(
        """
        select action, actor, object_type, before, after from regreport.audit_log
        where object_id = %s and object_type = 'legal_hold' order by seq
        """,
        (str(hold_id),),
    ).fetchall()


@pytest.mark.integration
def test_place_and_release_set_the_flags_and_are_audited(
    conn: psycopg.Connection[Any], s3: Any, tmp_path: Path
) -> None:
    a, b = _archived(conn, s3, tmp_path), _archived(conn, s3, tmp_path)
    hold_id = holds.place_hold(conn, s3, BUCKET, report_ids=[a, b], reason="matter 1", actor="t")
    assert _flags(conn, s3, a) == ["ON", "ON"]
    assert _flags(conn, s3, b) == ["ON", "ON"]
    [listed] = holds.list_holds(conn)
    assert (listed["hold_id"], listed["report_ids"], listed["objects"]) == (hold_id, [a, b], 4)
    assert listed["released_at"] is None
    checks = verify_archive(conn, s3, BUCKET)
    assert all(c.ok for c in checks), [c.problems for c in checks]

    [(action, actor, object_type, before, after)] = _audit(conn, hold_id)
    assert (action, actor, object_type, before) == ("legal_hold.place", "t", "legal_hold", None)
    assert after["report_ids"] == [a, b]
    assert after["reason"] == "matter 1"
    assert len(after["objects"]) == 4

    released = holds.release_hold(conn, s3, BUCKET, hold_id, actor="t2", reason="closed")
    assert len(released.lifted) == 4
    assert released.kept == ()
    assert _flags(conn, s3, a) == ["OFF", "OFF"]
    assert _flags(conn, s3, b) == ["OFF", "OFF"]
    assert holds.list_holds(conn, active_only=True) == []
    entries = _audit(conn, hold_id)
    assert [e[0] for e in entries] == ["legal_hold.place", "legal_hold.release"]
    _, actor, _, before, after = entries[1]
    assert actor == "t2"
    assert before["released_at"] is None
    assert after["release_reason"] == "closed"
    assert after["kept_by_other_holds"] == []

    with pytest.raises(holds.HoldError, match="already released"):
        holds.release_hold(conn, s3, BUCKET, hold_id, actor="t", reason="again")
    with pytest.raises(holds.HoldError, match="no legal hold 999999"):
        holds.release_hold(conn, s3, BUCKET, 999_999, actor="t", reason="none")


@pytest.mark.integration
def test_releasing_one_hold_keeps_another_holds_objects(
    conn: psycopg.Connection[Any], s3: Any, tmp_path: Path
) -> None:
    a, b = _archived(conn, s3, tmp_path), _archived(conn, s3, tmp_path)
    first = holds.place_hold(conn, s3, BUCKET, report_ids=[a, b], reason="m1", actor="t")
    second = holds.place_hold(conn, s3, BUCKET, report_ids=[b], reason="m2", actor="t")

    released = holds.release_hold(conn, s3, BUCKET, first, actor="t", reason="m1 closed")
    assert {o.report_id for o in released.lifted} == {a}
    assert {o.report_id for o in released.kept} == {b}
    assert _flags(conn, s3, a) == ["OFF", "OFF"]
    assert _flags(conn, s3, b) == ["ON", "ON"]  # Still under the second hold.
    assert verify_archive(conn, s3, BUCKET, report_ids=[b])[0].ok

    holds.release_hold(conn, s3, BUCKET, second, actor="t", reason="m2 closed")
    assert _flags(conn, s3, b) == ["OFF", "OFF"]


@pytest.mark.integration
def test_hold_flag_lifted_behind_the_registrys_back_is_named(
    conn: psycopg.Connection[Any], s3: Any, tmp_path: Path
) -> None:
    a = _archived(conn, s3, tmp_path)
    hold_id = holds.place_hold(conn, s3, BUCKET, report_ids=[a], reason="m", actor="t")
    obj = holds.report_objects(conn, s3, BUCKET, [a])[1]  # The manifest.
    conn.rollback()
    s3.put_object_legal_hold(
        Bucket=BUCKET, Key=obj.key, VersionId=obj.version_id, LegalHold={"Status": "OFF"}
    )
    [check] = verify_archive(conn, s3, BUCKET, report_ids=[a])
    assert check.problems == [
        f"manifest: legal hold {hold_id} is active but the object's legal hold is OFF"
    ]
    holds.release_hold(conn, s3, BUCKET, hold_id, actor="t", reason="done")


@pytest.mark.integration
def test_hold_on_unknown_or_unarchived_report_is_refused(
    conn: psycopg.Connection[Any], s3: Any, tmp_path: Path
) -> None:
    a = _archived(conn, s3, tmp_path)
    with pytest.raises(holds.HoldError, match="not in the registry: 424242"):
        holds.place_hold(conn, s3, BUCKET, report_ids=[a, 424242], reason="m", actor="t")
    unarchived = registry.register(
        conn,
        report_type="mifir_rts22",
        period_start=DAY,
        period_end=DAY,
        file_name="x.xml",
        sha256="a" * 64,
        record_count=0,
        size=1,
        status="GENERATED",
        s3_uri=None,
        s3_version_id=None,
        retain_until=None,
        manifest={},
        dag_run_id="test",
    ).report_id
    with pytest.raises(holds.HoldError, match="never archived"):
        holds.place_hold(conn, s3, BUCKET, report_ids=[unarchived], reason="m", actor="t")
    with pytest.raises(ValueError, match="reason"):
        holds.place_hold(conn, s3, BUCKET, report_ids=[a], reason=" ", actor="t")
    assert holds.list_holds(conn) == []
    assert _flags(conn, s3, a) == ["OFF", "OFF"]
    if conn.execute("select to_regclass('regreport.audit_log')").fetchone() != (None,):
        assert conn.execute("select count(*) from regreport.audit_log").fetchone() == (0,)


@pytest.mark.integration
def test_cli_hold_holds_release(
    conn: psycopg.Connection[Any], s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = _archived(conn, s3, tmp_path)
    monkeypatch.setenv("REGREPORT_WAREHOUSE_DSN", conn.info.dsn)
    monkeypatch.setenv("REGREPORT_S3_BUCKET", BUCKET)
    monkeypatch.setenv("REGREPORT_ACTOR", "cli:test")
    runner = CliRunner()

    result = runner.invoke(main, ["archive", "hold", "--report-id", str(a), "--reason", "FCA req"])
    assert result.exit_code == 0, result.output
    [row] = holds.list_holds(conn)
    conn.rollback()
    assert f"legal hold {row['hold_id']} placed on report(s) {a}" in result.output
    assert row["placed_by"] == "cli:test"
    assert _flags(conn, s3, a) == ["ON", "ON"]

    result = runner.invoke(main, ["archive", "holds", "--json"])
    assert result.exit_code == 0, result.output
    [listed] = json.loads(result.output)
    assert (listed["hold_id"], listed["report_ids"], listed["reason"]) == (
        row["hold_id"],
        [a],
        "FCA req",
    )
    result = runner.invoke(main, ["archive", "holds"])
    assert "ACTIVE" in result.output

    args = ["archive", "release", str(row["hold_id"]), "--reason", "answered"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "2 object(s) lifted, 0 still held by another hold" in result.output
    assert _flags(conn, s3, a) == ["OFF", "OFF"]

    result = runner.invoke(main, args)
    assert result.exit_code == 1
    assert "already released" in result.output
    result = runner.invoke(main, ["archive", "hold", "--report-id", "99999", "--reason", "x"])
    assert result.exit_code == 1
    assert "not in the registry: 99999" in result.output
