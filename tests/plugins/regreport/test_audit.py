"""The hash-chained audit log: hashing, the guard trigger, concurrency and the tamper suite.

The tamper suite builds a chain of 30 entries over two days, archives both days' anchors to
the real S3 server (Object Lock), then tampers as a database superuser with the guard trigger
switched off (``session_replication_role = replica``) and checks that `verify` names the first
bad entry every time; the consistent rewrite is caught only through the archived anchors.
"""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from click.testing import CliRunner

from regreport import audit
from regreport.archive import ensure_bucket, retention_until, s3_client

if TYPE_CHECKING:
    from collections.abc import Callable

    from regreport.config import Settings

DAY1 = date(2026, 11, 25)
DAY2 = date(2026, 11, 26)


def _h(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


# --- unit ---------------------------------------------------------------------------------


@pytest.mark.unit
def test_merkle_root_promotes_the_odd_node_with_domain_separation() -> None:
    import hashlib

    a, b, c = _h("a"), _h("b"), _h("c")

    def leaf(x: str) -> bytes:
        return hashlib.sha256(b"\x00" + bytes.fromhex(x)).digest()

    def node(left: bytes, right: bytes) -> bytes:
        return hashlib.sha256(b"\x01" + left + right).digest()

    assert audit.merkle_root([]) == hashlib.sha256(b"").hexdigest()
    assert audit.merkle_root([a]) == leaf(a).hex()
    assert audit.merkle_root([a, b]) == node(leaf(a), leaf(b)).hex()
    assert audit.merkle_root([a, b, c]) == node(node(leaf(a), leaf(b)), leaf(c)).hex()
    # Promotion (not duplication) keeps [a, b, c] and [a, b, c, c] apart; order matters.
    assert audit.merkle_root([a, b, c]) != audit.merkle_root([a, b, c, c])
    assert audit.merkle_root([a, b]) != audit.merkle_root([b, a])


@pytest.mark.unit
def test_canonical_json_is_sorted_compact_utf8_and_utc() -> None:
    entry = audit.AuditEntry(
        seq=1,
        recorded_at=datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
        actor="airflow:operator",
        action="run.triggered",
        object_type="dag_run",
        object_id="mifir",
        before=None,
        after={"z": 1, "a": "é"},
        run_id="manual__1",
        request_id=None,
        prev_sha256=audit.GENESIS_SHA256,
        sha256="",
    )
    text = audit.canonical_json(entry)
    assert text.startswith('{"action":"run.triggered","actor":"airflow:operator","after":{"a":"é"')
    assert '"recorded_at":"2026-11-25T10:00:00.000000Z"' in text
    assert " " not in text
    cet = replace(
        entry,
        recorded_at=entry.recorded_at.astimezone(
            datetime.fromisoformat("2026-01-01T00:00+01:00").tzinfo
        ),
    )
    assert audit.entry_sha256(cet) == audit.entry_sha256(entry)
    assert audit.entry_sha256(replace(entry, seq=2)) != audit.entry_sha256(entry)


@pytest.mark.unit
def test_anchor_json_round_trip_is_deterministic() -> None:
    anchor = audit.Anchor(DAY2, 16, 30, 15, _h("root"), 30, _h("head"))
    assert audit.Anchor.from_json(anchor.to_json()) == anchor
    assert anchor.to_json() == anchor.to_json()
    assert anchor.key == "2026/11/26/30.json"
    with pytest.raises(ValueError, match="not a regreport.audit.anchor/1 document"):
        audit.Anchor.from_json(json.dumps({"day": "2026-11-26"}))


# --- PostgreSQL -----------------------------------------------------------------------------


@pytest.fixture
def dsn(scratch_db: Callable[[str], str]) -> str:
    return scratch_db(f"audit_{uuid.uuid4().hex[:10]}")


def _superuser(dsn: str) -> psycopg.Connection[Any]:
    """A superuser session with user triggers off: what an attacker with DBA rights has."""
    conn = psycopg.connect(dsn, autocommit=True)
    conn.execute("set session_replication_role = replica")
    return conn


@pytest.mark.integration
def test_record_round_trips_awkward_values_and_verifies(dsn: str) -> None:
    values: list[Any] = [
        {"b": {"z": [1, 2.5, None, True], "a": "ünïcödé ✓ 日本"}, "a": 0.1},
        {"float": 1e100, "tiny": 1e-7, "neg": -0.0, "big": 2**70, "scale": Decimal("1.10")},
        {"when": datetime(2026, 11, 25, 9, 30, tzinfo=UTC), "day": DAY1},
        [1, "two", {"three": 3.0}],
        "just a string",
        42,
        None,
    ]
    with psycopg.connect(dsn) as conn:
        audit.ensure_schema(conn)
        audit.ensure_schema(conn)  # idempotent
        for i, value in enumerate(values):
            entry = audit.record(
                conn,
                action="rule.change",
                actor="os:tester",
                object_type="rule",
                object_id=f"R{i}",
                before=value,
                after={"v": value},
                run_id="manual__x",
                request_id=str(i),
            )
            assert entry.seq == i + 1
        conn.commit()
        stored = list(audit.iter_entries(conn))
        result = audit.verify(conn)
    assert result.ok, result.problem
    assert result.checked == len(values) == result.head_seq
    assert [e.seq for e in stored] == list(range(1, len(values) + 1))
    assert stored[0].prev_sha256 == audit.GENESIS_SHA256
    assert all(b.prev_sha256 == a.sha256 for a, b in zip(stored, stored[1:], strict=False))
    assert stored[0].before["b"]["a"] == "ünïcödé ✓ 日本"
    assert stored[1].before["scale"] == "1.10"  # not JSON: stored as str() (default=str)
    assert stored[6].before is None


@pytest.mark.integration
def test_record_joins_the_callers_transaction(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        audit.ensure_schema(conn)
        conn.commit()
        audit.record(conn, action="a", actor="x", object_type="t")
        conn.rollback()
        assert audit.recent(conn) == []
        entry = audit.record(conn, action="b", actor="x", object_type="t", object_id="o1")
        conn.commit()
    assert entry.seq == 1
    assert audit.record_dsn(dsn, action="c", actor="x", object_type="t").seq == 2
    with psycopg.connect(dsn) as conn:
        assert [e.action for e in audit.recent(conn)] == ["c", "b"]
        assert [e.seq for e in audit.recent(conn, object_id="o1")] == [1]
    with pytest.raises(ValueError, match="actor"):
        audit.record_dsn(dsn, action="c", actor="", object_type="t")


@pytest.mark.integration
def test_registry_schema_includes_the_audit_log(dsn: str) -> None:
    from regreport import registry

    with psycopg.connect(dsn) as conn:
        registry.ensure_schema(conn)
        registry.ensure_schema(conn)
        assert conn.execute("select to_regclass('regreport.audit_log')").fetchone() == (
            "regreport.audit_log",
        )


@pytest.mark.integration
@pytest.mark.parametrize(
    ("statement", "op"),
    [
        ("update regreport.audit_log set actor = 'someone else' where seq = 1", "UPDATE"),
        ("delete from regreport.audit_log where seq = 1", "DELETE"),
        ("truncate regreport.audit_log", "TRUNCATE"),
    ],
)
def test_trigger_refuses_update_delete_truncate(dsn: str, statement: str, op: str) -> None:
    audit.record_dsn(dsn, action="a", actor="x", object_type="t")
    with psycopg.connect(dsn) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match=f"append-only: {op}"):
            conn.execute(statement)
        conn.rollback()
        assert audit.verify(conn).checked == 1


@pytest.mark.integration
def test_concurrent_writers_keep_one_valid_chain(dsn: str) -> None:
    # No table yet: the first writers also race to create it.

    def write(worker: int) -> list[int]:
        return [
            audit.record_dsn(
                dsn, action="extract", actor=f"w{worker}", object_type="t", after={"i": i}
            ).seq
            for i in range(10)
        ]

    with ThreadPoolExecutor(max_workers=8) as pool:
        seqs = [s for batch in pool.map(write, range(8)) for s in batch]
    assert sorted(seqs) == list(range(1, 81))
    with psycopg.connect(dsn) as conn:
        result = audit.verify(conn)
    assert result.ok, result.problem
    assert result.checked == 80


# --- tamper suite (PostgreSQL + S3 Object Lock) --------------------------------------------


@pytest.fixture(scope="module")
def s3(s3_services: Settings) -> Any:
    return s3_client(s3_services)


@pytest.fixture(scope="module")
def bucket(s3: Any) -> str:
    # One bucket for every run (each bucket is a SeaweedFS collection with its own volumes);
    # runs keep apart by their unique anchor prefix, since locked anchors stay forever.
    name = "regreport-audit-test"
    ensure_bucket(s3, name)
    return name


@dataclass
class Chain:
    dsn: str
    anchors: list[audit.Anchor]
    uris: list[str]


def _clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """Make `audit` stamp entries with a settable time advancing a minute per entry."""
    state = {"now": datetime(2000, 1, 1, tzinfo=UTC)}

    def tick() -> datetime:
        state["now"] += timedelta(minutes=1, microseconds=7)
        return state["now"]

    monkeypatch.setattr(audit, "_utcnow", tick)
    return lambda start: state.update(now=start)


@pytest.fixture
def chain(dsn: str, s3: Any, bucket: str, monkeypatch: pytest.MonkeyPatch) -> Chain:
    """30 entries: 1-15 on DAY1, 16-30 on DAY2; each day anchored and archived at its end."""
    set_time = _clock(monkeypatch)
    prefix = f"audit/anchors/{uuid.uuid4().hex}/"
    until = retention_until(datetime.now(tz=UTC), 1)
    anchors, uris = [], []
    actions = ["extract", "dbt.run", "validate", "render", "archive", "submit", "feedback"]
    with psycopg.connect(dsn) as conn:
        for day in (DAY1, DAY2):
            set_time(datetime(day.year, day.month, day.day, 8, tzinfo=UTC))
            for i in range(15):
                audit.record(
                    conn,
                    action=actions[i % len(actions)],
                    actor="airflow:operator" if i == 0 else "regreport",
                    object_type="report",
                    object_id=f"{day}-{i}",
                    before=None if i % 3 else {"status": "GENERATED", "n": i},
                    after={"status": "ACPT", "score": i / 3, "note": "ok ✓", "nested": {"i": i}},
                    run_id=f"scheduled__{day}",
                    request_id=uuid.uuid4().hex,
                )
            conn.commit()
            anchor = audit.build_anchor(conn, day)
            conn.commit()
            uris.append(audit.archive_anchor(s3, bucket, anchor, until, prefix=prefix))
            anchors.append(anchor)
    loaded = audit.load_anchors(s3, bucket, prefix=prefix)
    assert loaded == anchors
    return Chain(dsn, loaded, uris)


def _verify(chain: Chain, *, anchors: bool = True) -> audit.VerifyResult:
    with psycopg.connect(chain.dsn) as conn:
        return audit.verify(conn, anchors=chain.anchors if anchors else ())


def _shift(conn: psycopg.Connection[Any], from_seq: int, by: int) -> None:
    """Renumber entries >= from_seq (in two steps: the primary key is checked per row)."""
    conn.execute("update regreport.audit_log set seq = seq + 1000000 where seq >= %s", (from_seq,))
    conn.execute(
        "update regreport.audit_log set seq = seq - 1000000 + %s where seq >= 1000000", (by,)
    )


def _entry(conn: psycopg.Connection[Any], seq: int) -> audit.AuditEntry:
    return next(audit.iter_entries(conn, after_seq=seq - 1))


@pytest.mark.integration
def test_untouched_chain_verifies_against_archived_anchors(chain: Chain, s3: Any) -> None:
    result = _verify(chain)
    assert result.ok, result.problem
    assert (result.checked, result.head_seq, result.anchors_checked) == (30, 30, 2)
    assert [(a.day, a.first_seq, a.last_seq, a.count, a.chain_head_seq) for a in chain.anchors] == [
        (DAY1, 1, 15, 15, 15),
        (DAY2, 16, 30, 15, 30),
    ]
    assert chain.uris[1].endswith("/2026/11/26/30.json")
    bucket, key = chain.uris[1].removeprefix("s3://").split("/", 1)
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"


@pytest.mark.integration
def test_archiving_an_anchor_never_overwrites(chain: Chain, s3: Any, bucket: str) -> None:
    from regreport.archive import ArchiveConflictError

    prefix = chain.uris[0].removeprefix(f"s3://{bucket}/").rsplit("2026/", 1)[0]
    until = retention_until(datetime.now(tz=UTC), 1)
    same = audit.archive_anchor(s3, bucket, chain.anchors[0], until, prefix=prefix)
    assert same == chain.uris[0]
    forged = replace(chain.anchors[0], merkle_root=_h("forged"))
    with pytest.raises(ArchiveConflictError):
        audit.archive_anchor(s3, bucket, forged, until, prefix=prefix)


@pytest.mark.integration
def test_tamper_modify_a_field(chain: Chain) -> None:
    with _superuser(chain.dsn) as conn:
        conn.execute(
            'update regreport.audit_log set after = after || \'{"status": "RJCT"}\' where seq = 17'
        )
    result = _verify(chain)
    assert (result.ok, result.first_bad_seq) == (False, 17)
    assert result.problem == "entry 17 was modified (hash mismatch)"


@pytest.mark.integration
def test_tamper_modify_the_time(chain: Chain) -> None:
    with _superuser(chain.dsn) as conn:
        conn.execute(
            "update regreport.audit_log set recorded_at = recorded_at - interval '1 hour' "
            "where seq = 3"
        )
    result = _verify(chain, anchors=False)
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert "modified" in (result.problem or "")


@pytest.mark.integration
def test_tamper_delete_an_entry(chain: Chain) -> None:
    with _superuser(chain.dsn) as conn:
        conn.execute("delete from regreport.audit_log where seq = 9")
    result = _verify(chain)
    assert (result.ok, result.first_bad_seq) == (False, 9)
    assert result.problem == "entry 9 is missing (seq gap)"


@pytest.mark.integration
def test_tamper_delete_and_renumber(chain: Chain) -> None:
    with _superuser(chain.dsn) as conn:
        conn.execute("delete from regreport.audit_log where seq = 9")
        _shift(conn, 10, -1)
    result = _verify(chain)
    assert (result.ok, result.first_bad_seq) == (False, 9)
    assert "entry 9 does not follow entry 8 (prev_sha256 mismatch)" in (result.problem or "")


@pytest.mark.integration
def test_tamper_insert_a_forged_entry_in_the_middle(chain: Chain) -> None:
    with _superuser(chain.dsn) as conn:
        before = _entry(conn, 11)
        _shift(conn, 12, 1)
        # A careful forger: right seq, right prev_sha256, its own hash correct.
        forged = replace(
            before,
            seq=12,
            action="submit",
            object_id="forged",
            recorded_at=before.recorded_at + timedelta(seconds=1),
            prev_sha256=before.sha256,
        )
        forged = replace(forged, sha256=audit.entry_sha256(forged))
        conn.execute(
            """
            insert into regreport.audit_log (seq, recorded_at, actor, action, object_type,
                object_id, before, after, run_id, request_id, prev_sha256, sha256)
            values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            """,
            (
                forged.seq,
                forged.recorded_at,
                forged.actor,
                forged.action,
                forged.object_type,
                forged.object_id,
                json.dumps(forged.before),
                json.dumps(forged.after),
                forged.run_id,
                forged.request_id,
                forged.prev_sha256,
                forged.sha256,
            ),
        )
    result = _verify(chain)
    assert (result.ok, result.first_bad_seq) == (False, 12)
    assert result.problem is not None
    assert result.problem.startswith("entry 12 was inserted: entry 13 does not follow entry 12")


@pytest.mark.integration
@pytest.mark.parametrize(("a", "b"), [(20, 21), (5, 25)])
def test_tamper_swap_two_entries(chain: Chain, a: int, b: int) -> None:
    with _superuser(chain.dsn) as conn:
        conn.execute("update regreport.audit_log set seq = -1 where seq = %s", (a,))
        conn.execute("update regreport.audit_log set seq = %s where seq = %s", (a, b))
        conn.execute("update regreport.audit_log set seq = %s where seq = -1", (b,))
    result = _verify(chain)
    assert (result.ok, result.first_bad_seq) == (False, a)
    assert f"entry {a} does not follow entry {a - 1}" in (result.problem or "")
    assert "reordered" in (result.problem or "")


@pytest.mark.integration
def test_tamper_truncate_the_tail_is_caught_by_the_anchor(chain: Chain) -> None:
    with _superuser(chain.dsn) as conn:
        conn.execute("delete from regreport.audit_log where seq > 24")
    assert _verify(chain, anchors=False).ok  # the chain alone cannot tell
    result = _verify(chain)
    assert (result.ok, result.first_bad_seq) == (False, 25)
    assert result.problem is not None
    assert result.problem.startswith(
        "the chain ends at 24 but the anchor of 2026-11-26 covers up to 30"
    )


def _rewrite(dsn: str, tamper_seq: int) -> None:
    """Change entry `tamper_seq` and recompute every hash after it: the chain stays valid."""
    with _superuser(dsn) as conn:
        entries = list(audit.iter_entries(conn))
        prev = audit.GENESIS_SHA256
        for entry in entries:
            new = replace(entry, prev_sha256=prev)
            if entry.seq == tamper_seq:
                new = replace(new, after={**entry.after, "status": "RJCT"})
            new = replace(new, sha256=audit.entry_sha256(new))
            if new != entry:
                conn.execute(
                    "update regreport.audit_log set after = %s::jsonb, prev_sha256 = %s, "
                    "sha256 = %s where seq = %s",
                    (json.dumps(new.after), new.prev_sha256, new.sha256, new.seq),
                )
            prev = new.sha256


@pytest.mark.integration
@pytest.mark.parametrize(
    ("tamper_seq", "first_bad", "day"), [(5, 1, "2026-11-25"), (20, 16, "2026-11-26")]
)
def test_tamper_consistent_rewrite_is_caught_only_by_the_anchor(
    chain: Chain, tamper_seq: int, first_bad: int, day: str
) -> None:
    _rewrite(chain.dsn, tamper_seq)
    alone = _verify(chain, anchors=False)
    assert alone.ok, alone.problem  # every hash recomputed: the chain alone verifies
    result = _verify(chain)
    assert (result.ok, result.first_bad_seq) == (False, first_bad)
    assert result.problem is not None
    assert result.problem.startswith(f"anchor of {day}: Merkle root differs")


# --- command line ----------------------------------------------------------------------------


@pytest.mark.integration
def test_cli_anchor_verify_and_log(
    dsn: str, s3: Any, monkeypatch: pytest.MonkeyPatch, s3_services: Settings
) -> None:
    from regreport.cli import main

    cli_bucket = f"regreport-audit-cli-{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("REGREPORT_WAREHOUSE_DSN", dsn)
    monkeypatch.setenv("REGREPORT_S3_BUCKET", cli_bucket)
    monkeypatch.setenv("REGREPORT_RETENTION_YEARS", "mifir_rts22=6")
    monkeypatch.setenv("REGREPORT_RETENTION_DAYS", "1")
    for i in range(3):
        audit.record_dsn(
            dsn, action="render", actor="regreport", object_type="report", object_id=f"r{i}"
        )
    runner = CliRunner()
    today = datetime.now(tz=UTC).date().isoformat()

    anchored = runner.invoke(main, ["audit", "anchor", "--date", today])
    assert anchored.exit_code == 0, anchored.output
    assert "head 3" in anchored.output

    ok = runner.invoke(main, ["audit", "verify", "--json"])
    assert ok.exit_code == 0, ok.output
    doc = json.loads(ok.output)
    assert doc["ok"] is True
    assert (doc["checked"], doc["anchors_checked"]) == (4, 1)  # + the "audit.anchor" entry

    logged = runner.invoke(main, ["audit", "log", "--json", "--object-id", "r1"])
    assert logged.exit_code == 0, logged.output
    assert [e["seq"] for e in json.loads(logged.output)] == [2]

    with _superuser(dsn) as conn:
        conn.execute("update regreport.audit_log set actor = 'nobody' where seq = 2")
    bad = runner.invoke(main, ["audit", "verify", "--no-anchors"])
    assert bad.exit_code == 1
    assert "first bad entry 2: entry 2 was modified (hash mismatch)" in bad.output
