"""Benchmark the periodic reports: 30 business days of 200,000 orders, then their month.

Run with `make bench-periodic` (or `python -m benchmarks.periodic [--days N] [--orders N]`).
Each business day is generated (not timed), then its daily run is timed: the extract of the
day and `dbt build --select +tag:daily` (positions, daily trading, 13h-1 activity, the
Rule 605 facts). The issue's targets, checked here and written to docs/benchmarks.md:

- the daily run of the last day takes at most 1.2 x the first day's (incremental models: day
  30 must not rescan 29 days of history);
- the execution-quality report over every order of the run (`dbt build --select
  tag:monthly` over the whole range) takes under 60 s.

Runs on its own state (``.regreport/bench-periodic``, wiped first unless ``--keep-state``)
and its own PostgreSQL port; only PostgreSQL is needed. The section it writes replaces the
previous one in docs/benchmarks.md (`make bench` keeps it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STATE = REPO / ".regreport" / "bench-periodic"
ENV = {"REGREPORT_HOME": str(STATE), "REGREPORT_PG_PORT": "55462"}

# benchmarks.run sets its own state at import; ours is set after it, before any Settings.
from benchmarks import run as bench  # noqa: E402

os.environ.update(ENV)

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from datetime import UTC, date, datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402

import psycopg  # noqa: E402

from regreport.config import Settings  # noqa: E402

log = bench.clock_log
business_days = bench.business_days
MARKER = bench.PERIODIC_MARKER
#: A copy of dbt_project taken at the start: every day runs the same models, whatever happens
#: to the working tree meanwhile.
PROJECT = STATE / "dbt_project"
DAILY_TARGET = 1.2
MONTHLY_TARGET_SECONDS = 60.0
SEED = 42


def _bounds(first: date, after: date) -> dict[str, str]:
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(after.year, after.month, after.day, tzinfo=UTC)
    return {"period_start": start.isoformat(), "period_end": end.isoformat()}


def node_seconds() -> dict[str, float]:
    """Seconds per model and test of the last dbt build (its run_results.json)."""
    results = json.loads((STATE / "dbt" / "target" / "run_results.json").read_text())
    return {r["unique_id"].split(".", 1)[0] + " " + r["unique_id"].split(".")[2]:
            r["execution_time"] for r in results["results"]}  # fmt: skip


def dbt_build(settings: Settings, select: str, period: dict[str, str]) -> float:
    """`dbt build --select <select>` for the period; return its wall time in seconds."""
    env = {
        **os.environ,
        "REGREPORT_PG_HOST": settings.pg_host,
        "REGREPORT_PG_PORT": str(settings.pg_port),
        "REGREPORT_PG_USER": settings.pg_user,
        "REGREPORT_WAREHOUSE_DB": settings.warehouse_db,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    work = STATE / "dbt"
    started = time.perf_counter()
    result = subprocess.run(
        [str(REPO / ".venv" / "bin" / "dbt"), "build", "--project-dir", str(PROJECT),
         "--profiles-dir", str(PROJECT), "--target-path", str(work / "target"),
         "--log-path", str(work / "logs"), "--select", select, "--vars", json.dumps(period)],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"dbt build {select} failed:\n{result.stdout[-4000:]}")
    return seconds


def generate_day(day: date, orders: int) -> dict[str, Any]:
    """Generate one day into the source (runs in a worker process)."""
    from regreport.generator import generate

    stats = generate(Settings.from_env().source_dsn, day, orders, SEED)
    return {"orders": stats.orders, "executions": stats.executions, "quotes": stats.quotes,
            "generate_seconds": stats.seconds}  # fmt: skip


def one_day(settings: Settings, day: date, generated: dict[str, Any]) -> dict[str, Any]:
    from regreport.extract import extract_period

    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    t0 = time.perf_counter()
    extract_period(settings.source_dsn, settings.warehouse_dsn, start,
                   start + timedelta(days=1), f"bench-{day}")  # fmt: skip
    extract = time.perf_counter() - t0
    dbt = dbt_build(settings, "+tag:daily", _bounds(day, day + timedelta(days=1)))
    return {
        "day": day.isoformat(),
        **generated,
        "extract_seconds": extract,
        "dbt_seconds": dbt,
        "daily_seconds": extract + dbt,
        "nodes": node_seconds(),
    }


def _count(settings: Settings, sql: str) -> int:
    with psycopg.connect(settings.warehouse_dsn) as conn:
        row = conn.execute(sql).fetchone()  # type: ignore[arg-type]
    return int(row[0]) if row else 0


def run(settings: Settings, days: list[date], orders: int) -> dict[str, Any]:
    from concurrent.futures import ProcessPoolExecutor

    results: dict[str, Any] = {"machine": bench.machine(), "orders_per_day": orders, "days": []}
    # The next day is generated in a worker while a day's run is timed, for every day alike
    # (the last run overlaps the generation of one more day that is never built).
    extra = business_days(days[-1] + timedelta(days=1), 1)[0]
    with ProcessPoolExecutor(max_workers=1) as pool:
        generated = generate_day(days[0], orders)
        for index, day in enumerate(days, start=1):
            following = days[index] if index < len(days) else extra
            pending = pool.submit(generate_day, following, orders)
            figures = one_day(settings, day, generated)
            generated = pending.result()
            results["days"].append(figures)
            log(f"day {index}/{len(days)} {day}: {figures['orders']:,} orders, daily run "
                f"{figures['daily_seconds']:.1f} s (extract {figures['extract_seconds']:.1f} s, "
                f"dbt {figures['dbt_seconds']:.1f} s)")  # fmt: skip
    period = _bounds(days[0], days[-1] + timedelta(days=1))
    results["monthly_seconds"] = dbt_build(settings, "tag:monthly", period)
    results["measured_orders"] = _count(
        settings, "select count(*) from marts.fct_execution_quality_orders"
    )
    results["report_rows"] = _count(
        settings, "select count(*) from reports.rpt_execution_quality_monthly"
    )
    log(f"execution quality over {results['measured_orders']:,} orders: "
        f"{results['monthly_seconds']:.1f} s")  # fmt: skip
    return results


def section(results: dict[str, Any], total: float) -> list[str]:
    days = results["days"]
    first, last = days[0], days[-1]
    ratio = last["daily_seconds"] / first["daily_seconds"]
    daily = [d["daily_seconds"] for d in days]
    orders = sum(d["orders"] for d in days)
    monthly = results["monthly_seconds"]
    ok = "met" if ratio <= DAILY_TARGET else "**missed**"
    ok_monthly = "met" if monthly < MONTHLY_TARGET_SECONDS else "**missed**"
    rows = [
        [str(i), d["day"], f"{d['orders']:,}", f"{d['executions']:,}", f"{d['quotes']:,}",
         f"{d['extract_seconds']:.1f}", f"{d['dbt_seconds']:.1f}", f"{d['daily_seconds']:.1f}"]
        for i, d in enumerate(days, start=1)
    ]  # fmt: skip
    growth = sorted(
        ((last["nodes"].get(n, 0.0) - t, n, t, last["nodes"].get(n, 0.0))
         for n, t in first["nodes"].items()), reverse=True,
    )[:8]  # fmt: skip
    return [
        MARKER,
        "",
        "## 6. Periodic reports: 30 business days, then their execution quality",
        "",
        f"Generated by `make bench-periodic` (`python -m benchmarks.periodic`) in {total:.0f} s; "
        f"isolated state in `.regreport/bench-periodic`, PostgreSQL only. {len(days)} business "
        f"days of {results['orders_per_day']:,} orders (seed {SEED}), {orders:,} orders in all. "
        "The daily run of a day is its extract plus `dbt build --select +tag:daily` (positions, "
        "daily trading, the 13h-1 activity, the risk limits and the Rule 605 facts, with their "
        "tests). Generating a day is not timed; the next day is generated in a second process "
        "while each day's run is timed (day 1 and day 30 alike: the last run overlaps the "
        "generation of one more day), so both cores are busy throughout.",
        "",
        "### Machine",
        "",
        *bench._table(["", ""], [[k, v] for k, v in results["machine"].items()]),
        "",
        "### Results",
        "",
        *bench._table(
            ["figure", "value", "target", ""],
            [
                ["daily run, day 1", f"{first['daily_seconds']:.1f} s", "", ""],
                [f"daily run, day {len(days)}", f"{last['daily_seconds']:.1f} s", "", ""],
                [f"day {len(days)} / day 1", f"{ratio:.2f}", f"<= {DAILY_TARGET}", ok],
                [
                    "daily run, median / max over all days",
                    f"{statistics.median(daily):.1f} s / {max(daily):.1f} s",
                    "",
                    "",
                ],
                [
                    f"execution quality over {results['measured_orders']:,} measured orders "
                    f"({results['report_rows']:,} report rows)",
                    f"{monthly:.1f} s",
                    f"< {MONTHLY_TARGET_SECONDS:.0f} s",
                    ok_monthly,
                ],
            ],
        ),  # fmt: skip
        "",
        "- **Compared to:** the first day of the same run (the daily target) and the issue's "
        "60 s on this 2-core machine (the monthly target). The monthly figure is `dbt build "
        "--select tag:monthly` over the whole range (both 13h-1 monthly and the two execution "
        "quality models, with their tests), reading the daily facts.",
        "",
        f"The dbt nodes whose time grew most from day 1 to day {len(days)} (what a non-incremental "
        "step would show first):",
        "",
        *bench._table(
            ["node", "day 1 s", f"day {len(days)} s"],
            [[n, f"{t:.2f}", f"{t_last:.2f}"] for _, n, t, t_last in growth],
        ),
        "",
        "### Every day",
        "",
        *bench._table(
            ["#", "day", "orders", "executions", "quotes", "extract s", "dbt s", "daily run s"],
            rows,
        ),  # fmt: skip
        "",
    ]


def write(path: Path, lines: list[str]) -> None:
    """Replace the periodic section of the benchmarks page (or add it)."""
    bench.write_section(path, MARKER, lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.periodic",
                                     description=__doc__.split("\n")[0])  # fmt: skip
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 6, 1))
    parser.add_argument("--output", type=Path, default=bench.DOC_PATH)
    parser.add_argument("--keep-state", action="store_true")
    args = parser.parse_args(argv)
    from regreport import services as svc

    started = time.perf_counter()
    if not args.keep_state and STATE.exists():
        shutil.rmtree(STATE)
    settings = Settings.from_env()
    shutil.copytree(REPO / "dbt_project", PROJECT, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))  # fmt: skip
    svc.start(settings, ("postgres",), log=log)
    try:
        svc.ensure_databases(settings)
        results = run(settings, business_days(args.start, args.days), args.orders)
        write(args.output, section(results, time.perf_counter() - started))
        log(f"wrote {args.output}")
    finally:
        svc.stop(settings, ("postgres",), log=log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
