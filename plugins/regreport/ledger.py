"""The transaction ledger: every version of every transaction the firm has reported.

MiFIR reports are not overwritten: a reported transaction is corrected by cancelling it (`Tx/Cxl`
with its TxId) and reporting it again (`Tx/New`, the same TxId, reusable once cancelled per
ESMA/2016/1521 section 4). The ledger keeps one row per record sent, in file order, linked to
the file (`report_registry`) it went out in, to the previous version of the same transaction
(`supersedes_entry_id`) and to its first report (`original_entry_id`). Nothing is ever updated
or deleted, so "what did we tell the regulator about execution X, and when" is one query.

What to send for a run is a diff between what the report table says now and what the ledger
says was last sent (`plan`). A transaction's content is identified by `record_sha256`, a hash of
its report row computed in PostgreSQL from the row's canonical `jsonb` text (lineage columns
excluded), so a diff over a day's records costs one query rather than a render.

Personal data: the ledger holds ids and hashes only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    import psycopg

SCHEMA = "regreport"
NEW = "NEWT"
CANCEL = "CANC"

#: Report-row columns that are not content: lineage a rerun changes, and `leg`, which only
#: restates what TxId and capacity say. The regulator never sees them, so they must not make an
#: unchanged transaction look amended.
LINEAGE_COLUMNS = ("extract_run_id", "leg")

DDL = f"""
create table if not exists {SCHEMA}.transaction_ledger (
    entry_id            bigint generated always as identity primary key,
    report_id           bigint not null references {SCHEMA}.report_registry (report_id),
    position            integer not null,
    tx_id               text not null,
    execution_id        bigint,
    action              text not null check (action in ('{NEW}', '{CANCEL}')),
    record_sha256       char(64),
    original_entry_id   bigint references {SCHEMA}.transaction_ledger (entry_id),
    supersedes_entry_id bigint references {SCHEMA}.transaction_ledger (entry_id),
    created_at          timestamptz not null default now(),
    unique (report_id, position),
    check ((action = '{NEW}') = (record_sha256 is not null))
);
create index if not exists transaction_ledger_tx_idx
    on {SCHEMA}.transaction_ledger (tx_id, entry_id);
create index if not exists transaction_ledger_execution_idx
    on {SCHEMA}.transaction_ledger (execution_id);
"""


def record_hash_sql(alias: str) -> str:
    """SQL expression: hex SHA-256 of a report row's content (canonical jsonb text)."""
    minus = "".join(f" - '{col}'" for col in LINEAGE_COLUMNS)
    return f"encode(sha256(convert_to((to_jsonb({alias}){minus})::text, 'UTF8')), 'hex')"


@dataclass(frozen=True)
class LedgerEntry:
    """One record as sent: what the sidecar of a rendered file lists, in file order."""

    tx_id: str
    execution_id: int | None
    action: str
    record_sha256: str | None


@dataclass
class Plan:
    """What a run sends: cancellations first (in TxId order), then new reports.

    Attributes:
        cancels: (tx_id, execution_id) of live transactions to cancel.
        news: tx_ids of report rows to send as `New` (for amendments, after their `Cxl`).
        unchanged: Report rows already reported with the same content.
        amended: tx_ids that are both cancelled and re-reported.
        resubmitted: tx_ids whose last report the regulator rejected, sent again.
        held_back: tx_ids whose last report was rejected and which have not changed since:
            sending them again would only be rejected again, so they wait for a source fix
            (or an explicit `resend_unchanged`, e.g. once the regulator's reference data has
            the instrument).
        held: (tx_id, execution_id) of live transactions whose execution is still reportable
            but has no report row now (its new version fails a blocking rule and sits in the
            quarantine): an amendment held. The regulator keeps the last version sent; nothing
            is cancelled until the source is fixed (then `Cxl` + `New`) or withdraws the
            execution itself (then `Cxl`).
    """

    cancels: list[tuple[str, int | None]] = field(default_factory=list)
    news: set[str] = field(default_factory=set)
    unchanged: int = 0
    amended: set[str] = field(default_factory=set)
    resubmitted: set[str] = field(default_factory=set)
    held_back: list[str] = field(default_factory=list)
    held: list[tuple[str, int | None]] = field(default_factory=list)

    @property
    def record_count(self) -> int:
        """Records the submission will hold."""
        return len(self.cancels) + len(self.news)


def ensure_schema(conn: psycopg.Connection[Any]) -> None:
    """Create the ledger table if missing (after the registry, which it references)."""
    from regreport import ddl

    ddl.ensure(conn, "ledger", DDL)


#: An entry the regulator refused: its record is rejected, or its whole file is (file-level
#: RJCT/CRPT/INCF without record statuses). The regulator does not hold such a record.
#: auth.031 names a record by TxId only, so when a file holds a Cxl and a New of one TxId (an
#: amendment) their statuses are one: a rejection is the Cxl's only if it says so (CON-024,
#: nothing to cancel) and the New's otherwise (the regulator applies the Cxl, then checks the
#: New). A Cxl alone in its file takes the record's status as it is.
_REJECTED_SQL = f"""(
    (rs.status is null and coalesce(s.status, '') = 'REJECTED')
    or (coalesce(rs.status = 'RJCT', false) and case
        when l.action = '{CANCEL}' then
            rs.rules @> '[{{"id": "CON-024"}}]'
            or not exists (
                select 1 from {SCHEMA}.transaction_ledger as pair
                where pair.report_id = l.report_id and pair.tx_id = l.tx_id
                  and pair.action = '{NEW}')
        else jsonb_array_length(rs.rules) = 0 or exists (
            select 1 from jsonb_array_elements(rs.rules) as rule
            where rule ->> 'id' <> 'CON-024')
        end)
)"""


def plan(
    conn: psycopg.Connection[Any],
    *,
    report_table: str,
    scope_sql: str,
    scope_params: dict[str, Any],
    withdrawn_sql: str,
    exclude_report_ids: Sequence[int] = (),
    only_rejected: bool = False,
    resend_unchanged: bool = False,
) -> Plan:
    """Diff the report rows of a run's scope against what the regulator holds.

    The regulator holds, per TxId, the latest ledger entry it has not rejected (accepted,
    pending or not yet answered all count: the record went out). Rejected entries stay in the
    ledger, but a rejected `New` is not something to cancel: a corrected record is sent again
    as a `New`, linked to the rejected one (`supersedes_entry_id`).

    Args:
        conn: Warehouse connection (the ledger and the status tables must exist).
        report_table: The report table, e.g. "reports.rpt_mifir_rts22_transactions".
        scope_sql: A query returning the `execution_id`s of the run's scope (executions of the
            period and corrections of earlier ones).
        scope_params: Its parameters.
        withdrawn_sql: A query returning the `execution_id`s the source itself withdrew
            (cancelled, busted, or made not reportable by a deliberate change); it may use
            the scope's parameters. Only these are cancelled when their report row is gone: a
            live transaction of any other execution without a report row failed a blocking
            rule, and is held (`Plan.held`) rather than withdrawn from the regulator.
        exclude_report_ids: Files whose entries are ignored: a rerun compares against the
            ledger as it was before the period's last submission, to reproduce it exactly.
        only_rejected: Plan only the transactions whose last report was rejected (a
            resubmission run), leaving every other change for a normal run.
        resend_unchanged: Also resend rejected records that have not changed since.

    Returns:
        The cancellations and new reports to send.
    """
    params = dict(scope_params, exclude=list(exclude_report_ids))
    rows = conn.execute(
        f"""
        with scope as ({scope_sql}),
        entries as (
            select l.entry_id, l.tx_id, l.execution_id, l.action, l.record_sha256,
                   {_REJECTED_SQL} as rejected
            from {SCHEMA}.transaction_ledger as l
            left join {SCHEMA}.record_status_current as rs
                on rs.report_id = l.report_id and rs.tx_id = l.tx_id
            left join {SCHEMA}.submissions as s on s.report_id = l.report_id
            where l.execution_id in (select execution_id from scope)
              and not (l.report_id = any(%(exclude)s::bigint[]))
        ),
        live as (
            select distinct on (tx_id) tx_id, execution_id, action, record_sha256
            from entries
            where not rejected
            order by tx_id, entry_id desc
        ),
        last_entry as (
            select distinct on (tx_id) tx_id, execution_id, action, record_sha256, rejected
            from entries
            order by tx_id, entry_id desc
        ),
        current as (
            select r.tx_id, r.execution_id, {record_hash_sql("r")} as record_sha256
            from {report_table} as r
            where r.execution_id in (select execution_id from scope)
        ),
        withdrawn as ({withdrawn_sql})
        select
            coalesce(c.tx_id, le.tx_id) as tx_id,
            coalesce(c.execution_id, le.execution_id) as execution_id,
            l.action as live_action,
            l.record_sha256 as live_sha256,
            c.record_sha256 as current_sha256,
            coalesce(le.rejected, false) as last_rejected,
            le.action as last_action,
            le.record_sha256 as last_sha256,
            coalesce(c.execution_id, le.execution_id) in (
                select execution_id from withdrawn
            ) as withdrawn
        from current as c
        full join last_entry as le on c.tx_id = le.tx_id
        left join live as l on l.tx_id = coalesce(c.tx_id, le.tx_id)
        order by 1
        """,
        params,
    ).fetchall()
    result = Plan()
    for tx_id, execution_id, live_action, live_sha, current_sha, *last in rows:
        last_rejected, last_action, last_sha, withdrawn = last
        if only_rejected and not last_rejected:
            continue
        is_live = live_action == NEW
        if current_sha is None:
            sent = is_live and _plan_absent(
                result,
                tx_id,
                execution_id,
                withdrawn=withdrawn,
                refused_cancel=last_rejected and last_action == CANCEL and not resend_unchanged,
            )
            if not sent:
                continue
        elif is_live and live_sha == current_sha:
            result.unchanged += 1
            continue
        elif last_rejected and last_sha == current_sha and not resend_unchanged:
            result.held_back.append(tx_id)
            continue
        else:
            if is_live:
                result.cancels.append((tx_id, execution_id))
                result.amended.add(tx_id)
            result.news.add(tx_id)
        if last_rejected:
            result.resubmitted.add(tx_id)
    return result


def _plan_absent(
    result: Plan, tx_id: str, execution_id: int | None, *, withdrawn: bool, refused_cancel: bool
) -> bool:
    """A live transaction without a report row: cancel, hold or hold back; True if cancelled."""
    if not withdrawn:
        # Quarantined, not withdrawn: a bad source value must not cancel what the regulator
        # accepted. The last version sent stands until the source is fixed.
        result.held.append((tx_id, execution_id))
        return False
    if refused_cancel:
        result.held_back.append(tx_id)  # the same Cxl was refused: do not repeat it
        return False
    result.cancels.append((tx_id, execution_id))  # the source withdrew it: cancel
    return True


def record(conn: psycopg.Connection[Any], report_id: int, entries: Iterable[LedgerEntry]) -> int:
    """Append a file's records to the ledger, in file order, linked to their history.

    Returns:
        The number of entries written.
    """
    with conn.cursor() as cur:
        cur.execute(
            "create temp table ledger_in (position integer, tx_id text, execution_id bigint,"
            " action text, record_sha256 text)"
        )
        with cur.copy(
            "copy ledger_in (position, tx_id, execution_id, action, record_sha256) from stdin"
        ) as copy:
            for position, entry in enumerate(entries, start=1):
                copy.write_row(
                    (position, entry.tx_id, entry.execution_id, entry.action, entry.record_sha256)
                )
        # One statement per position would be slow; one per pass is enough because a file
        # holds a transaction at most twice (Cxl, then New) and Cxls precede News.
        written = 0
        for action in (CANCEL, NEW):
            cur.execute(
                f"""
                insert into {SCHEMA}.transaction_ledger (
                    report_id, position, tx_id, execution_id, action, record_sha256,
                    original_entry_id, supersedes_entry_id
                )
                select %(report_id)s, i.position, i.tx_id, i.execution_id, i.action,
                       i.record_sha256,
                       coalesce(prev.original_entry_id, prev.entry_id),
                       prev.entry_id
                from ledger_in as i
                left join lateral (
                    select l.entry_id, l.original_entry_id
                    from {SCHEMA}.transaction_ledger as l
                    where l.tx_id = i.tx_id
                    order by l.entry_id desc
                    limit 1
                ) as prev on true
                where i.action = %(action)s
                order by i.position
                """,
                {"report_id": report_id, "action": action},
            )
            written += cur.rowcount
        cur.execute("drop table if exists ledger_in")
    return written


def history(conn: psycopg.Connection[Any], tx_id: str) -> list[dict[str, Any]]:
    """Every ledger entry of a transaction with the file it went out in, oldest first."""
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"""
            select l.entry_id, l.action, l.record_sha256, l.original_entry_id,
                   l.supersedes_entry_id, r.report_id, r.file_name, r.period_start,
                   r.submission_seq, l.created_at
            from {SCHEMA}.transaction_ledger as l
            join {SCHEMA}.report_registry as r using (report_id)
            where l.tx_id = %s
            order by l.entry_id
            """,
            (tx_id,),
        )
        return list(cur.fetchall())
