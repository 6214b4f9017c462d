"""RTS 22 Art. 15 daily reconciliation and the submission MI table.

Commission Delegated Regulation (EU) 2017/590 (RTS 22) Art. 15(3) requires a firm to
reconcile, regularly, what it reported against its front-office records and against the data
the regulator holds. This module does the daily part for one trading date D, from what the
platform already knows: the report table (what should be reported), the transaction ledger
(what was sent) and the regulator's auth.031 feedback per record (what was accepted).

**Source side** ("what should be at the regulator") for day D:

* every row of the report table with `trading_date = D`: its TxId, execution id and content
  hash (`regreport.ledger.record_hash_sql`, the hash the ledger stores for what was sent);
* every execution of day D in the quarantine table (not reportable until fixed), with no
  hash. If it was reported before (an amendment held: the regulator keeps the accepted
  version), it stands for the TxIds it went out under (both legs of a matched principal fill);
  otherwise for its expected TxId `'QS' || execution_id`, the client-leg TxId the report model
  (`int_mifir__transactions`) would give it. A trade time outside its run's window files it
  under the day whose run read it.

**Regulator side** ("what the regulator holds, as far as it told us"), per TxId: the latest
ledger entry (by entry id, i.e. submission order) whose record status
(`regreport.record_status_current`, keyed by report id and TxId) is ACPT. If it is a New, the
regulator holds that `record_sha256`; if a Cxl, it holds nothing. Entries that are pending,
rejected, unanswered or never sent do not change what the regulator holds. A Cxl and a New of
the same TxId in one file share one record status (auth.031 identifies a record by TxId only),
so an accepted amendment makes the New, the later entry, the one held.

The TxIds reconciled for D are those of the source rows, plus ledger TxIds whose execution
belongs to D's source rows, plus (for executions that are in neither table any more, e.g.
cancelled in the source system) ledger TxIds whose first New went out in a file of period D
(`report_registry.period_start`).

**Buckets** (one item per TxId):

* MATCHED: source row and held record, same hash.
* FIELDS_DIFFER: source row and held record, hashes differ (the source changed after the
  held version, or the execution is now quarantined).
* MISSING_AT_REGULATOR: source row, nothing held. `detail` says why, from the latest ledger
  entry and its status: QUARANTINED (execution in quarantine), NOT_SENT (no entry, or the
  entry's file was never submitted, or the last entry is an unaccepted Cxl), PENDING,
  REJECTED (record rejected, or the whole file rejected), NO_FEEDBACK (submitted, no record
  status yet), CANCELLED_AT_REGULATOR (the last entry is an accepted Cxl).
* UNKNOWN_TO_SOURCE: held record, no source row for D (e.g. an execution cancelled in the
  source whose Cxl is not yet accepted).

For FIELDS_DIFFER and UNKNOWN_TO_SOURCE, `detail` says where the fix stands: the status of
the correction in flight (the latest New with the source's hash, or the latest Cxl) as
PENDING, REJECTED, NO_FEEDBACK or NOT_SENT (nothing sent yet), or QUARANTINED.

matched + fields_differ + missing_at_regulator = source records; unknown_to_source are extra.
Each `reconcile_day` call appends a run to `regreport.reconciliation_runs` with its items in
`regreport.reconciliation_items` (history kept, nothing updated or deleted).

**Submission MI** (`submission_mi`, persisted by `write_mi` into `regreport.submission_mi`)
measures timeliness against MiFIR Art. 26(1) (close of the following working day, see
`regreport.calendar`), per trading date. See docs/reporting/mifir/reconciliation.md.

Personal data: only TxIds, execution ids, hashes and status codes are read or stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from regreport.calendar import business_days_late, t_plus_1_deadline
from regreport.ledger import CANCEL, NEW, record_hash_sql

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from zoneinfo import ZoneInfo

    import psycopg

    from regreport.calendar import BusinessCalendar

SCHEMA = "regreport"
REPORT_TABLE = "reports.rpt_mifir_rts22_transactions"
QUARANTINE_TABLE = "reports.rpt_mifir_rts22_quarantine"
#: Prefix of TxIds built by the report model (int_mifir__transactions): 'QS' || execution_id.
TX_ID_PREFIX = "QS"

MATCHED = "MATCHED"
FIELDS_DIFFER = "FIELDS_DIFFER"
MISSING_AT_REGULATOR = "MISSING_AT_REGULATOR"
UNKNOWN_TO_SOURCE = "UNKNOWN_TO_SOURCE"
BUCKETS = (MATCHED, FIELDS_DIFFER, MISSING_AT_REGULATOR, UNKNOWN_TO_SOURCE)

QUARANTINED = "QUARANTINED"
NOT_SENT = "NOT_SENT"
PENDING = "PENDING"
REJECTED = "REJECTED"
NO_FEEDBACK = "NO_FEEDBACK"
CANCELLED_AT_REGULATOR = "CANCELLED_AT_REGULATOR"
_ACCEPTED = "ACCEPTED"  # internal: an entry the regulator accepted

_RATE_QUANTUM = Decimal("0.0001")
_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")

DDL = f"""
create table if not exists {SCHEMA}.reconciliation_runs (
    run_id                bigint generated always as identity primary key,
    trading_date          date not null,
    report_table          text not null,
    source_records        integer not null,
    matched               integer not null,
    fields_differ         integer not null,
    missing_at_regulator  integer not null,
    unknown_to_source     integer not null,
    created_at            timestamptz not null default now(),
    check (matched + fields_differ + missing_at_regulator = source_records)
);
create index if not exists reconciliation_runs_date_idx
    on {SCHEMA}.reconciliation_runs (trading_date, run_id);
create table if not exists {SCHEMA}.reconciliation_items (
    run_id            bigint not null references {SCHEMA}.reconciliation_runs (run_id),
    tx_id             text not null,
    execution_id      bigint,
    bucket            text not null check (bucket in (
                          'MATCHED', 'FIELDS_DIFFER', 'MISSING_AT_REGULATOR',
                          'UNKNOWN_TO_SOURCE')),
    detail            text,
    source_sha256     char(64),
    regulator_sha256  char(64),
    primary key (run_id, tx_id)
);
create table if not exists {SCHEMA}.submission_mi (
    trading_date     date primary key,
    records          integer not null,
    accepted         integer not null,
    rejected         integer not null,
    pending          integer not null,
    unanswered       integer not null,
    acceptance_rate  numeric(5, 4),
    rejection_rate   numeric(5, 4),
    deadline         timestamptz not null,
    on_time          integer not null,
    late             integer not null,
    overdue          integer not null,
    max_days_late    integer,
    calendar_name    text not null,
    computed_at      timestamptz not null default now()
);
alter table {SCHEMA}.submission_mi
    add column if not exists quarantined integer not null default 0;
"""


class ReconciliationError(RuntimeError):
    """The reconciliation does not add up (a bug or broken data): nothing was persisted."""


@dataclass(frozen=True)
class ReconciliationItem:
    """One TxId's bucket for the day.

    Attributes:
        detail: Why it is missing (MISSING_AT_REGULATOR) or where the fix stands; None for
            MATCHED.
        source_sha256: Hash of the report row (None if absent or quarantined).
        regulator_sha256: Hash of the record the regulator holds (None if nothing held).
    """

    tx_id: str
    execution_id: int | None
    bucket: str
    detail: str | None
    source_sha256: str | None
    regulator_sha256: str | None


@dataclass(frozen=True)
class ReconciliationResult:
    """A persisted reconciliation run: counts per bucket and the items, by TxId."""

    run_id: int
    trading_date: date
    source_records: int
    matched: int
    fields_differ: int
    missing_at_regulator: int
    unknown_to_source: int
    items: tuple[ReconciliationItem, ...]

    @property
    def counts(self) -> dict[str, int]:
        """Items per bucket (every bucket present, zeros included)."""
        return {
            MATCHED: self.matched,
            FIELDS_DIFFER: self.fields_differ,
            MISSING_AT_REGULATOR: self.missing_at_regulator,
            UNKNOWN_TO_SOURCE: self.unknown_to_source,
        }

    def item(self, tx_id: str) -> ReconciliationItem | None:
        """The item of one TxId, if reconciled."""
        return next((i for i in self.items if i.tx_id == tx_id), None)


@dataclass(frozen=True)
class MiRow:
    """Submission MI of one trading date (a row of `regreport.submission_mi`).

    Attributes:
        records: Distinct TxIds reported as New for trades of the date.
        accepted, rejected, pending, unanswered: Current status of each TxId's latest New.
        acceptance_rate, rejection_rate: Over `records`, 4 dp; None when there are none.
        deadline: MiFIR Art. 26(1) deadline (first instant after it is due), tz-aware.
        on_time, late: TxIds by when the file of their first accepted New was submitted.
        overdue: TxIds never accepted, with the deadline passed at `now`.
        max_days_late: Most working days late among `late` (None if none).
        quarantined: Source executions of the date kept out of the report (every copy of a
            duplicated id; a trade time outside its run's window counts on the run's day).
    """

    trading_date: date
    records: int
    accepted: int
    rejected: int
    pending: int
    unanswered: int
    acceptance_rate: Decimal | None
    rejection_rate: Decimal | None
    deadline: datetime
    on_time: int
    late: int
    overdue: int
    max_days_late: int | None
    calendar_name: str
    quarantined: int = 0


def ensure_schema(conn: psycopg.Connection[Any]) -> None:
    """Create the reconciliation and MI tables (and the registry/ledger/status ones) if missing."""
    from regreport import ddl, registry

    registry.ensure_schema(conn)
    ddl.ensure(conn, "reconciliation", DDL)


def _table(name: str) -> str:
    if not _TABLE_NAME.match(name):
        raise ValueError(f"not a table name: {name!r}")
    return name


def _entry_state(rec_status: str | None, file_status: str | None) -> str:
    """Where one ledger entry stands: NOT_SENT, NO_FEEDBACK, PENDING, REJECTED or ACCEPTED."""
    if rec_status == "ACPT":
        return _ACCEPTED
    if rec_status == "PDNG":
        return PENDING
    if rec_status == "RJCT" or file_status == "REJECTED":
        return REJECTED
    if file_status in (None, "GENERATED"):
        return NOT_SENT
    return NO_FEEDBACK


@dataclass(frozen=True)
class _Row:
    tx_id: str
    execution_id: int | None
    in_source: bool
    quarantined: bool
    source_sha: str | None
    held_sha: str | None
    latest_action: str | None
    latest_sha: str | None
    rec_status: str | None
    file_status: str | None


def _classify(row: _Row) -> tuple[str, str | None]:
    """Bucket and detail of one TxId (see the module docstring)."""
    state = _entry_state(row.rec_status, row.file_status) if row.latest_action else NOT_SENT
    if not row.in_source:
        return UNKNOWN_TO_SOURCE, state if row.latest_action == CANCEL else NOT_SENT
    if row.held_sha is not None:
        if row.held_sha == row.source_sha:
            return MATCHED, None
        if row.quarantined:
            return FIELDS_DIFFER, QUARANTINED
        in_flight = row.latest_action == NEW and row.latest_sha == row.source_sha
        return FIELDS_DIFFER, state if in_flight else NOT_SENT
    if row.quarantined:
        return MISSING_AT_REGULATOR, QUARANTINED
    if row.latest_action == CANCEL:
        return MISSING_AT_REGULATOR, CANCELLED_AT_REGULATOR if state == _ACCEPTED else NOT_SENT
    if state == _ACCEPTED:  # an accepted New is held: cannot be missing
        raise ReconciliationError(f"TxId {row.tx_id}: accepted but not held")
    return MISSING_AT_REGULATOR, state


def _strip(value: str | None) -> str | None:
    return value.strip() if value is not None else None


def _fetch_rows(
    conn: psycopg.Connection[Any], trading_date: date, report_table: str, quarantine_table: str
) -> list[_Row]:
    rt, qt = _table(report_table), _table(quarantine_table)
    rows = conn.execute(
        f"""
        with source as (
            select r.tx_id::text as tx_id, r.execution_id::bigint as execution_id,
                   {record_hash_sql("r")} as sha, false as quarantined
            from {rt} as r
            where r.trading_date = %(d)s
            union all
            select coalesce(sent.tx_id, '{TX_ID_PREFIX}' || q.execution_id::text),
                   q.execution_id::bigint, null, true
            from (select distinct execution_id from {qt}
                  where trading_date = %(d)s and execution_id is not null) as q
            {_SENT_TX_IDS}
            where not exists (
                select 1 from {rt} as r2
                where r2.execution_id = q.execution_id and r2.trading_date = %(d)s)
        ),
        known as (
            select execution_id from {rt} where execution_id is not null
            union
            select execution_id from {qt} where execution_id is not null
        ),
        day_tx as (
            select tx_id from source
            union
            select l.tx_id from {SCHEMA}.transaction_ledger as l
            where l.execution_id in (select execution_id from source)
            union
            select l.tx_id
            from {SCHEMA}.transaction_ledger as l
            join {SCHEMA}.transaction_ledger as o
                on o.entry_id = coalesce(l.original_entry_id, l.entry_id)
            join {SCHEMA}.report_registry as g on g.report_id = o.report_id
            where g.period_start = %(d)s
              and not exists (select 1 from known as k where k.execution_id = l.execution_id)
        ),
        entries as (
            select l.entry_id, l.tx_id, l.execution_id, l.action, l.record_sha256,
                   s.status as rec_status, sub.status as file_status
            from {SCHEMA}.transaction_ledger as l
            left join {SCHEMA}.record_status_current as s
                on s.report_id = l.report_id and s.tx_id = l.tx_id
            left join {SCHEMA}.submissions as sub on sub.report_id = l.report_id
            where l.tx_id in (select tx_id from day_tx)
        ),
        held as (
            select distinct on (tx_id) tx_id, execution_id, action, record_sha256
            from entries where rec_status = 'ACPT'
            order by tx_id, entry_id desc
        ),
        latest as (
            select distinct on (tx_id) tx_id, execution_id, action, record_sha256,
                   rec_status, file_status
            from entries
            order by tx_id, entry_id desc
        )
        select t.tx_id,
               coalesce(src.execution_id, lt.execution_id),
               src.tx_id is not null,
               coalesce(src.quarantined, false),
               src.sha,
               case when h.action = '{NEW}' then h.record_sha256 end,
               lt.action, lt.record_sha256, lt.rec_status, lt.file_status
        from (select distinct tx_id from day_tx) as t
        left join source as src on src.tx_id = t.tx_id
        left join held as h on h.tx_id = t.tx_id
        left join latest as lt on lt.tx_id = t.tx_id
        order by t.tx_id
        """,
        {"d": trading_date},
    ).fetchall()
    return [
        _Row(
            tx_id=r[0],
            execution_id=r[1],
            in_source=r[2],
            quarantined=r[3],
            source_sha=_strip(r[4]),
            held_sha=_strip(r[5]),
            latest_action=r[6],
            latest_sha=_strip(r[7]),
            rec_status=r[8],
            file_status=r[9],
        )
        for r in rows
    ]


#: A quarantined execution stands for the TxIds it was reported under (both legs of a matched
#: principal fill, when an accepted version is held back), or its expected TxId if never sent.
_SENT_TX_IDS = f"""left join lateral (
                select distinct l.tx_id from {SCHEMA}.transaction_ledger as l
                where l.execution_id = q.execution_id
            ) as sent on true"""


def _source_count(
    conn: psycopg.Connection[Any], trading_date: date, report_table: str, quarantine_table: str
) -> int:
    """Source records counted independently of the bucket query (the arithmetic guard)."""
    rt, qt = _table(report_table), _table(quarantine_table)
    row = conn.execute(
        f"""
        select count(*) from (
            select tx_id::text from {rt} where trading_date = %(d)s
            union
            select coalesce(sent.tx_id, '{TX_ID_PREFIX}' || q.execution_id::text) from {qt} as q
            {_SENT_TX_IDS}
            where q.trading_date = %(d)s and q.execution_id is not null
              and not exists (select 1 from {rt} as r2
                              where r2.execution_id = q.execution_id
                                and r2.trading_date = %(d)s)
        ) as s
        """,
        {"d": trading_date},
    ).fetchone()
    return int(row[0]) if row else 0


def reconcile_day(
    conn: psycopg.Connection[Any],
    trading_date: date,
    *,
    report_table: str = REPORT_TABLE,
    quarantine_table: str = QUARANTINE_TABLE,
) -> ReconciliationResult:
    """Reconcile one trading date's source records with what the regulator holds; persist it.

    Args:
        conn: Warehouse connection (committed on success, rolled back on error).
        trading_date: The trading date D.
        report_table: Report table (tx_id, execution_id, trading_date and content columns).
        quarantine_table: Quarantine table (execution_id, trading_date).

    Returns:
        The new run: counts per bucket and one item per TxId, in TxId order.

    Raises:
        ReconciliationError: The counts do not add up (matched + fields_differ + missing must
            equal the source records), or a TxId appears twice in the source.
    """
    try:
        ensure_schema(conn)
        rows = _fetch_rows(conn, trading_date, report_table, quarantine_table)
        items = tuple(
            ReconciliationItem(
                tx_id=r.tx_id,
                execution_id=r.execution_id,
                bucket=bucket,
                detail=detail,
                source_sha256=r.source_sha,
                regulator_sha256=r.held_sha,
            )
            for r in rows
            if r.in_source or r.held_sha is not None  # else: not held, not due: no item
            for bucket, detail in (_classify(r),)
        )
        counts = {b: sum(1 for i in items if i.bucket == b) for b in BUCKETS}
        source = _source_count(conn, trading_date, report_table, quarantine_table)
        dup = conn.execute(
            f"""select count(*) - count(distinct tx_id) from {_table(report_table)}
                where trading_date = %s""",
            (trading_date,),
        ).fetchone()
        if dup and int(dup[0]):
            raise ReconciliationError(
                f"{report_table} has {int(dup[0])} duplicate TxId row(s) for {trading_date}"
            )
        if counts[MATCHED] + counts[FIELDS_DIFFER] + counts[MISSING_AT_REGULATOR] != source:
            raise ReconciliationError(
                f"reconciliation of {trading_date} does not add up: {counts} for "
                f"{source} source records"
            )
        run = conn.execute(
            f"""insert into {SCHEMA}.reconciliation_runs
                (trading_date, report_table, source_records, matched, fields_differ,
                 missing_at_regulator, unknown_to_source)
                values (%s, %s, %s, %s, %s, %s, %s) returning run_id""",
            (
                trading_date,
                report_table,
                source,
                counts[MATCHED],
                counts[FIELDS_DIFFER],
                counts[MISSING_AT_REGULATOR],
                counts[UNKNOWN_TO_SOURCE],
            ),
        ).fetchone()
        assert run is not None  # noqa: S101 - insert ... returning
        run_id = int(run[0])
        with conn.cursor() as cur:
            cur.executemany(
                f"""insert into {SCHEMA}.reconciliation_items
                    (run_id, tx_id, execution_id, bucket, detail, source_sha256,
                     regulator_sha256) values (%s, %s, %s, %s, %s, %s, %s)""",
                [
                    (
                        run_id,
                        i.tx_id,
                        i.execution_id,
                        i.bucket,
                        i.detail,
                        i.source_sha256,
                        i.regulator_sha256,
                    )
                    for i in items
                ],
            )
    except BaseException:
        conn.rollback()
        raise
    conn.commit()
    return ReconciliationResult(
        run_id=run_id,
        trading_date=trading_date,
        source_records=source,
        matched=counts[MATCHED],
        fields_differ=counts[FIELDS_DIFFER],
        missing_at_regulator=counts[MISSING_AT_REGULATOR],
        unknown_to_source=counts[UNKNOWN_TO_SOURCE],
        items=items,
    )


def _rate(part: int, whole: int) -> Decimal | None:
    if whole == 0:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(_RATE_QUANTUM, rounding=ROUND_HALF_UP)


def _mi_facts(
    conn: psycopg.Connection[Any], start: date, end: date, report_table: str
) -> list[tuple[Any, ...]]:
    """One fact row per TxId reported as New for trades of [start, end].

    Each row: trading date, TxId, the latest New's record and file status, and when the file
    of its first accepted New was submitted (None if never accepted).
    """
    rt = _table(report_table)
    rows = conn.execute(
        f"""
        with newt as (
            select l.entry_id, l.tx_id, l.report_id, s.status as rec_status,
                   sub.status as file_status, sub.submitted_at
            from {SCHEMA}.transaction_ledger as l
            left join {SCHEMA}.record_status_current as s
                on s.report_id = l.report_id and s.tx_id = l.tx_id
            left join {SCHEMA}.submissions as sub on sub.report_id = l.report_id
            where l.action = '{NEW}'
        ),
        first_new as (
            select distinct on (tx_id) tx_id, report_id from newt order by tx_id, entry_id
        ),
        latest as (
            select distinct on (tx_id) tx_id, rec_status, file_status
            from newt order by tx_id, entry_id desc
        ),
        first_accepted as (
            select distinct on (tx_id) tx_id, submitted_at
            from newt where rec_status = 'ACPT' order by tx_id, entry_id
        ),
        dated as (
            select f.tx_id, coalesce(r.trading_date::date, g.period_start) as trading_date
            from first_new as f
            join {SCHEMA}.report_registry as g on g.report_id = f.report_id
            left join (select distinct on (tx_id) tx_id::text as tx_id, trading_date
                       from {rt} order by tx_id, trading_date) as r
                on r.tx_id = f.tx_id
        )
        select d.trading_date, d.tx_id, lt.rec_status, lt.file_status, fa.submitted_at
        from dated as d
        join latest as lt on lt.tx_id = d.tx_id
        left join first_accepted as fa on fa.tx_id = d.tx_id
        where d.trading_date between %s and %s
        order by d.trading_date, d.tx_id
        """,
        (start, end),
    ).fetchall()
    return [tuple(r) for r in rows]


def submission_mi(
    conn: psycopg.Connection[Any],
    *,
    start: date,
    end: date,
    calendar: BusinessCalendar,
    tz: str | ZoneInfo = "UTC",
    now: datetime | None = None,
    report_table: str = REPORT_TABLE,
    quarantine_table: str = QUARANTINE_TABLE,
) -> list[MiRow]:
    """Submission MI per trading date in [start, end]: volumes, rates and timeliness.

    One row per business day of the range, and per non-business day that has records (a
    Saturday venue): a business day with no records still gets a row (records 0, rates None),
    so a day the platform reported nothing for is visible rather than absent.

    Args:
        conn: Warehouse connection (read only).
        start: First trading date (inclusive).
        end: Last trading date (inclusive).
        calendar: Working days for the deadline and days late (`regreport.calendar`).
        tz: Time zone whose midnight closes a working day (the NCA's).
        now: The "as of" instant for `overdue`; defaults to the current time. Tz-aware.
        report_table: Where a TxId's trading date comes from (fallback: the period of the
            file its first New went out in).
        quarantine_table: Where the quarantined executions of each date are counted.

    Raises:
        ValueError: `end` before `start`, or a naive `now`.
    """
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    now = now or datetime.now(tz=UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    ensure_schema(conn)
    facts = _mi_facts(conn, start, end, report_table)
    by_day: dict[date, list[tuple[str | None, str | None, datetime | None]]] = {}
    for trading_date, _tx, rec_status, file_status, accepted_at in facts:
        by_day.setdefault(trading_date, []).append((rec_status, file_status, accepted_at))
    quarantined = _quarantined_by_day(conn, start, end, quarantine_table)
    days = {d for d in _dates(start, end) if calendar.is_business_day(d)} | by_day.keys()
    return [
        replace(_mi_row(d, by_day.get(d, []), calendar, tz, now), quarantined=quarantined.get(d, 0))
        for d in sorted(days | quarantined.keys())
    ]


def _quarantined_by_day(
    conn: psycopg.Connection[Any], start: date, end: date, quarantine_table: str
) -> dict[date, int]:
    """Source rows in the quarantine per trading date of [start, end] (none if no table)."""
    qt = _table(quarantine_table)
    row = conn.execute("select to_regclass(%s)", (qt,)).fetchone()
    if row is None or row[0] is None:
        return {}
    rows = conn.execute(
        f"select trading_date, sum(coalesce(source_rows, 1))::bigint from {qt}"
        " where trading_date between %s and %s group by 1",
        (start, end),
    ).fetchall()
    return {d: int(n) for d, n in rows}


def _dates(start: date, end: date) -> Iterable[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def _mi_row(
    day: date,
    facts: Sequence[tuple[str | None, str | None, datetime | None]],
    calendar: BusinessCalendar,
    tz: str | ZoneInfo,
    now: datetime,
) -> MiRow:
    deadline = t_plus_1_deadline(day, calendar, tz)
    states = [_entry_state(rec, file) for rec, file, _ in facts]
    records = len(facts)
    accepted = states.count(_ACCEPTED)
    rejected = states.count(REJECTED)
    pending = states.count(PENDING)
    on_time = late = overdue = 0
    days_late: list[int] = []
    for _, _, accepted_at in facts:
        if accepted_at is None:
            overdue += now >= deadline
        elif accepted_at < deadline:
            on_time += 1
        else:
            late += 1
            days_late.append(business_days_late(day, accepted_at, calendar, tz))
    return MiRow(
        trading_date=day,
        records=records,
        accepted=accepted,
        rejected=rejected,
        pending=pending,
        unanswered=records - accepted - rejected - pending,
        acceptance_rate=_rate(accepted, records),
        rejection_rate=_rate(rejected, records),
        deadline=deadline,
        on_time=on_time,
        late=late,
        overdue=overdue,
        max_days_late=max(days_late) if days_late else None,
        calendar_name=calendar.name,
    )


def write_mi(conn: psycopg.Connection[Any], rows: Iterable[MiRow]) -> int:
    """Upsert MI rows by trading date (a recomputation replaces the day's figures).

    Returns:
        Rows written.
    """
    params = [
        (
            r.trading_date,
            r.records,
            r.accepted,
            r.rejected,
            r.pending,
            r.unanswered,
            r.acceptance_rate,
            r.rejection_rate,
            r.deadline,
            r.on_time,
            r.late,
            r.overdue,
            r.max_days_late,
            r.calendar_name,
            r.quarantined,
        )
        for r in rows
    ]
    try:
        ensure_schema(conn)
        with conn.cursor() as cur:
            cur.executemany(
                f"""
                insert into {SCHEMA}.submission_mi (
                    trading_date, records, accepted, rejected, pending, unanswered,
                    acceptance_rate, rejection_rate, deadline, on_time, late, overdue,
                    max_days_late, calendar_name, quarantined
                ) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                on conflict (trading_date) do update set
                    records = excluded.records, accepted = excluded.accepted,
                    rejected = excluded.rejected, pending = excluded.pending,
                    unanswered = excluded.unanswered,
                    acceptance_rate = excluded.acceptance_rate,
                    rejection_rate = excluded.rejection_rate, deadline = excluded.deadline,
                    on_time = excluded.on_time, late = excluded.late,
                    overdue = excluded.overdue, max_days_late = excluded.max_days_late,
                    calendar_name = excluded.calendar_name,
                    quarantined = excluded.quarantined, computed_at = now()
                """,
                params,
            )
    except BaseException:
        conn.rollback()
        raise
    conn.commit()
    return len(params)
