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
    """

    cancels: list[tuple[str, int | None]] = field(default_factory=list)
    news: set[str] = field(default_factory=set)
    unchanged: int = 0
    amended: set[str] = field(default_factory=set)

    @property
    def record_count(self) -> int:
        """Records the submission will hold."""
        return len(self.cancels) + len(self.news)


def ensure_schema(conn: psycopg.Connection[Any]) -> None:
    """Create the ledger table if missing (after the registry, which it references)."""
    conn.execute(DDL)


def plan(
    conn: psycopg.Connection[Any],
    *,
    report_table: str,
    scope_sql: str,
    scope_params: dict[str, Any],
    exclude_report_ids: Sequence[int] = (),
) -> Plan:
    """Diff the report rows of a run's scope against the ledger.

    Args:
        conn: Warehouse connection (the ledger must exist: `ensure_schema`).
        report_table: The report table, e.g. "reports.rpt_mifir_rts22_transactions".
        scope_sql: A query returning the `execution_id`s of the run's scope (executions of the
            period and corrections of earlier ones).
        scope_params: Its parameters.
        exclude_report_ids: Files whose entries are ignored: a rerun compares against the
            ledger as it was before the period's last submission, to reproduce it exactly.

    Returns:
        The cancellations and new reports to send.
    """
    params = dict(scope_params, exclude=list(exclude_report_ids))
    rows = conn.execute(
        f"""
        with scope as ({scope_sql}),
        live as (
            select distinct on (l.tx_id) l.tx_id, l.execution_id, l.action, l.record_sha256
            from {SCHEMA}.transaction_ledger as l
            where l.execution_id in (select execution_id from scope)
              and not (l.report_id = any(%(exclude)s::bigint[]))
            order by l.tx_id, l.entry_id desc
        ),
        current as (
            select r.tx_id, r.execution_id, {record_hash_sql("r")} as record_sha256
            from {report_table} as r
            where r.execution_id in (select execution_id from scope)
        )
        select
            coalesce(c.tx_id, l.tx_id) as tx_id,
            coalesce(c.execution_id, l.execution_id) as execution_id,
            l.action as live_action,
            l.record_sha256 as live_sha256,
            c.record_sha256 as current_sha256
        from current as c
        full join live as l on c.tx_id = l.tx_id
        order by 1
        """,
        params,
    ).fetchall()
    result = Plan()
    for tx_id, execution_id, live_action, live_sha, current_sha in rows:
        is_live = live_action == NEW
        if current_sha is None:
            if is_live:  # reported before, no longer reportable: cancel it
                result.cancels.append((tx_id, execution_id))
        elif not is_live:
            result.news.add(tx_id)
        elif live_sha == current_sha:
            result.unchanged += 1
        else:
            result.cancels.append((tx_id, execution_id))
            result.news.add(tx_id)
            result.amended.add(tx_id)
    return result


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
