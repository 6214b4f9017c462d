"""Submission and feedback end to end: the real gateway simulator over SFTP, real PostgreSQL.

Each test registers files the way the pipeline does (registry row, sha256 of the real bytes,
ledger entries whose TxIds are the file's), submits them with `transmit.submit_reports` to an
in-process `GatewayServer` (127.0.0.1, port 0, pinned host key), and collects the gateway's
auth.031 answers with `transmit.collect_feedback`. The gateway's background tick is off: the
tests call `recheck_pending` themselves, so every step is deterministic.

Submission files are built from the golden auth.016 file (one XSD-valid share record),
repeated with the TxIds and ISINs a test needs (the gateway conftest's helper, copied: test
modules cannot import conftest in importlib mode).
"""

from __future__ import annotations

import hashlib
import re
import socket
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from regreport import ledger, registry, sftp, submissions, transmit
from regreport.gateway import (
    FirmUser,
    Gateway,
    GatewayConfig,
    GatewayServer,
    ScriptedOutcome,
    advice_file_name,
    hash_password,
)
from regreport.gateway.status_advice import AdviceHeader, StatusAdvice, render_status_advice

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from regreport.config import Settings

pytestmark = pytest.mark.integration

DB = "transmit_test"
GOLDEN = Path(__file__).resolve().parent / "xml" / "golden"
FIRM_LEI = "529900T8BM49AURSDO55"
KNOWN_ISIN = "FR0000120271"
UNKNOWN_ISIN = "DE000A0D6554"
PASSWORD = "s3cret-for-tests"
DAY = date(2026, 11, 26)
BIZ_MSG_ID = "MIFIR_RTS22-20261126-S001-P01"
NO_WAIT = sftp.RetryPolicy(attempts=2, base_delay=0, sleep=lambda s: None)


def file_name(sequence: int = 1, part: int = 1) -> str:
    """The platform's "regreport" name for part `part` of submission `sequence`."""
    return f"MIFIR_RTS22_{FIRM_LEI}_20261126_S{sequence:03d}_P{part:02d}.xml"


def submission_bytes(records: list[tuple[str, str]], *, biz_msg_id: str = BIZ_MSG_ID) -> bytes:
    """An auth.016 file with one New per (TxId, ISIN), as the renderer would write it."""
    text = (GOLDEN / "01_share_aotc_lei_client_ccp.xml").read_text()
    new_line = re.search(r"^\s*<Tx><New>.*</New></Tx>\n", text, re.M)
    assert new_line
    body = "".join(
        new_line.group(0).replace("QS1001", tx_id).replace(KNOWN_ISIN, isin)
        for tx_id, isin in records
    )
    text = text.replace(new_line.group(0), body)
    return text.replace("MIFIR_RTS22-20261126-S001-P01", biz_msg_id).encode()


@pytest.fixture(scope="module")
def password_hash() -> str:
    # scrypt is deliberately slow: hash once per module.
    return hash_password(PASSWORD)


@pytest.fixture
def conn(scratch_db: Callable[[str], str]) -> Iterator[psycopg.Connection[Any]]:
    """A scratch warehouse with the registry, ledger, status and feedback-file tables."""
    dsn = scratch_db(DB)
    with psycopg.connect(dsn) as c:
        transmit.ensure_schema(c)
        yield c


@dataclass
class Env:
    """One gateway (server running) and the firm's view of it."""

    gateway: Gateway
    server: GatewayServer
    target: sftp.SftpTarget
    tmp: Path
    schemas_dir: Path

    @property
    def inbox(self) -> Path:
        return self.gateway.config.firm_dir("FIRM1") / "inbox"

    @property
    def outbox(self) -> Path:
        return self.gateway.config.firm_dir("FIRM1") / "outbox"

    @property
    def work(self) -> Path:
        return self.tmp / "work"

    def inbox_files(self) -> list[str]:
        return sorted(p.name for p in self.inbox.iterdir())

    def outbox_files(self) -> list[str]:
        return sorted(p.name for p in self.outbox.iterdir() if not p.name.startswith("."))

    def collect(self, conn: psycopg.Connection[Any]) -> transmit.CollectResult:
        return transmit.collect_feedback(
            conn, self.target, self.work, schemas_dir=self.schemas_dir, retry=NO_WAIT
        )


@pytest.fixture
def start_gateway(
    tmp_path: Path, settings: Settings, password_hash: str
) -> Iterator[Callable[..., Env]]:
    """Start a gateway under tmp_path/gw; keyword arguments override `GatewayConfig` fields."""
    servers: list[GatewayServer] = []

    def start(**overrides: Any) -> Env:
        root = tmp_path / "gw"
        root.mkdir(exist_ok=True)
        instruments = root / "instruments.txt"
        instruments.write_text(f"# known instruments\n{KNOWN_ISIN}\n")
        fields: dict[str, Any] = {
            "users": (FirmUser("firm1", password_hash, "FIRM1"),),
            "schemas_dir": settings.schemas_dir,
            "instruments_file": instruments,
            "pending_max_checks": 2,
            "pending_max_days": 7,
            "tick_seconds": None,
        }
        fields.update(overrides)
        gateway = Gateway(GatewayConfig(root=root, **fields))
        server = GatewayServer(gateway).start()
        servers.append(server)
        target = sftp.SftpTarget(
            host=server.host,
            port=server.port,
            username="firm1",
            password=PASSWORD,
            host_key=server.known_hosts_line(),
            timeout=10,
        )
        return Env(gateway, server, target, tmp_path, settings.schemas_dir)

    yield start
    for server in servers:
        server.stop()


def register_file(
    conn: psycopg.Connection[Any],
    tmp: Path,
    records: list[tuple[str, str]],
    *,
    data: bytes | None = None,
) -> tuple[int, Path]:
    """Write and register file S001/P01 holding `records` (one New ledger entry per TxId)."""
    content = submission_bytes(records) if data is None else data
    out = tmp / "reports"
    out.mkdir(exist_ok=True)
    path = out / file_name()
    path.write_bytes(content)
    entries = [
        ledger.LedgerEntry(tx, i, ledger.NEW, hashlib.sha256(tx.encode()).hexdigest())
        for i, (tx, _) in enumerate(records, 1)
    ]
    row = registry.register(
        conn,
        report_type="mifir_rts22",
        period_start=DAY,
        period_end=DAY,
        file_name=path.name,
        sha256=hashlib.sha256(content).hexdigest(),
        record_count=len(entries),
        size=len(content),
        status="ARCHIVED",
        s3_uri=None,
        s3_version_id=None,
        retain_until=None,
        manifest={},
        dag_run_id=None,
        submission_seq=1,
        part=1,
        ledger_entries=entries,
    )
    conn.commit()
    return row.report_id, path


def feedback_rows(conn: psycopg.Connection[Any]) -> dict[str, tuple[str, str | None]]:
    rows = conn.execute(
        "select remote_name, status, reason_code from regreport.feedback_files"
    ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


# --------------------------------------------------------------------------- outcomes


def test_all_known_isins_make_the_file_accepted(
    conn: psycopg.Connection[Any], start_gateway: Callable[..., Env]
) -> None:
    env = start_gateway()
    rid, path = register_file(conn, env.tmp, [("TX1", KNOWN_ISIN), ("TX2", KNOWN_ISIN)])

    (out,) = transmit.submit_reports(conn, env.target, [(rid, path)], retry=NO_WAIT)
    assert (out.uploaded, out.already_submitted, out.already_present, out.status) == (
        True,
        False,
        False,
        "SUBMITTED",
    )
    assert env.inbox_files() == [file_name()]
    assert transmit.pending_files(conn, [rid]) == [rid]  # submitted, no verdict yet

    result = env.collect(conn)
    assert result.refused == []
    assert result.new_files == [advice_file_name(file_name())]
    assert result.applied[0]["advices"] == [
        {"report_id": rid, "status": "ACCEPTED", "code": "ACPT"}
    ]
    got = submissions.status(conn, rid)
    assert (got.status, got.status_code, got.records, got.unanswered) == (
        "ACCEPTED",
        "ACPT",
        {"ACPT": 2},
        0,
    )
    # "Unmentioned means accepted": both acceptances are implicit.
    implicit = conn.execute(
        "select bool_and(implicit) from regreport.record_status_current where report_id = %s",
        (rid,),
    ).fetchone()
    assert implicit == (True,)
    assert transmit.pending_files(conn, [rid]) == []
    answer = transmit.regulator_answer(conn, [rid])
    assert answer["exceptions"] == []
    (entry,) = answer["files"]
    assert (entry["status"], entry["file_name"], entry["records"]) == (
        "ACCEPTED",
        file_name(),
        {"ACPT": 2},
    )
    assert feedback_rows(conn) == {advice_file_name(file_name()): ("APPLIED", None)}


def test_scripted_record_rejection_makes_the_file_partially_accepted(
    conn: psycopg.Connection[Any], start_gateway: Callable[..., Env]
) -> None:
    outcome = ScriptedOutcome(
        tx_id="TX2", record_status="RJCT", rule_id="SIM-777", rule_desc="Scripted rejection"
    )
    env = start_gateway(outcomes=(outcome,))
    rid, path = register_file(conn, env.tmp, [("TX1", KNOWN_ISIN), ("TX2", KNOWN_ISIN)])
    transmit.submit_reports(conn, env.target, [(rid, path)], retry=NO_WAIT)
    env.collect(conn)

    got = submissions.status(conn, rid)
    assert (got.status, got.status_code, got.records) == (
        "PARTIALLY_ACCEPTED",
        "PART",
        {"ACPT": 1, "RJCT": 1},
    )
    assert [(e.tx_id, e.rule_id, e.rule_description) for e in submissions.exceptions(conn)] == [
        ("TX2", "SIM-777", "Scripted rejection")
    ]
    answer = transmit.regulator_answer(conn, [rid])
    assert answer["exceptions"] == [
        {"report_id": rid, "tx_id": "TX2", "rule_id": "SIM-777", "rule": "Scripted rejection"}
    ]
    assert transmit.pending_files(conn, [rid]) == []


def _submit_with_pending_record(
    conn: psycopg.Connection[Any], env: Env, records: list[tuple[str, str]]
) -> int:
    rid, path = register_file(conn, env.tmp, records)
    transmit.submit_reports(conn, env.target, [(rid, path)], retry=NO_WAIT)
    env.collect(conn)
    return rid


def test_pending_record_accepted_once_the_instrument_is_known(
    conn: psycopg.Connection[Any], start_gateway: Callable[..., Env]
) -> None:
    env = start_gateway()
    rid = _submit_with_pending_record(conn, env, [("TX1", KNOWN_ISIN), ("TX2", UNKNOWN_ISIN)])
    got = submissions.status(conn, rid)
    assert (got.status, got.records) == ("PARTIALLY_ACCEPTED", {"ACPT": 1, "PDNG": 1})
    assert [(e.tx_id, e.rule_id) for e in submissions.exceptions(conn)] == []
    # The file has its verdict (PART); only a record waits, so the file is not pending.
    assert transmit.pending_files(conn, [rid]) == []

    # The regulator's reference data now has the instrument: the next re-check accepts it.
    with (env.gateway.config.instruments_file or Path()).open("a") as fh:
        fh.write(f"{UNKNOWN_ISIN}\n")
    assert env.gateway.recheck_pending() == [advice_file_name(file_name(), 2)]
    result = env.collect(conn)
    assert (len(result.applied), result.refused) == (1, [])
    got = submissions.status(conn, rid)
    assert (got.status, got.status_code) == ("ACCEPTED", "ACPT")
    assert got.records == {"ACPT": 2}


def test_pending_record_follow_up_is_applied_as_a_file_acceptance(
    conn: psycopg.Connection[Any], start_gateway: Callable[..., Env]
) -> None:
    """The follow-up advice is applied and gives the file its final verdict (ACCEPTED)."""
    env = start_gateway()
    rid = _submit_with_pending_record(conn, env, [("TX1", KNOWN_ISIN), ("TX2", UNKNOWN_ISIN)])
    with (env.gateway.config.instruments_file or Path()).open("a") as fh:
        fh.write(f"{UNKNOWN_ISIN}\n")
    env.gateway.recheck_pending()
    result = env.collect(conn)
    assert (len(result.applied), result.refused) == (1, [])
    got = submissions.status(conn, rid)
    assert (got.status, got.status_code, got.records.get("RJCT")) == ("ACCEPTED", "ACPT", None)
    assert transmit.pending_files(conn, [rid]) == []


def test_pending_record_rejected_when_rechecks_run_out(
    conn: psycopg.Connection[Any], start_gateway: Callable[..., Env]
) -> None:
    env = start_gateway(pending_max_checks=2)
    rid = _submit_with_pending_record(conn, env, [("TX1", KNOWN_ISIN), ("TX2", UNKNOWN_ISIN)])
    assert env.gateway.recheck_pending() == []  # first re-check: still pending, no advice
    assert env.collect(conn).new_files == []
    assert env.gateway.recheck_pending() == [advice_file_name(file_name(), 2)]
    result = env.collect(conn)
    assert (len(result.applied), result.refused) == (1, [])

    got = submissions.status(conn, rid)
    assert (got.status, got.records) == ("PARTIALLY_ACCEPTED", {"ACPT": 1, "RJCT": 1})
    assert [(e.tx_id, e.rule_id) for e in submissions.exceptions(conn)] == [("TX2", "CON-412")]
    history = conn.execute(
        """select status, rules->0->>'id' from regreport.record_status_events
           where report_id = %s and tx_id = 'TX2' order by event_id""",
        (rid,),
    ).fetchall()
    assert history == [("PDNG", "CON-411"), ("RJCT", "CON-412")]


def test_only_record_pending_then_rejected_is_applied(
    conn: psycopg.Connection[Any], start_gateway: Callable[..., Env]
) -> None:
    env = start_gateway(pending_max_checks=1)
    rid = _submit_with_pending_record(conn, env, [("TX1", UNKNOWN_ISIN)])
    assert submissions.status(conn, rid).records == {"PDNG": 1}
    env.gateway.recheck_pending()
    result = env.collect(conn)
    assert result.refused == []
    assert submissions.status(conn, rid).records == {"RJCT": 1}
    assert [(e.tx_id, e.rule_id) for e in submissions.exceptions(conn)] == [("TX1", "CON-412")]


def test_xsd_invalid_file_is_rejected_as_a_whole(
    conn: psycopg.Connection[Any], start_gateway: Callable[..., Env]
) -> None:
    env = start_gateway()
    # A valid name and BizMsgIdr, but an ISIN the XSD pattern refuses: file-level RJCT.
    data = submission_bytes([("TX1", KNOWN_ISIN), ("TX2", "NOT-AN-ISIN")])
    rid, path = register_file(conn, env.tmp, [("TX1", KNOWN_ISIN), ("TX2", KNOWN_ISIN)], data=data)
    transmit.submit_reports(conn, env.target, [(rid, path)], retry=NO_WAIT)
    result = env.collect(conn)
    assert result.refused == []

    got = submissions.status(conn, rid)
    assert (got.status, got.status_code, got.records, got.unanswered) == (
        "REJECTED",
        "RJCT",
        {},
        2,
    )
    assert [rule_id for rule_id, _ in got.status_rules] == ["FIL-105"]
    # A whole-file rejection lists no record exceptions; its rules are on the file.
    assert submissions.exceptions(conn) == []
    assert transmit.pending_files(conn, [rid]) == []
    (entry,) = transmit.regulator_answer(conn, [rid])["files"]
    assert entry["status_rules"][0][0] == "FIL-105"


# --------------------------------------------------------------------------- delivery


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_gateway_down_marks_nothing_and_counts_the_attempt(
    conn: psycopg.Connection[Any], start_gateway: Callable[..., Env]
) -> None:
    env = start_gateway()
    rid, path = register_file(conn, env.tmp, [("TX1", KNOWN_ISIN)])
    env.server.stop()
    with pytest.raises(transmit.SubmissionFailedError, match="Nothing is marked submitted"):
        transmit.submit_reports(conn, env.target, [(rid, path)], retry=NO_WAIT)
    got = submissions.status(conn, rid)
    assert (got.status, got.remote_name) == ("GENERATED", None)
    assert got.attempts > 0
    assert env.inbox_files() == []

    # Pointing the target at a port nobody listens on fails the same way.
    other = sftp.SftpTarget(
        host="127.0.0.1",
        port=_closed_port(),
        username="firm1",
        password=PASSWORD,
        host_key=env.target.host_key,
        timeout=5,
    )
    with pytest.raises(transmit.SubmissionFailedError):
        transmit.submit_reports(conn, other, [(rid, path)], retry=NO_WAIT)
    got = submissions.status(conn, rid)
    assert (got.status, got.attempts) == ("GENERATED", 2)


def test_second_submit_uploads_nothing(
    conn: psycopg.Connection[Any], start_gateway: Callable[..., Env]
) -> None:
    env = start_gateway()
    rid, path = register_file(conn, env.tmp, [("TX1", KNOWN_ISIN)])
    first = transmit.submit_reports(conn, env.target, [(rid, path)], retry=NO_WAIT)
    second = transmit.submit_reports(conn, env.target, [(rid, path)], retry=NO_WAIT)
    assert first[0].uploaded is True
    (again,) = second
    assert (again.uploaded, again.already_submitted, again.status, again.remote_path) == (
        False,
        True,
        "SUBMITTED",
        file_name(),
    )
    assert env.inbox_files() == [file_name()]
    # Processed once: one advice, and no CON-023 duplicate answer.
    assert env.outbox_files() == [advice_file_name(file_name())]
    env.collect(conn)
    assert submissions.status(conn, rid).status == "ACCEPTED"


def test_upload_before_a_crash_is_found_not_repeated(
    conn: psycopg.Connection[Any], start_gateway: Callable[..., Env]
) -> None:
    env = start_gateway()
    rid, path = register_file(conn, env.tmp, [("TX1", KNOWN_ISIN)])
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    # A task that uploaded, then died before mark_submitted.
    sftp.upload_once(env.target, path, file_name(), sha, retry=NO_WAIT)
    assert submissions.status(conn, rid).status == "GENERATED"

    (out,) = transmit.submit_reports(conn, env.target, [(rid, path)], retry=NO_WAIT)
    assert (out.uploaded, out.already_present, out.already_submitted, out.status) == (
        False,
        True,
        False,
        "SUBMITTED",
    )
    assert submissions.status(conn, rid).remote_name == file_name()
    assert env.inbox_files() == [file_name()]
    assert env.outbox_files() == [advice_file_name(file_name())]
    env.collect(conn)
    got = submissions.status(conn, rid)
    assert (got.status, got.records) == ("ACCEPTED", {"ACPT": 1})


# --------------------------------------------------------------------------- hostile feedback

NS_AUTH031 = "urn:iso:std:iso:20022:tech:xsd:auth.031.001.01"
XXE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<!DOCTYPE Document [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
    f'<Document xmlns="{NS_AUTH031}"><FinInstrmRptgStsAdvc><StsAdvc>'
    "<MsgRptIdr>&x;</MsgRptIdr><MsgSts><Sts>ACPT</Sts></MsgSts>"
    "</StsAdvc></FinInstrmRptgStsAdvc></Document>\n"
).encode()
BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
        for i in range(1, 10)
    )
    + f']>\n<Document xmlns="{NS_AUTH031}">&lol9;</Document>\n'
).encode()


def _unknown_advice() -> bytes:
    """A well-formed, XSD-valid auth.031 about a file we never submitted."""
    advice = StatusAdvice(
        "ACPT", "MIFIR_RTS22-20261126-S009-P01", total=1, counts={"ACPT": 1, "PDNG": 0}
    )
    header = AdviceHeader("FR", FIRM_LEI, "FDBK-UNKNOWN-001", datetime(2026, 11, 27, tzinfo=UTC))
    return render_status_advice(advice, header)


def test_hostile_and_corrupt_feedback_is_quarantined(
    conn: psycopg.Connection[Any], start_gateway: Callable[..., Env]
) -> None:
    env = start_gateway()
    rid, path = register_file(conn, env.tmp, [("TX1", KNOWN_ISIN)])
    transmit.submit_reports(conn, env.target, [(rid, path)], retry=NO_WAIT)
    genuine = advice_file_name(file_name())
    hostile = {
        "A_xxe_FDBK_001.xml": (XXE, transmit.FEEDBACK_UNSAFE_OR_INVALID),
        "B_bomb_FDBK_001.xml": (BILLION_LAUGHS, transmit.FEEDBACK_UNSAFE_OR_INVALID),
        "C_junk_FDBK_001.xml": (b"\x00\x01PK not xml at all", transmit.FEEDBACK_UNSAFE_OR_INVALID),
        "D_unknown_FDBK_001.xml": (_unknown_advice(), transmit.FEEDBACK_UNMATCHED),
    }
    for name, (data, _) in hostile.items():
        (env.outbox / name).write_bytes(data)

    result = env.collect(conn)
    assert result.listed == 5
    assert [a["file"] for a in result.applied] == [genuine]
    assert {r["file"]: r["reason_code"] for r in result.refused} == {
        name: code for name, (_, code) in hostile.items()
    }
    # Nothing from the hostile files leaked into the refusal details.
    assert not any("root:" in (r.get("detail") or "") for r in result.refused)
    assert sorted(p.name for p in (env.work / "quarantine").iterdir()) == sorted(hostile)
    assert sorted(p.name for p in (env.work / "inbox").iterdir()) == [genuine]
    assert feedback_rows(conn) == {
        genuine: ("APPLIED", None),
        **{name: ("REFUSED", code) for name, (_, code) in hostile.items()},
    }
    assert submissions.status(conn, rid).status == "ACCEPTED"
    assert transmit.seen_feedback(conn) == {genuine, *hostile}

    again = env.collect(conn)
    assert (again.listed, again.new_files, again.applied, again.refused) == (5, [], [], [])
