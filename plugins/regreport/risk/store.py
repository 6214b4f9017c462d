"""The warehouse side of the risk replay: the rule book's tables, a day's inputs, the results.

Tables (schema ``regreport``, created by `regreport db setup`):

- ``regulatory_entities``: who a rule answers to (the firm, a regulator, an exchange);
- ``risk_rule_versions``: every version of every rule, append only, with who changed it, when
  and why; ``ruleset_version`` numbers the changes 1, 2, 3 ... across the whole book;
- ``risk_replays``: one row per replay (its range, rule-set mode, counts, engine and timing);
- ``compliance_checks``: one row per order and check of a replay, with the decision, the
  reason code, the threshold, the observed value, the binding rule and the reference price.

A day's inputs are read from the landed `raw` tables (the extract's copy of the source): raw has
no constraints, so bad rows (a missing quantity, an unknown account) reach the replay and get
their reason code there instead of vanishing in a join.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import psycopg

from regreport import ddl
from regreport.risk.codes import Check, Decision, Outcome, Reason
from regreport.risk.fast import MISSING_TS, OrderArrays, ResultChunk
from regreport.risk.model import Instrument, Quotes, Universe
from regreport.risk.rules import (
    RuleBook,
    RuleStatus,
    RuleType,
    RuleVersion,
    day_bounds,
    from_micros,
    micros,
    params_json,
)

SCHEMA = "regreport"
DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {SCHEMA}.regulatory_entities (
    entity_id     text primary key,
    name          text not null,
    lei           char(20),
    jurisdiction  text,
    regulator     text
);
create table if not exists {SCHEMA}.risk_rule_versions (
    rule_id          text not null,
    version          integer not null check (version >= 1),
    ruleset_version  bigint not null unique,
    entity_id        text not null references {SCHEMA}.regulatory_entities (entity_id),
    rule_type        text not null,
    status           text not null check (status in ('ACTIVE', 'INACTIVE', 'TESTING', 'PENDING')),
    account_id       text,
    instrument_id    integer,
    threshold        numeric(24, 6),
    window_seconds   numeric(12, 6),
    params           jsonb not null default '{{}}',
    effective_from   timestamptz not null,
    expires_at       timestamptz,
    changed_by       text not null,
    changed_at       timestamptz not null,
    change_reason    text not null default '',
    primary key (rule_id, version),
    check (expires_at is null or expires_at > effective_from)
);
create table if not exists {SCHEMA}.risk_replays (
    replay_id        text primary key,
    date_from        date not null,
    date_to          date not null,
    ruleset_version  bigint,
    include_testing  boolean not null,
    engine           text not null,
    orders           bigint not null,
    accepted         bigint not null,
    rejected         bigint not null,
    invalid          bigint not null,
    breaches         bigint not null,
    seconds          double precision not null,
    run_id           text,
    replayed_at      timestamptz not null default now()
);
create table if not exists {SCHEMA}.compliance_checks (
    replay_id        text not null references {SCHEMA}.risk_replays (replay_id),
    replay_date      date not null,
    seq              integer not null,
    order_id         bigint not null,
    decision         text not null,
    check_id         text not null,
    outcome          text not null,
    reason           text not null,
    threshold        double precision,
    observed         double precision,
    rule_id          text,
    rule_version     integer,
    reference_price  double precision,
    reference_ts     timestamptz,
    primary key (replay_id, replay_date, seq, check_id)
);
create index if not exists compliance_checks_order_idx on {SCHEMA}.compliance_checks (order_id);
"""
#: What a generated firm starts with besides the source's per-account limits.
FIRM_ENTITY = ("FIRM", "The firm's own pre-trade controls", None, "US", "SEC")
_CHANGED_AT = datetime(2023, 1, 2, tzinfo=UTC)
DEFAULT_RULES: tuple[dict[str, Any], ...] = (
    {"rule_id": "FIRM-HOURS", "rule_type": "TRADING_HOURS",
     "params": {"tz": "UTC", "open": "08:00", "close": "16:30", "calendar": "TARGET",
                "half_days": ["12-24", "12-31"], "half_day_close": "12:00"}},
    {"rule_id": "FIRM-MINQTY", "rule_type": "MIN_ORDER_QUANTITY", "threshold": 1},
    {"rule_id": "FIRM-DUP", "rule_type": "DUPLICATE_WINDOW", "threshold": 1},
    {"rule_id": "FIRM-RATE", "rule_type": "MESSAGE_RATE", "threshold": 20, "window_seconds": 1},
    {"rule_id": "FIRM-POSITION", "rule_type": "MAX_POSITION_QUANTITY", "threshold": 2_000_000},
)  # fmt: skip
#: Source limit types (qsuite.compliance_rules) and the rule type each becomes.
SOURCE_TYPES = {
    "MAX_ORDER_QUANTITY": RuleType.MAX_ORDER_QUANTITY,
    "MAX_ORDER_NOTIONAL": RuleType.MAX_ORDER_NOTIONAL,
    "MAX_DAILY_NOTIONAL": RuleType.CREDIT_LIMIT,
    "PRICE_COLLAR_PCT": RuleType.PRICE_COLLAR_PCT,
}


def ensure_schema(conn: psycopg.Connection[Any]) -> None:
    """Create or upgrade the risk tables (see `regreport.ddl.ensure`)."""
    ddl.ensure(conn, "risk", DDL)


# -- the rule book ------------------------------------------------------------------------------


def _version(row: Mapping[str, Any]) -> RuleVersion:
    def num(value: Any) -> float | None:
        return None if value is None else float(value)

    return RuleVersion(
        rule_id=row["rule_id"],
        version=int(row["version"]),
        ruleset_version=int(row["ruleset_version"]),
        rule_type=RuleType(row["rule_type"]),
        status=RuleStatus(row["status"]),
        effective_from_us=micros(row["effective_from"]),
        expires_us=None if row["expires_at"] is None else micros(row["expires_at"]),
        account_id=row["account_id"],
        instrument_id=row["instrument_id"],
        threshold=num(row["threshold"]),
        window_seconds=num(row["window_seconds"]),
        params=row["params"] or {},
        entity_id=row["entity_id"],
        changed_by=row["changed_by"],
        changed_us=micros(row["changed_at"]),
        change_reason=row["change_reason"],
    )


def load_versions(conn: psycopg.Connection[Any]) -> list[RuleVersion]:
    """Every recorded rule version, by rule id and version."""
    ensure_schema(conn)
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(f"select * from {SCHEMA}.risk_rule_versions order by rule_id, version")
        return [_version(row) for row in cur.fetchall()]


def load_book(
    conn: psycopg.Connection[Any], *, ruleset_version: int | None, include_testing: bool
) -> RuleBook:
    """The rule book in a replay mode; a rule-set version that does not exist is an error."""
    versions = load_versions(conn)
    latest = max((v.ruleset_version for v in versions), default=0)
    if ruleset_version is not None and not 1 <= ruleset_version <= latest:
        raise ValueError(f"rule-set version {ruleset_version} does not exist (latest: {latest})")
    return RuleBook(versions, ruleset_version=ruleset_version, include_testing=include_testing)


def record_change(
    conn: psycopg.Connection[Any],
    *,
    rule_id: str,
    changed_by: str,
    change_reason: str,
    changed_at: datetime | None = None,
    **fields: Any,
) -> RuleVersion:
    """Record a new version of `rule_id`: the previous version's fields updated with `fields`.

    A new rule needs at least rule_type and effective_from. The change is validated as a
    `RuleVersion` before it is written, and numbered with the next rule-set version.
    """
    ensure_schema(conn)
    conn.execute(f"lock table {SCHEMA}.risk_rule_versions in share row exclusive mode")
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(
            f"""select * from {SCHEMA}.risk_rule_versions where rule_id = %s
                order by version desc limit 1""",
            (rule_id,),
        )
        previous = cur.fetchone()
        cur.execute(
            f"select coalesce(max(ruleset_version), 0) as n from {SCHEMA}.risk_rule_versions"
        )
        number = int(cur.fetchone()["n"]) + 1  # type: ignore[index]
    row: dict[str, Any] = dict(previous) if previous else {
        "entity_id": "FIRM", "status": "ACTIVE", "account_id": None, "instrument_id": None,
        "threshold": None, "window_seconds": None, "params": {}, "expires_at": None,
    }  # fmt: skip
    row.update(fields)
    row.update(
        rule_id=rule_id,
        version=(int(previous["version"]) + 1) if previous else 1,
        ruleset_version=number,
        changed_by=changed_by,
        changed_at=changed_at or datetime.now(tz=UTC),
        change_reason=change_reason,
    )
    if "rule_type" not in row or "effective_from" not in row:
        raise ValueError(f"new rule {rule_id}: give at least rule_type and effective_from")
    version = _version(row)  # validates
    conn.execute(
        f"""insert into {SCHEMA}.regulatory_entities (entity_id, name) values (%s, %s)
            on conflict do nothing""",
        (row["entity_id"], row["entity_id"]),
    )
    conn.execute(
        f"""insert into {SCHEMA}.risk_rule_versions (rule_id, version, ruleset_version,
                entity_id, rule_type, status, account_id, instrument_id, threshold,
                window_seconds, params, effective_from, expires_at, changed_by, changed_at,
                change_reason)
            values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s)""",
        (
            version.rule_id, version.version, number, version.entity_id, version.rule_type.value,
            version.status.value, version.account_id, version.instrument_id, row["threshold"],
            row["window_seconds"], params_json(version.params), row["effective_from"],
            row["expires_at"], changed_by, row["changed_at"], change_reason,
        ),
    )  # fmt: skip
    return version


def seed(conn: psycopg.Connection[Any], changed_by: str = "regreport-seed") -> int:
    """Start an empty rule book from the landed source limits and the firm defaults.

    Does nothing when the book already has versions (rules are then changed one by one with
    `record_change`). Returns the number of versions written.
    """
    ensure_schema(conn)
    if conn.execute(f"select count(*) from {SCHEMA}.risk_rule_versions").fetchone()[0]:  # type: ignore[index]
        return 0
    conn.execute(
        f"""insert into {SCHEMA}.regulatory_entities values (%s, %s, %s, %s, %s)
            on conflict do nothing""",
        FIRM_ENTITY,
    )
    written = 0
    for rule in DEFAULT_RULES:
        record_change(conn, changed_by=changed_by, change_reason="firm default",
                      changed_at=_CHANGED_AT, effective_from=_CHANGED_AT, **rule)  # fmt: skip
        written += 1
    landed = conn.execute("select to_regclass('raw.qsuite_compliance_rules')").fetchone()
    if landed and landed[0]:
        rows = conn.execute(
            """select rule_id, account_id, rule_type, threshold, valid_from
               from raw.qsuite_compliance_rules order by rule_id, valid_from"""
        ).fetchall()
        for rule_id, account_id, rule_type, threshold, valid_from in rows:
            if rule_type not in SOURCE_TYPES:
                continue
            record_change(
                conn, rule_id=rule_id, changed_by=changed_by,
                change_reason=f"from qsuite.compliance_rules ({rule_type})",
                changed_at=valid_from, effective_from=valid_from,
                rule_type=SOURCE_TYPES[rule_type].value, account_id=account_id,
                threshold=threshold,
            )  # fmt: skip
            written += 1
    return written


# -- a day's inputs -----------------------------------------------------------------------------

_SIDE = {"BUY": 1, "SELL": -1}
_TYPE = {"LIMIT": 1, "MARKET": 2}


def load_day(
    conn: psycopg.Connection[Any], day: date, book: RuleBook, *, with_undated: bool = False
) -> tuple[OrderArrays, Universe]:
    """The landed orders of `day` (and, with `with_undated`, every order with no timestamp).

    Accounts and instruments are the landed reference data; quotes the day's NBBO (mid
    prices); value factors the day's EUR rate of the price currency (or the latest before),
    / 100 for prices in percent of nominal, x the contract multiplier otherwise.
    """
    start, end = day_bounds(day)
    accounts = [r[0] for r in conn.execute("select account_id from raw.qsuite_accounts")]
    instruments: dict[int, Instrument] = {}
    for instrument_id, mic, _currency, notation, multiplier, rate in conn.execute(
        """select i.instrument_id, i.primary_mic, i.currency, i.price_notation,
                  i.price_multiplier,
                  case when i.currency = 'EUR' then 1 else (
                      select f.eur_per_unit from raw.qsuite_fx_rates as f
                      where f.currency = i.currency and f.rate_date <= %s
                      order by f.rate_date desc limit 1) end
           from raw.qsuite_instruments as i""",
        (day,),
    ):
        if rate is None:  # no rate: notionals unknown, like a missing price
            factor = math.nan
        else:
            scale = Decimal("0.01") if notation == "PERC" else (multiplier or Decimal(1))
            factor = float(rate * scale)
        instruments[int(instrument_id)] = Instrument(int(instrument_id), str(mic).strip(), factor)
    quotes: dict[int, tuple[list[int], list[float]]] = {}
    for instrument_id, quoted_at, bid, ask in conn.execute(
        """select instrument_id, quoted_at, bid_price, ask_price from raw.qsuite_quotes
           where quoted_at >= %s and quoted_at < %s order by instrument_id, quoted_at""",
        (from_micros(start), from_micros(end)),
    ):
        times, mids = quotes.setdefault(int(instrument_id), ([], []))
        times.append(micros(quoted_at))
        mids.append(float((bid + ask) / 2))
    universe = Universe(
        day, accounts, instruments, {i: Quotes(t, m) for i, (t, m) in quotes.items()}, book
    )
    undated = " or created_at is null" if with_undated else ""
    rows = conn.execute(
        f"""select order_id, created_at, account_id, instrument_id, side, order_type,
                   quantity, limit_price
            from raw.qsuite_orders
            where (created_at >= %s and created_at < %s){undated}""",
        (from_micros(start), from_micros(end)),
    ).fetchall()
    instrument_index = {i: k for k, i in enumerate(universe.instrument_ids)}
    n = len(rows)
    arrays = OrderArrays(
        np.fromiter((r[0] for r in rows), dtype=np.int64, count=n),
        np.fromiter((MISSING_TS if r[1] is None else micros(r[1]) for r in rows), np.int64, n),
        np.fromiter((universe.account_index.get(r[2], -1) for r in rows), np.int32, n),
        np.fromiter((instrument_index.get(r[3], -1) for r in rows), np.int32, n),
        np.fromiter((_SIDE.get(r[4], 0) for r in rows), np.int8, n),
        np.fromiter((_TYPE.get(r[5], 0) for r in rows), np.int8, n),
        np.fromiter((math.nan if r[6] is None else float(r[6]) for r in rows), np.float64, n),
        np.fromiter((math.nan if r[7] is None else float(r[7]) for r in rows), np.float64, n),
    )
    return arrays, universe


# -- results ------------------------------------------------------------------------------------

_CHECK = [c.name for c in Check]
_OUTCOME = [o.name for o in Outcome]
_DECISION = [d.name for d in Decision]
_REASON = {int(r): r.name for r in Reason}


def _text(value: float) -> str:
    return "\\N" if math.isnan(value) else repr(float(value))


def _ts_text(value: int) -> str:
    return "\\N" if value == MISSING_TS else from_micros(int(value)).isoformat()


def copy_chunk(
    conn: psycopg.Connection[Any],
    replay_id: str,
    day: date,
    first_seq: int,
    chunk: ResultChunk,
    versions: tuple[RuleVersion, ...],
) -> None:
    """Write one chunk's results, one row per order and check, with COPY."""
    names = [(v.rule_id, str(v.version)) for v in versions]
    with (
        conn.cursor() as cur,
        cur.copy(
            f"""copy {SCHEMA}.compliance_checks (replay_id, replay_date, seq, order_id, decision,
                check_id, outcome, reason, threshold, observed, rule_id, rule_version,
                reference_price, reference_ts) from stdin"""
        ) as copy,
    ):
        for n in range(len(chunk)):
            head = (
                f"{replay_id}\t{day.isoformat()}\t{first_seq + n}\t{int(chunk.order_id[n])}\t"
                f"{_DECISION[chunk.decision[n]]}\t"
            )
            tail = f"\t{_text(chunk.reference_price[n])}\t{_ts_text(chunk.reference_ts[n])}\n"
            lines = []
            for c in range(len(_CHECK)):
                rule = int(chunk.rule[n, c])
                rule_id, rule_version = names[rule] if rule >= 0 else ("\\N", "\\N")
                lines.append(
                    f"{head}{_CHECK[c]}\t{_OUTCOME[chunk.outcome[n, c]]}\t"
                    f"{_REASON[int(chunk.reason[n, c])]}\t{_text(chunk.threshold[n, c])}\t"
                    f"{_text(chunk.observed[n, c])}\t{rule_id}\t{rule_version}{tail}"
                )
            copy.write("".join(lines))


def breach_rows(conn: psycopg.Connection[Any], replay_id: str) -> Iterator[tuple[Any, ...]]:
    """Every rejecting check of a replay, in replay order."""
    yield from conn.execute(
        f"""select c.replay_date, c.seq, c.order_id, c.decision, c.check_id, c.reason,
                   c.threshold, c.observed, c.rule_id, c.rule_version, c.reference_price,
                   c.reference_ts
            from {SCHEMA}.compliance_checks as c
            where c.replay_id = %s and c.outcome = 'REJECT'
            order by c.replay_date, c.seq, c.check_id""",
        (replay_id,),
    )


def days(first: date, last: date) -> Iterable[date]:
    """Every calendar day of first..last (inclusive)."""
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)
