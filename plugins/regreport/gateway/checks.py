"""What the gateway does with a submitted file: file checks, content rules, feedback.

Order (ESMA/2016/1521 §3, REGULATORY.md E2): file errors first, which reject the whole file
without reading its records (`INCF` wrong name, `CRPT` not XML, `RJCT` not XSD-valid), then
content rules per record:

- **CON-023** a `New` whose TxId is already live for the executing entity (`ExctgPty`), from an
  earlier file or earlier in the same file. A `Cxl` frees the TxId for reuse; a rejected
  record never holds it. State lives in SQLite under `<root>/state/`, so it survives restarts.
- **CON-411** the ISIN is not in the gateway's instrument list: the record is pending (PDNG).
  It is re-checked every `recheck_interval_seconds`; when the ISIN appears it becomes accepted,
  and after `pending_max_checks` re-checks or `pending_max_days` it is rejected (**CON-412**).
  Each change produces a further advice about the same file, listing every record that is still
  not accepted (feedback lists exceptions; an unmentioned record is accepted).
- **the rule catalogue**: every `New` is read back into report columns and checked with the
  platform's own rules (`regreport.validation.check_records`, the same check as `regreport
  validate`); a record with an error-severity finding is rejected, naming ESMA's error code
  where the catalogue has one (e.g. CON-070 for a buyer LEI with wrong check digits) and our
  `RR-...` code otherwise, with the catalogue's message (never a value). Checked after CON-023
  and before CON-411, so a record with a content error is never held pending.
- scripted outcomes (`ScriptedOutcome`) come first and can force any file or record status.

A file is processed once: the processed mark, the TxId changes, the pending records and the
feedback to write are committed in one SQLite transaction, and feedback is written to the outbox
from that queue (atomically, via a dot-named temporary file), so a crash between the two only
delays the feedback.

Rule ids other than CON-023/411/412 are the simulator's own choice: ESMA's complete rule list
is not available in machine-readable form (REGULATORY.md E2), verify before relying on them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from regreport.gateway.status_advice import (
    AdviceHeader,
    RecordStatus,
    Rule,
    StatusAdvice,
    render_status_advice,
)

if TYPE_CHECKING:
    from regreport.gateway.config import GatewayConfig, ScriptedOutcome

log = logging.getLogger(__name__)

RULE_INCF = Rule("FIL-101", "The file name does not follow the naming convention")
RULE_CRPT = Rule("FIL-102", "The file is corrupted: it is not well-formed XML")
RULE_XSD = Rule("FIL-105", "The file structure does not correspond to the XML schema")
RULE_DUPLICATE = Rule(
    "CON-023",
    "Transaction report with the same transaction reference number has already been sent "
    "for the firm",
)
RULE_PENDING = Rule("CON-411", "Pending instrument validation: the instrument is not yet known")
RULE_UNKNOWN_INSTRUMENT = Rule(
    "CON-412", "Instrument is not valid in reference data on transaction date"
)
RULE_CANCEL_UNKNOWN = Rule(
    "CON-024", "The transaction to be cancelled does not exist or is already cancelled"
)

_DAY = 86_400.0
_ISIN_RE = re.compile(r"[A-Z]{2}[A-Z0-9]{9}[0-9]")
_SCHEMA = """
create table if not exists files (
    firm text not null, name text not null, biz_msg_id text, recipient text not null,
    total integer not null, advice_seq integer not null, processed_at real not null,
    primary key (firm, name));
create table if not exists live_tx (
    exctg text not null, tx_id text not null, firm text not null, name text not null,
    primary key (exctg, tx_id));
create table if not exists open_records (
    firm text not null, name text not null, seq integer not null, tx_id text not null,
    exctg text not null, isin text, status text not null, rule_id text not null,
    rule_desc text not null, checks integer not null, first_seen real not null,
    next_check real not null, primary key (firm, name, seq));
create table if not exists outbox_queue (
    firm text not null, out_name text not null, due_at real not null, body blob not null,
    written integer not null default 0, primary key (firm, out_name));
"""


def advice_file_name(submitted: str, seq: int = 1) -> str:
    """Name of the `seq`-th advice about a submitted file: deterministic and portable.

    "X.xml" gives "X_FDBK_001.xml"; characters outside the portable set become "_" and a
    short hash of the original name keeps two such names apart.
    """
    stem = submitted[:-4] if submitted.lower().endswith(".xml") else submitted
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", stem).lstrip(".-") or "file"
    if safe != stem:
        safe = f"{safe[:150]}_{hashlib.sha256(submitted.encode()).hexdigest()[:8]}"
    return f"{safe[:200]}_FDBK_{seq:03d}.xml"


@dataclass(frozen=True)
class SubmittedRecord:
    """What the content rules need from one `FinInstrmRptgTxRpt/Tx`."""

    kind: str  # "New" or "Cxl"
    tx_id: str
    exctg: str
    isin: str | None


@dataclass(frozen=True)
class ParsedFile:
    """The identity and records of a well-formed file."""

    biz_msg_id: str | None
    sender: str | None
    records: tuple[SubmittedRecord, ...]


class CorruptFileError(ValueError):
    """The file is not well-formed XML (status CRPT)."""


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def parse_submission(path: Path) -> ParsedFile:
    """Read header and records in one streaming, hardened pass (no entities, no network).

    Raises:
        CorruptFileError: Not well-formed (the message carries libxml2's reason, no content).
    """
    from lxml import etree

    biz_msg_id = sender = None
    records: list[SubmittedRecord] = []
    context = etree.iterparse(
        str(path),
        events=("end",),
        tag=("{*}AppHdr", "{*}Tx"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
    )
    try:
        for _event, elem in context:
            if _local(elem.tag) == "AppHdr":
                biz_msg_id = elem.findtext("{*}BizMsgIdr")
                sender = elem.findtext("{*}Fr/{*}OrgId/{*}Id/{*}OrgId/{*}Othr/{*}Id")
                continue
            parent = elem.getparent()
            if parent is None or _local(parent.tag) != "FinInstrmRptgTxRpt" or not len(elem):
                continue
            body = elem[0]
            records.append(
                SubmittedRecord(
                    kind=_local(body.tag),
                    tx_id=(body.findtext("{*}TxId") or "").strip(),
                    exctg=(body.findtext("{*}ExctgPty") or "").strip(),
                    isin=(body.findtext("{*}FinInstrm/{*}Id") or "").strip() or None,
                )
            )
            elem.clear(keep_tail=True)
    except etree.XMLSyntaxError as exc:
        raise CorruptFileError(str(exc.msg)) from None
    return ParsedFile(biz_msg_id, sender, tuple(records))


def load_instruments(path: Path | None) -> frozenset[str]:
    """The gateway's instrument reference list: ISINs, one a line, `#` starts a comment."""
    if path is None or not path.is_file():
        return frozenset()
    isins = (line.split("#", 1)[0].strip().upper() for line in path.read_text().splitlines())
    return frozenset(i for i in isins if _ISIN_RE.fullmatch(i))


def _file_status(total: int, pending: int, rejected: int) -> str:
    if pending == 0 and rejected == 0:
        return "ACPT"
    if rejected == total:
        return "RJCT"
    return "PART"


class Gateway:
    """The simulator's engine: processes uploads, re-checks pending records, writes feedback.

    Thread-safe (one lock): the SFTP server calls `process_upload` from worker threads and
    `tick` from its timer. No asyncssh here, so the rules are testable without a server.

    Args:
        config: The gateway configuration.
        clock: Current time (timezone-aware); tests pass a fake one to age pending records.
    """

    def __init__(self, config: GatewayConfig, clock: Callable[[], datetime] | None = None) -> None:
        self.config = config
        self._clock = clock or (lambda: datetime.now(tz=UTC))
        self._lock = threading.RLock()
        self._writing: set[Path] = set()
        self.ensure_layout()

    # -- layout and state --------------------------------------------------------------------

    @property
    def state_file(self) -> Path:
        """The SQLite file holding processed files, live TxIds and pending records."""
        return self.config.root / "state" / "gateway.sqlite"

    def ensure_layout(self) -> None:
        """Create `firms/<firm>/{inbox,outbox}` for every configured firm, and `state/`."""
        (self.config.root / "state").mkdir(parents=True, exist_ok=True)
        for firm in sorted({u.firm for u in self.config.users}):
            for sub in ("inbox", "outbox"):
                (self.config.firm_dir(firm) / sub).mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.state_file, isolation_level=None, timeout=30)
        try:
            yield db
        finally:
            db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._db() as db:
            db.execute("begin immediate")
            try:
                yield db
            except BaseException:
                db.execute("rollback")
                raise
            db.execute("commit")

    def _now(self) -> float:
        return self._clock().timestamp()

    def begin_write(self, path: Path) -> None:
        """Mark an inbox path as being written, so that a scan does not take it half-done."""
        with self._lock:
            self._writing.add(path)

    def end_write(self, path: Path) -> None:
        """Undo `begin_write`."""
        with self._lock:
            self._writing.discard(path)

    def is_processed(self, firm: str, name: str) -> bool:
        """Whether the file `name` of `firm` has been processed."""
        with self._db() as db:
            row = db.execute(
                "select 1 from files where firm = ? and name = ?", (firm, name)
            ).fetchone()
        return row is not None

    # -- processing --------------------------------------------------------------------------

    def process_upload(self, firm: str, name: str) -> list[str]:
        """Check one completed upload in `firm`'s inbox and queue (and write) its feedback.

        Temporary names, missing files and files already processed are ignored, which makes
        the call idempotent: the server may call it on close, on rename and from scans.

        Returns:
            Outbox file names written by this call (empty when ignored or delayed).
        """
        path = self.config.firm_dir(firm) / "inbox" / name
        if self.config.is_temp_name(name) or not path.is_file():
            return []
        with self._lock:
            if self.is_processed(firm, name):
                log.info("gateway: %s/%s already processed; ignored", firm, name)
                return []
            advice, records, parsed = self._check_file(firm, name, path)
            # Read outside the SQLite transaction: a large file takes a while.
            content = self._catalogue_verdicts(path) if records is not None else {}
            now = self._now()
            with self._transaction() as db:
                if records is not None and parsed is not None:
                    advice = self._apply_content_rules(db, firm, name, parsed, now, content)
                recipient = (parsed.sender if parsed else None) or firm
                db.execute(
                    "insert into files values (?, ?, ?, ?, ?, 1, ?)",
                    (firm, name, advice.msg_report_id, recipient, advice.total or 0, now),
                )
                self._queue(db, firm, name, 1, advice, recipient, now + self._delay(firm, name))
            log.info("gateway: %s/%s processed, status %s", firm, name, advice.status)
            return self.write_due_feedback()

    def _delay(self, firm: str, name: str) -> float:
        delays = [
            o.delay_seconds
            for o in self.config.outcomes
            if o.tx_id is None and o.matches_file(firm, name)
        ]
        return max([self.config.feedback_delay_seconds, *delays])

    def _file_outcome(self, firm: str, name: str) -> ScriptedOutcome | None:
        return next(
            (
                o
                for o in self.config.outcomes
                if o.tx_id is None and o.file_status is not None and o.matches_file(firm, name)
            ),
            None,
        )

    def _check_file(
        self, firm: str, name: str, path: Path
    ) -> tuple[StatusAdvice, tuple[SubmittedRecord, ...] | None, ParsedFile | None]:
        """File-level checks; records are returned only when content rules must run."""
        outcome = self._file_outcome(firm, name)
        if outcome is not None and outcome.file_status is not None:
            rule = Rule(outcome.rule_id, outcome.rule_desc)
            return StatusAdvice(outcome.file_status, rules=(rule,)), None, None
        if not self.config.is_valid_name(name):
            return StatusAdvice("INCF", rules=(RULE_INCF,)), None, None
        try:
            parsed = parse_submission(path)
        except CorruptFileError as exc:
            rule = Rule(RULE_CRPT.id, f"{RULE_CRPT.desc} ({exc})")
            return StatusAdvice("CRPT", rules=(rule,)), None, None
        from regreport.xml.schema import validate_file

        report = validate_file(
            path, self.config.resolved_schemas_dir(), self.config.schema_version, max_errors=3
        )
        if not report.valid:
            detail = "; ".join(f"line {e.line}: {e.message}" for e in report.errors)
            rule = Rule(RULE_XSD.id, f"{RULE_XSD.desc}: {detail}")
            advice = StatusAdvice(
                "RJCT",
                parsed.biz_msg_id,
                rules=(rule,),
                total=len(parsed.records),
                counts={"RJCT": len(parsed.records)},
            )
            return advice, None, parsed
        return StatusAdvice("ACPT", parsed.biz_msg_id), parsed.records, parsed

    def _record_outcome(self, firm: str, name: str, tx_id: str) -> ScriptedOutcome | None:
        return next(
            (
                o
                for o in self.config.outcomes
                if o.tx_id == tx_id and o.record_status and o.matches_file(firm, name)
            ),
            None,
        )

    def _catalogue_verdicts(self, path: Path) -> dict[tuple[int, str], Rule]:
        """The catalogue rule rejecting each failing `New`, by (0-based position, TxId).

        The first error-severity finding of the record names the rule; the description counts
        the others.
        """
        from regreport.validation import check_records

        verdicts: dict[tuple[int, str], Rule] = {}
        for result in check_records(path, self.config.resolved_refdata_dir()):
            errors = result.errors
            if result.action != "New" or not errors:
                continue
            first = errors[0]
            more = f" {len(errors) - 1} more error(s)." if len(errors) > 1 else ""
            desc = f"{first.code}: {first.message} Field: {first.field}.{more}"
            verdicts[(result.index - 1, result.tx_id)] = Rule(first.rule_id, desc)
        return verdicts

    def _apply_content_rules(
        self,
        db: sqlite3.Connection,
        firm: str,
        name: str,
        parsed: ParsedFile,
        now: float,
        content: dict[tuple[int, str], Rule] | None = None,
    ) -> StatusAdvice:
        isins = load_instruments(self.config.instruments_file)
        next_check = now + self.config.recheck_interval_seconds
        content = content or {}
        for seq, rec in enumerate(parsed.records):
            failed = content.get((seq, rec.tx_id))
            status, rule = self._record_verdict(db, firm, name, rec, isins, failed)
            if status == "ACPT":
                continue
            db.execute(
                "insert into open_records values (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
                (
                    firm,
                    name,
                    seq,
                    rec.tx_id,
                    rec.exctg,
                    rec.isin,
                    status,
                    rule.id,
                    rule.desc,
                    now,
                    next_check,
                ),
            )
        return self._advice_from_state(db, firm, name, parsed.biz_msg_id, len(parsed.records))

    def _record_verdict(
        self,
        db: sqlite3.Connection,
        firm: str,
        name: str,
        rec: SubmittedRecord,
        isins: frozenset[str],
        failed: Rule | None = None,
    ) -> tuple[str, Rule]:
        """Decide one record and update the live TxIds; returns (status, rule if not ACPT).

        `failed` is the catalogue rule the record breaks, if any (`_catalogue_verdicts`).
        """
        key = (rec.exctg, rec.tx_id)
        live = db.execute("select 1 from live_tx where exctg = ? and tx_id = ?", key).fetchone()
        if rec.kind == "Cxl":
            if live is None:
                return "RJCT", RULE_CANCEL_UNKNOWN
            db.execute("delete from live_tx where exctg = ? and tx_id = ?", key)
            db.execute(
                "delete from open_records where exctg = ? and tx_id = ? and status = 'PDNG'", key
            )
            return "ACPT", RULE_PENDING
        outcome = self._record_outcome(firm, name, rec.tx_id)
        if outcome is not None and outcome.record_status is not None:
            status, rule = outcome.record_status, Rule(outcome.rule_id, outcome.rule_desc)
        elif live is not None:
            return "RJCT", RULE_DUPLICATE
        elif failed is not None:
            return "RJCT", failed
        elif rec.isin is not None and rec.isin not in isins:
            status, rule = "PDNG", RULE_PENDING
        else:
            status, rule = "ACPT", RULE_PENDING
        if status != "RJCT":
            db.execute("insert or replace into live_tx values (?, ?, ?, ?)", (*key, firm, name))
        return status, rule

    def _advice_from_state(
        self, db: sqlite3.Connection, firm: str, name: str, biz_msg_id: str | None, total: int
    ) -> StatusAdvice:
        rows = db.execute(
            "select tx_id, status, rule_id, rule_desc from open_records "
            "where firm = ? and name = ? order by seq",
            (firm, name),
        ).fetchall()
        pending = sum(1 for r in rows if r[1] == "PDNG")
        rejected = sum(1 for r in rows if r[1] == "RJCT")
        counts = {"ACPT": total - len(rows), "PDNG": pending, "RJCT": rejected}
        return StatusAdvice(
            status=_file_status(total, pending, rejected),
            msg_report_id=biz_msg_id,
            total=total,
            counts=counts,
            records=tuple(RecordStatus(r[0], r[1], (Rule(r[2], r[3]),)) for r in rows),
        )

    def _queue(
        self,
        db: sqlite3.Connection,
        firm: str,
        name: str,
        seq: int,
        advice: StatusAdvice,
        recipient: str,
        due_at: float,
    ) -> None:
        out_name = advice_file_name(name, seq)
        digest = hashlib.sha256(f"{firm}/{name}".encode()).hexdigest()[:20].upper()
        header = AdviceHeader(
            nca_country=self.config.nca_country,
            recipient=recipient,
            business_message_id=f"FDBK-{digest}-{seq:03d}",
            created_at=self._clock(),
        )
        body = render_status_advice(advice, header)
        db.execute(
            "insert or replace into outbox_queue values (?, ?, ?, ?, 0)",
            (firm, out_name, due_at, body),
        )

    # -- background work ---------------------------------------------------------------------

    def write_due_feedback(self) -> list[str]:
        """Write every queued advice whose time has come; returns the outbox names written."""
        written = []
        with self._lock, self._db() as db:
            rows = db.execute(
                "select firm, out_name, body from outbox_queue "
                "where written = 0 and due_at <= ? order by due_at, out_name",
                (self._now(),),
            ).fetchall()
            for firm, out_name, body in rows:
                outbox = self.config.firm_dir(firm) / "outbox"
                outbox.mkdir(parents=True, exist_ok=True)
                tmp = outbox / f".{out_name}.tmp"
                tmp.write_bytes(body)
                os.replace(tmp, outbox / out_name)
                db.execute(
                    "update outbox_queue set written = 1 where firm = ? and out_name = ?",
                    (firm, out_name),
                )
                written.append(out_name)
        return written

    def recheck_pending(self, *, due_only: bool = False) -> list[str]:
        """Re-check pending records (CON-411) against the instrument list.

        Args:
            due_only: Only records whose `recheck_interval_seconds` has elapsed (the timer);
                False re-checks all of them now (tests, demos: "a day has passed").

        Returns:
            Outbox names written (a new advice per file whose records changed status).
        """
        cfg = self.config
        with self._lock:
            now = self._now()
            isins = load_instruments(cfg.instruments_file)
            with self._transaction() as db:
                rows = db.execute(
                    "select firm, name, seq, tx_id, exctg, isin, rule_id, checks, first_seen "
                    "from open_records where status = 'PDNG' and (? = 0 or next_check <= ?)",
                    (int(due_only), now),
                ).fetchall()
                changed: dict[tuple[str, str], list[str]] = {}
                for firm, name, seq, tx_id, exctg, isin, rule_id, checks, first_seen in rows:
                    pk = (firm, name, seq)
                    scripted = rule_id != RULE_PENDING.id
                    if not scripted and isin is not None and isin in isins:
                        db.execute(
                            "delete from open_records where firm = ? and name = ? and seq = ?", pk
                        )
                        changed.setdefault((firm, name), []).append(tx_id)
                    elif checks + 1 >= cfg.pending_max_checks or (
                        now - first_seen >= cfg.pending_max_days * _DAY
                    ):
                        db.execute(
                            "update open_records set status = 'RJCT', rule_id = ?, rule_desc = ?"
                            " where firm = ? and name = ? and seq = ?",
                            (RULE_UNKNOWN_INSTRUMENT.id, RULE_UNKNOWN_INSTRUMENT.desc, *pk),
                        )
                        db.execute(
                            "delete from live_tx where exctg = ? and tx_id = ? and firm = ? "
                            "and name = ?",
                            (exctg, tx_id, firm, name),
                        )
                        changed.setdefault((firm, name), [])
                    else:
                        db.execute(
                            "update open_records set checks = checks + 1, next_check = ? "
                            "where firm = ? and name = ? and seq = ?",
                            (now + cfg.recheck_interval_seconds, *pk),
                        )
                for (firm, name), accepted in sorted(changed.items()):
                    self._queue_follow_up(db, firm, name, now, accepted)
        return self.write_due_feedback()

    def _queue_follow_up(
        self, db: sqlite3.Connection, firm: str, name: str, now: float, accepted: list[str]
    ) -> None:
        """Queue a further advice: still-open records, plus those just accepted, by name.

        Naming the newly accepted records (`RcrdSts` ACPT) makes the follow-up unambiguous: a
        receiver need not infer that a pending record it no longer sees was accepted.
        """
        biz_msg_id, recipient, total, seq = db.execute(
            "update files set advice_seq = advice_seq + 1 where firm = ? and name = ? "
            "returning biz_msg_id, recipient, total, advice_seq",
            (firm, name),
        ).fetchone()
        advice = self._advice_from_state(db, firm, name, biz_msg_id, total)
        if accepted:
            named = tuple(RecordStatus(tx, "ACPT", ()) for tx in accepted)
            advice = replace(advice, records=advice.records + named)
        self._queue(db, firm, name, seq, advice, recipient, now)

    def scan_inboxes(self) -> list[str]:
        """Process completed files found in inboxes (e.g. uploaded while the gateway was down).

        Returns:
            Outbox names written.
        """
        written: list[str] = []
        for firm in sorted({u.firm for u in self.config.users}):
            inbox = self.config.firm_dir(firm) / "inbox"
            if not inbox.is_dir():
                continue
            for path in sorted(inbox.iterdir()):
                with self._lock:
                    busy = path in self._writing
                if busy or not path.is_file() or self.config.is_temp_name(path.name):
                    continue
                written += self.process_upload(firm, path.name)
        return written

    def tick(self) -> list[str]:
        """One round of background work: scan inboxes, due re-checks, due feedback."""
        written = self.scan_inboxes()
        written += self.recheck_pending(due_only=True)
        written += self.write_due_feedback()
        return written
