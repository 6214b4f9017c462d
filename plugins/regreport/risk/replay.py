"""A 15c3-5 backtest end to end: replay, reconcile, breach report, archive, register, audit.

`run` replays every order landed for a date range (and every landed order with no timestamp,
which is rejected MISSING_TIMESTAMP rather than lost) through the fast engine, writes one row
per order and check to ``regreport.compliance_checks``, and checks that every order came out
once: orders read = accepted + rejected + invalid. `render` writes the breach report (every
rejecting check, CSV) and its summary (counts per check, outcome and reason, CSV) with their
SHA-256 manifests; `pipeline.archive` puts them under Object Lock and `register` records them
and writes each breach to the audit trail.

A replay is identified by its range and rule-set mode, so a rerun replaces its rows and
reproduces the same files byte for byte (nothing new is archived).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from regreport.manifest import build_manifest, write_manifest
from regreport.risk import fast, store
from regreport.risk.codes import Check, Decision, Outcome, Reason
from regreport.risk.rules import day_bounds, from_micros

if TYPE_CHECKING:
    from regreport.config import Settings

log = logging.getLogger(__name__)

REPORT_TYPE = "risk_backtest"
CSV_LAYOUT = "regreport-risk-backtest-csv-1"


class ReplayReconciliationError(RuntimeError):
    """Orders read and orders decided differ: something was lost or counted twice."""


@dataclass
class ReplaySummary:
    """What one replay decided, for the CLI, the DAG's XCom and the audit trail."""

    replay_id: str
    date_from: str
    date_to: str
    ruleset_version: int | None
    include_testing: bool
    orders: int = 0
    accepted: int = 0
    rejected: int = 0
    invalid: int = 0
    breaches: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (XCom, audit)."""
        return asdict(self)


def backtest_range(date_from: str | None, date_to: str | None, today: date) -> tuple[date, date]:
    """The days a backtest replays: the params, or the business day before `today`.

    `today` is the run's date (its logical date, or when it was triggered); an empty
    `date_to` means the `date_from` day alone.
    """
    from regreport.calendar import calendar_from_env

    first = (
        date.fromisoformat(date_from)
        if date_from
        else calendar_from_env().previous_business_day(today)
    )
    last = date.fromisoformat(date_to) if date_to else first
    if last < first:
        raise ValueError(f"date_to {last} is before date_from {first}")
    return first, last


def replay_id(first: date, last: date, ruleset_version: int | None, include_testing: bool) -> str:
    """The replay's stable name: range and rule-set mode."""
    mode = "asrecorded" if ruleset_version is None else f"v{ruleset_version}"
    return f"risk-{first:%Y%m%d}-{last:%Y%m%d}-{mode}{'-testing' if include_testing else ''}"


def run(
    warehouse_dsn: str,
    first: date,
    last: date,
    *,
    ruleset_version: int | None = None,
    include_testing: bool = False,
    run_id: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> ReplaySummary:
    """Replay the landed orders of `first`..`last` (inclusive) and store every decision."""
    if last < first:
        raise ValueError(f"empty range: {first} .. {last}")
    say = progress or log.info
    started = time.perf_counter()
    name = replay_id(first, last, ruleset_version, include_testing)
    summary = ReplaySummary(name, first.isoformat(), last.isoformat(), ruleset_version,
                            include_testing)  # fmt: skip
    reasons: Counter[str] = Counter()
    with psycopg.connect(warehouse_dsn) as conn:
        store.ensure_schema(conn)
        book = store.load_book(
            conn, ruleset_version=ruleset_version, include_testing=include_testing
        )
        conn.execute(f"delete from {store.SCHEMA}.compliance_checks where replay_id = %s", (name,))
        conn.execute(f"delete from {store.SCHEMA}.risk_replays where replay_id = %s", (name,))
        conn.execute(
            f"""insert into {store.SCHEMA}.risk_replays (replay_id, date_from, date_to,
                    ruleset_version, include_testing, engine, orders, accepted, rejected,
                    invalid, breaches, seconds, run_id)
                values (%s, %s, %s, %s, %s, 'fast', 0, 0, 0, 0, 0, 0, %s)""",
            (name, first, last, ruleset_version, include_testing, run_id),
        )
        for day in store.days(first, last):
            orders, universe = store.load_day(conn, day, book, with_undated=day == first)
            if not len(orders):
                continue
            seq = 0
            for chunk in fast.replay_day(orders, universe):
                store.copy_chunk(conn, name, day, seq, chunk, book.versions)
                seq += len(chunk)
                decisions = Counter(chunk.decision.tolist())
                summary.accepted += decisions[Decision.ACCEPT]
                summary.rejected += decisions[Decision.REJECT]
                summary.invalid += decisions[Decision.INVALID]
                rejecting = chunk.outcome == Outcome.REJECT
                summary.breaches += int(rejecting.sum())
                for n, c in zip(*rejecting.nonzero(), strict=True):
                    reasons[f"{Check(int(c)).name}:{Reason(int(chunk.reason[n, c])).name}"] += 1
            summary.orders += len(orders)
            say(f"risk replay {day}: {len(orders):,} orders, {seq:,} decided")
        summary.by_reason = dict(sorted(reasons.items()))
        _reconcile(conn, summary, first, last)
        summary.seconds = time.perf_counter() - started
        conn.execute(
            f"""update {store.SCHEMA}.risk_replays set orders = %s, accepted = %s, rejected = %s,
                    invalid = %s, breaches = %s, seconds = %s where replay_id = %s""",
            (summary.orders, summary.accepted, summary.rejected, summary.invalid,
             summary.breaches, summary.seconds, name),
        )  # fmt: skip
        conn.commit()
    say(
        f"risk replay {name}: {summary.orders:,} orders, {summary.accepted:,} accepted, "
        f"{summary.rejected:,} rejected, {summary.invalid:,} invalid input, "
        f"{summary.breaches:,} breaches in {summary.seconds:.1f} s"
    )
    return summary


def _reconcile(
    conn: psycopg.Connection[Any], summary: ReplaySummary, first: date, last: date
) -> None:
    start, _ = day_bounds(first)
    _, end = day_bounds(last)
    landed = conn.execute(
        """select count(*) from raw.qsuite_orders
           where (created_at >= %s and created_at < %s) or created_at is null""",
        (from_micros(start), from_micros(end)),
    ).fetchone()
    stored = conn.execute(
        f"""select count(distinct (replay_date, seq)) from {store.SCHEMA}.compliance_checks
            where replay_id = %s""",
        (summary.replay_id,),
    ).fetchone()
    decided = summary.accepted + summary.rejected + summary.invalid
    counts = (
        int(landed[0]) if landed else 0,
        summary.orders,
        decided,
        int(stored[0]) if stored else 0,
    )
    if len(set(counts)) != 1:
        raise ReplayReconciliationError(
            f"{summary.replay_id}: orders landed {counts[0]:,}, read {counts[1]:,}, "
            f"decided {counts[2]:,} (accepted + rejected + invalid), stored {counts[3]:,}"
        )


# -- the breach report --------------------------------------------------------------------------


def render(settings: Settings, warehouse_dsn: str, name: str) -> dict[str, Any]:
    """Write the breach report and its summary (CSV) with manifests; the `built` document."""
    from regreport.periodic import write_csv

    with psycopg.connect(warehouse_dsn) as conn:
        row = conn.execute(
            f"select date_from, date_to from {store.SCHEMA}.risk_replays where replay_id = %s",
            (name,),
        ).fetchone()
        if row is None:
            raise LookupError(f"no replay {name}")
        first, last = row
        out_dir = settings.output_dir / REPORT_TYPE / f"{first:%Y/%m/%d}"
        out_dir.mkdir(parents=True, exist_ok=True)
        # The replay reads the landed source, not the dbt models: the firm from raw too.
        firm = conn.execute("select lei from raw.qsuite_firm order by firm_id limit 1").fetchone()
        stem = f"RISK_{str(firm[0]).strip() if firm else 'FIRM'}_{name}"
        table = sql.Identifier(store.SCHEMA, "compliance_checks")
        queries = {
            "breaches": sql.SQL(
                """select replay_date, seq, order_id, decision, check_id, reason, threshold,
                          observed, rule_id, rule_version, reference_price, reference_ts
                   from {} where replay_id = {} and outcome = 'REJECT'
                   order by replay_date, seq, check_id"""
            ).format(table, sql.Literal(name)),
            "summary": sql.SQL(
                """select check_id, outcome, reason, count(*) as checks,
                          count(distinct (replay_date, seq)) as orders
                   from {} where replay_id = {} group by 1, 2, 3 order by 1, 2, 3"""
            ).format(table, sql.Literal(name)),
        }
        start, _ = day_bounds(first)
        _, end = day_bounds(last)
        landed_by = conn.execute(
            """select coalesce(string_agg(distinct _extract_run_id, ','), '')
               from raw.qsuite_orders
               where (created_at >= %s and created_at < %s) or created_at is null""",
            (from_micros(start), from_micros(end)),
        ).fetchone()
        # The replay reads the landed source (no dbt model, no GX suite): say so.
        run_ids = {"extract": (landed_by[0] if landed_by else "") or "none", "replay": name,
                   "dbt": "none: the replay reads raw", "gx": "none: no suite"}  # fmt: skip
        outputs = []
        for part, query in queries.items():
            path = out_dir / f"{stem}_{part}.csv"
            with conn.transaction():
                conn.execute("set local timezone = 'UTC'")
                rows = write_csv(conn, query, path)
            outputs.append((path, rows))
    files = []
    for part, (path, rows) in enumerate(outputs, start=1):
        manifest = build_manifest(
            report_type=REPORT_TYPE, schema_version=CSV_LAYOUT, period_start=first,
            period_end=last, report_file=path, record_count=rows, run_ids=run_ids,
            counts={"rows": rows},
        )  # fmt: skip
        manifest_path = path.with_name(path.name + ".manifest.json")
        write_manifest(manifest_path, manifest)
        files.append({"part": part, "file_name": path.name, "report_path": str(path),
                      "manifest_path": str(manifest_path), "sha256": manifest["sha256"],
                      "bytes": manifest["bytes"], "record_count": rows,
                      "manifest": manifest})  # fmt: skip
    return {
        "report_type": REPORT_TYPE,
        "replay_id": name,
        "period_start": first.isoformat(),
        "period_end": last.isoformat(),
        "files": files,
        "record_count": sum(f["record_count"] for f in files),
        "alerts": [],
    }


def register(
    warehouse_dsn: str, built: dict[str, Any], archived: dict[str, Any], run_id: str | None
) -> dict[str, Any]:
    """Register the archived files, then write every breach to the audit trail (one transaction)."""
    from regreport import audit, periodic

    registered = periodic.register(warehouse_dsn, built, archived, run_id)
    with psycopg.connect(warehouse_dsn) as conn:
        done = conn.execute(
            f"""select count(*) from {audit.TABLE} where action = 'risk.breach'
                and after ->> 'replay_id' = %s""",
            (built["replay_id"],),
        ).fetchone()
        breaches = list(store.breach_rows(conn, built["replay_id"]))
        if done and int(done[0]) == 0:  # a rerun does not log the same breaches twice
            for day, seq, order_id, decision, check, reason, threshold, observed, rule_id, \
                    rule_version, ref_price, ref_ts in breaches:  # fmt: skip
                audit.record(
                    conn, action="risk.breach", actor=audit.actor(), object_type="order",
                    object_id=str(order_id), run_id=run_id,
                    after={"replay_id": built["replay_id"], "replay_date": day.isoformat(),
                           "seq": seq, "decision": decision, "check": check, "reason": reason,
                           "threshold": threshold, "observed": observed, "rule_id": rule_id,
                           "rule_version": rule_version, "reference_price": ref_price,
                           "reference_ts": None if ref_ts is None else ref_ts.isoformat()},
                )  # fmt: skip
        conn.commit()
    return {**registered, "breaches_logged": len(breaches) if done and not int(done[0]) else 0}


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """A few lines for the CLI and the task log."""
    lines = [
        f"replay    {summary['replay_id']}",
        f"orders    {summary['orders']:,}: {summary['accepted']:,} accepted, "
        f"{summary['rejected']:,} rejected, {summary['invalid']:,} invalid input",
        f"breaches  {summary['breaches']:,} rejecting checks",
    ]
    lines += [f"  {count:>9,}  {key}" for key, count in summary["by_reason"].items()]
    return lines
