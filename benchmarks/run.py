"""Benchmarks: generator, end-to-end DAG day, render + XSD validation vs a naive baseline.

Run with `make bench` (or `python -m benchmarks.run [--orders N] [--quick]`). Everything runs on
its own state (``.regreport/bench``) and ports, so neither the demo nor the tests are touched;
that state is wiped at the start (unless ``--keep-state``) so every run starts from a fresh date
and an empty archive, and its services are stopped at the end.

Each measured step runs in a child process (``--step``) that reports its own wall time, CPU
time and peak RSS (``VmHWM``), so every memory figure belongs to one step.
The results, the machine and the baselines go to docs/benchmarks.md; no figure there is typed in.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH_HOME = REPO / ".regreport" / "bench"
BENCH_ENV = {
    "REGREPORT_HOME": str(BENCH_HOME),
    "REGREPORT_PG_PORT": "55452",
    "REGREPORT_S3_PORT": "18353",
    "REGREPORT_SEAWEED_MASTER_PORT": "19353",
    "REGREPORT_SEAWEED_VOLUME_PORT": "18101",
    "REGREPORT_SEAWEED_FILER_PORT": "18908",
    "REGREPORT_AIRFLOW_PORT": "18090",
}
# Set before anything reads regreport's configuration; variables that would point the bench at
# another stack's databases or output folder are dropped.
os.environ.update(BENCH_ENV)
for _name in ("REGREPORT_SOURCE_DSN", "REGREPORT_WAREHOUSE_DSN", "REGREPORT_OUTPUT_DIR"):
    os.environ.pop(_name, None)
if str(REPO / "plugins") not in sys.path:  # the editable install normally provides this
    sys.path.insert(0, str(REPO / "plugins"))

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, date, datetime, timedelta  # noqa: E402
from importlib import metadata  # noqa: E402
from itertools import islice  # noqa: E402
from typing import Any  # noqa: E402

from regreport.config import Settings  # noqa: E402

DEFAULT_DATE = date(2026, 11, 26)
DEFAULT_ORDERS = 50_000
QUICK_ORDERS = 5_000
SEED = 42
#: The issue's "realistic day" for the generator.
REALISTIC_DAY_ORDERS = 50_000
#: Later targets for render + validate (from the issue).
TARGET_RECORDS_PER_S = 20_000
TARGET_PEAK_MB = 500
#: Peak RSS may grow by less than this from 10 % to 100 % of the records and still count as flat
#: (fixed-size buffers: 5,000-row fetch batches, the compiled schema, libxml2's pools).
FLAT_TOLERANCE_MB = 16
SMALL_FRACTION = 10  # the "small" render run uses 1/SMALL_FRACTION of the records
PACKAGES = ("apache-airflow", "dbt-core", "great-expectations", "lxml", "psycopg")
DOC_PATH = REPO / "docs" / "benchmarks.md"

_T0 = time.perf_counter()


class StepFailedError(RuntimeError):
    """A benchmark step failed; the message says which and where its log is."""


def log(message: str) -> None:
    print(f"[{time.perf_counter() - _T0:7.1f} s] {message}", flush=True)


def _mb(kib: int) -> float:
    return kib * 1024 / 1e6


# --------------------------------------------------------------------------------------------
# Child steps: each runs in its own process and prints one JSON line on stdout
# --------------------------------------------------------------------------------------------


def _measured(fn: Any, **args: Any) -> dict[str, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(**args)
    result["seconds"] = time.perf_counter() - wall
    result["cpu_seconds"] = time.process_time() - cpu
    result["peak_rss_mb"] = _peak_rss_mb()
    return result


def _peak_rss_mb() -> float:
    """This process's peak RSS: VmHWM, which, unlike `ru_maxrss`, starts afresh at exec.

    Linux carries `ru_maxrss` over exec, so a child would report its parent's size at fork.
    """
    hwm = _proc_field("/proc/self/status", "VmHWM")
    if hwm:
        return _mb(int(hwm.split()[0]))
    return _mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _progress(stage: str, done: int, total: int) -> None:
    print(f"    {stage:<12} {done:>10,} / {total:,}", file=sys.stderr, flush=True)


def step_generate(day: date, orders: int) -> dict[str, Any]:
    from regreport.generator import generate

    stats = generate(Settings.from_env().source_dsn, day, orders, SEED, _progress)
    return {
        "orders": stats.orders,
        "executions": stats.executions,
        "quotes": stats.quotes,
        "generator_seconds": stats.seconds,
        "generate_seconds": getattr(stats, "generate_seconds", None),
        "load_seconds": getattr(stats, "load_seconds", None),
    }


def step_generate_only(day: date, orders: int) -> dict[str, Any]:
    """Generation without a database: reference data, the day, and their COPY text."""
    from regreport.generator import build_day, build_reference_data, copy_text

    ref = build_reference_data(SEED)
    data = build_day(ref, day, orders, SEED)
    lines = 0
    for rows in (*ref.rows.values(), data.quotes, data.orders, data.executions):
        for _ in copy_text(rows):
            lines += 1
    return {"orders": len(data.orders), "executions": len(data.executions), "lines": lines}


def _header(conn: Any, settings: Settings, day: date) -> Any:
    """The header `pipeline.render` writes for `day`, so the streamed file can match its bytes."""
    from regreport.config import REPORT_TYPE_MIFIR
    from regreport.pipeline import _firm
    from regreport.xml.render import ReportHeader, make_business_message_id

    lei, firm_country = _firm(conn)
    end = _day_bounds(day)[1]
    return ReportHeader(
        from_lei=lei,
        to_country=settings.nca_country or firm_country,
        business_message_id=make_business_message_id(REPORT_TYPE_MIFIR, day, end.date()),
        created_at=end,
        schema_version=settings.schema_version,
    )


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _naive_render(path: Path, header: Any, rows: Any) -> int:
    """Baseline: the whole document as one in-memory lxml tree, then `ElementTree.write`."""
    from lxml import etree

    from regreport.xml.namespaces import NS_HEAD003, schema_set
    from regreport.xml.render import _app_header, _new_record

    head, doc = f"{{{NS_HEAD003}}}", f"{{{schema_set(header.schema_version).auth016_namespace}}}"
    root = etree.Element(head + "BizData", nsmap={None: NS_HEAD003})
    etree.SubElement(root, head + "Hdr").append(_app_header(header))
    document = etree.SubElement(
        etree.SubElement(root, head + "Pyld"), doc + "Document", nsmap={None: doc[1:-1]}
    )
    report = etree.SubElement(document, doc + "FinInstrmRptgTxRpt")
    count = 0
    for row in rows:
        report.append(_new_record(row))
        count += 1
    etree.ElementTree(root).write(str(path), encoding="UTF-8", xml_declaration=True)
    return count


def step_render(day: date, mode: str, path: str, limit: int | None) -> dict[str, Any]:
    """Stream the day's report rows (as `pipeline._records`) into `mode`'s writer."""
    import psycopg

    from regreport.pipeline import _records
    from regreport.xml.render import render_auth016

    settings = Settings.from_env()
    start, end = _day_bounds(day)
    with psycopg.connect(settings.warehouse_dsn) as conn:
        header = _header(conn, settings, day)
        with conn.transaction(), _records(conn, start, end) as cursor:
            wall, cpu = time.perf_counter(), time.process_time()
            rows = islice(cursor, limit) if limit else cursor
            if mode == "stream":
                records = render_auth016(Path(path), header, rows).record_count
            elif mode == "naive":
                records = _naive_render(Path(path), header, rows)
            else:  # "fetch": the rows alone, to show the database's share
                records = sum(1 for _ in rows)
            seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    size = Path(path).stat().st_size if mode != "fetch" else 0
    return {"records": records, "bytes": size, "work_s": seconds, "work_cpu_s": cpu_seconds}


def step_validate(mode: str, path: str) -> dict[str, Any]:
    """XSD-validate a file: `validate_file` (streaming) or a whole-tree `assertValid`."""
    from lxml import etree

    from regreport.xml.schema import _hardened_parser, load_schema, validate_file

    settings = Settings.from_env()
    schema = load_schema(settings.schemas_dir, settings.schema_version)  # compiled, not timed
    wall, cpu = time.perf_counter(), time.process_time()
    if mode == "stream":
        report = validate_file(Path(path), settings.schemas_dir, settings.schema_version)
        valid, records = report.valid, report.records
    else:
        tree = etree.parse(path, _hardened_parser())
        schema.assertValid(tree)
        valid, records = True, len(tree.getroot().findall(".//{*}FinInstrmRptgTxRpt/{*}Tx"))
    seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    return {"valid": valid, "records": records, "work_s": seconds, "work_cpu_s": cpu_seconds}


def _run_step(name: str, args: dict[str, Any]) -> None:
    if "day" in args:
        args["day"] = date.fromisoformat(args["day"])
    steps = {
        "generate": step_generate,
        "generate_only": step_generate_only,
        "render": step_render,
        "validate": step_validate,
    }
    result = _measured(steps[name], **args)
    print(json.dumps(result))


def child(name: str, label: str, **args: Any) -> dict[str, Any]:
    """Run one step in a fresh interpreter; return its JSON result."""
    log(f"{label} ...")
    payload = json.dumps({k: v.isoformat() if isinstance(v, date) else v for k, v in args.items()})
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--step", name, payload],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise StepFailedError(f"{label}: exit {proc.returncode} (see the output above)")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    log(f"{label}: {result['seconds']:.1f} s, peak RSS {result['peak_rss_mb']:.0f} MB")
    return result


# --------------------------------------------------------------------------------------------
# Machine
# --------------------------------------------------------------------------------------------


def _proc_field(path: str, key: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
    except OSError:
        return None
    return None


def _git(*args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    return proc.stdout.strip()


def machine() -> dict[str, str]:
    mem_kib = _proc_field("/proc/meminfo", "MemTotal")
    dirty = " (with uncommitted changes)" if _git("status", "--porcelain") else ""
    info = {
        "CPU": _proc_field("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "Cores (os.cpu_count)": str(os.cpu_count()),
        "Memory": f"{int(mem_kib.split()[0]) / 1024**2:.1f} GiB" if mem_kib else "unknown",
        "OS": platform.platform(),
        "Python": platform.python_version(),
    }
    for package in PACKAGES:
        try:
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            info[package] = "not installed"
    load = os.getloadavg()
    info["Load average at start (1/5/15 min)"] = " / ".join(f"{x:.2f}" for x in load)
    info["Git commit"] = (_git("rev-parse", "--short", "HEAD") or "unknown") + dirty
    info["Date"] = datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    return info


# --------------------------------------------------------------------------------------------
# Benchmarks
# --------------------------------------------------------------------------------------------


def setup_services(settings: Settings, keep_state: bool) -> float:
    from regreport import services as svc

    if not keep_state and BENCH_HOME.exists():
        log(f"wiping {BENCH_HOME} (fresh date, empty archive)")
        svc.stop(settings, ("postgres", "s3"), log=lambda line: log(f"  {line}"))
        shutil.rmtree(BENCH_HOME)
    started = time.perf_counter()
    log("starting the bench services")
    svc.start(settings, ("postgres", "s3"), log=lambda line: log(f"  {line}"))
    svc.ensure_databases(settings)
    return time.perf_counter() - started


def bench_generator(day: date, orders: int) -> dict[str, Any]:
    runs = [
        child(
            "generate",
            f"generator: {orders:,} orders for {day} (fresh date)",
            day=day,
            orders=orders,
        ),
        child(
            "generate", f"generator: {orders:,} orders for {day} (rerun)", day=day, orders=orders
        ),
    ]
    pure = None
    if any(r["generate_seconds"] is None for r in runs):
        # GenerationStats has no split: measure generation without a database separately.
        pure = child(
            "generate_only", "generator: same day without a database", day=day, orders=orders
        )
    return {"runs": runs, "generation_only": pure}


def _dag_run(settings: Settings, day: date, label: str) -> dict[str, Any]:
    from regreport.pipeline import summary_path

    log_file = settings.home / "logs" / f"bench-dag-{label}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log(f"end-to-end: regreport run --date {day} ({label}; log {log_file.relative_to(REPO)})")
    started_at = time.time()
    wall = time.perf_counter()
    with log_file.open("w") as out:
        code = subprocess.run(
            [str(Path(sys.executable).with_name("regreport")), "run", "--date", day.isoformat()],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        ).returncode
    seconds = time.perf_counter() - wall
    path = summary_path(settings, day)
    if code != 0 or not path.exists() or path.stat().st_mtime < started_at:
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-30:])
        raise StepFailedError(f"regreport run ({label}) failed, exit {code}:\n{tail}")
    summary: dict[str, Any] = json.loads(path.read_text())
    log(f"end-to-end {label}: {seconds:.1f} s, {summary['records']:,} records")
    return {"seconds": seconds, "summary": summary}


def bench_e2e(settings: Settings, day: date) -> dict[str, Any]:
    from regreport import local_airflow

    log("end-to-end: setup, airflow db migrate + dbt parse (not timed as part of a run)")
    wall = time.perf_counter()
    local_airflow.prepare(settings, log=lambda line: log(f"  {line}"))
    setup = time.perf_counter() - wall
    first = _dag_run(settings, day, "first")
    rerun = _dag_run(settings, day, "rerun")
    return {"setup_seconds": setup, "first": first, "rerun": rerun}


def bench_render(day: date, records: int, work_dir: Path) -> dict[str, Any]:
    small = max(1, records // SMALL_FRACTION)
    out: dict[str, Any] = {
        "fetch": child(
            "render",
            "rows only: stream the report rows",
            day=day,
            mode="fetch",
            path="",
            limit=None,
        )
    }
    for size, limit in (("small", small), ("full", None)):
        for mode in ("stream", "naive"):
            path = str(work_dir / f"{mode}-{size}.xml")
            what = f"{mode} {'all' if limit is None else f'{limit:,}'} records"
            out[f"{mode}_render_{size}"] = child(
                "render", f"render: {what}", day=day, mode=mode, path=path, limit=limit
            )
            out[f"{mode}_validate_{size}"] = child(
                "validate", f"validate: {what}", mode=mode, path=path
            )
    from regreport.manifest import sha256_file

    out["stream_sha256"] = sha256_file(work_dir / "stream-full.xml")
    return out


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _rate(count: float, seconds: float) -> str:
    return f"{count / seconds:,.0f}" if seconds > 0 else "n/a"


def _generator_section(gen: dict[str, Any], orders: int) -> list[str]:
    pure = gen["generation_only"]
    rows = []
    for label, r in zip(
        ("first (fresh date)", "rerun (delete + reload)"), gen["runs"], strict=True
    ):
        if r["generate_seconds"] is not None:
            split = f"{r['generate_seconds']:.1f} | {r['load_seconds']:.1f}"
        else:
            split = f"{pure['seconds']:.1f} ¹ | {r['generator_seconds'] - pure['seconds']:.1f} ²"
        rows.append(
            [
                label,
                f"{r['orders']:,}",
                f"{r['executions']:,}",
                f"{r['quotes']:,}",
                f"{r['generator_seconds']:.1f}",
                _rate(r["orders"], r["generator_seconds"]),
                split,
                f"{r['peak_rss_mb']:.0f}",
            ]
        )
    lines = [
        "## 1. Generator throughput",
        "",
        f"`regreport.generator.generate` for one day at {orders:,} orders (seed {SEED}), "
        "each run in its own process.",
        "",
        *_table(
            [
                "run",
                "orders",
                "executions",
                "quotes",
                "total s",
                "orders/s",
                "generate s",
                "load s",
                "peak RSS MB",
            ],
            rows,
        ),  # fmt: skip
        "",
    ]
    if pure:
        lines += [
            "¹ generation alone, measured in a separate process without a database (reference "
            "data, the day's rows and their COPY text); ² total minus ¹. Generation and load "
            "overlap in `generate` (Python generates while PostgreSQL inserts), so ² is the time "
            "the load adds, not the server's busy time.",
            "",
        ]
    share = orders / REALISTIC_DAY_ORDERS
    lines += [
        f"- **Compared to:** the issue's realistic day of ~{REALISTIC_DAY_ORDERS:,} orders; "
        f"this run generated {orders:,} orders ({share:.0%} of it).",
        "- **Target:** orders/s is measured, not yet enforced.",
        "",
    ]
    return lines


def _e2e_section(e2e: dict[str, Any]) -> list[str]:
    first, rerun = e2e["first"]["summary"], e2e["rerun"]["summary"]
    same = first["sha256"] == rerun["sha256"]
    counts = first["counts"]
    rows = [
        [label, f"{run['seconds']:.1f}", f"{s['records']:,}", f"`{s['sha256'][:16]}…`",
         str(s["already_archived"]), "passed" if (s.get("gx") or {}).get("success") else "FAILED"]
        for label, run, s in (("first", e2e["first"], first), ("rerun", e2e["rerun"], rerun))
    ]  # fmt: skip
    return [
        "## 2. End-to-end day (MiFIR DAG)",
        "",
        "`regreport run --date D` as a subprocess (`airflow dags test`: extract, dbt build, "
        "GX checkpoint, render, XSD validation, Object Lock archive, registry) on the day "
        f"generated above. Setup before the first run (`airflow db migrate` on a fresh "
        f"metadata database, dbt parse): {e2e['setup_seconds']:.1f} s, not included below; "
        "each run still includes the CLI's own migration check and dbt parse.",
        "",
        *_table(["run", "seconds", "records", "sha256", "already archived", "GX"], rows),
        "",
        f"- Reconciliation: source {counts['source_executions']:,} = reported "
        f"{counts['reported']:,} + quarantined {counts['quarantined']:,} + not reportable "
        f"{counts['not_reportable']:,}.",
        f"- Rerun: sha256 identical to the first run: **{'yes' if same else 'NO'}**; "
        f"already_archived: **{rerun['already_archived']}**.",
        "- **Compared to:** the first run of the same day in this run.",
        "- **Target:** end-to-end time is measured, not yet enforced.",
        "",
    ]


def _render_rows(r: dict[str, Any]) -> list[list[str]]:
    rows = []
    for mode, name in (("stream", "streaming (`render_auth016`, `validate_file`)"),
                       ("naive", "naive baseline (in-memory tree, `assertValid`)")):  # fmt: skip
        for size in ("small", "full"):
            ren, val = r[f"{mode}_render_{size}"], r[f"{mode}_validate_{size}"]
            n, both = ren["records"], ren["work_s"] + val["work_s"]
            rows.append(
                [
                    name,
                    f"{n:,}",
                    f"{ren['bytes'] / 1e6:,.1f}",
                    _rate(n, ren["work_s"]),
                    f"{1e6 * ren['work_s'] / n:.1f}",
                    f"{ren['peak_rss_mb']:.0f}",
                    _rate(n, val["work_s"]),
                    f"{1e6 * val['work_s'] / n:.1f}",
                    f"{val['peak_rss_mb']:.0f}",
                    _rate(n, both),
                ]
            )
    return rows


def _peak(r: dict[str, Any], mode: str, size: str) -> float:
    return float(
        max(r[f"{mode}_render_{size}"]["peak_rss_mb"], r[f"{mode}_validate_{size}"]["peak_rss_mb"])
    )


def _render_section(r: dict[str, Any], dag_sha256: str) -> list[str]:
    ren, val = r["stream_render_full"], r["stream_validate_full"]
    n = ren["records"]
    rate = n / (ren["work_s"] + val["work_s"])
    cpu = ren["work_cpu_s"] + val["work_cpu_s"]
    growth = {m: _peak(r, m, "full") - _peak(r, m, "small") for m in ("stream", "naive")}
    peak = _peak(r, "stream", "full")
    flat = growth["stream"] < FLAT_TOLERANCE_MB
    speed_met = rate >= TARGET_RECORDS_PER_S
    memory_met = peak < TARGET_PEAK_MB and flat
    naive_rate = r["naive_render_full"]["records"] / (
        r["naive_render_full"]["work_s"] + r["naive_validate_full"]["work_s"]
    )
    fetch = r["fetch"]
    return [
        "## 3. Render + XSD validation",
        "",
        "The day's rows of `reports.rpt_mifir_rts22_transactions`, streamed with the server-side "
        "cursor of `pipeline._records`, rendered to a file and validated against the ESMA "
        "schemas. Each cell's step runs in its own process; peak RSS is that process's "
        "(`VmHWM`), seconds exclude start-up and schema compilation. Both writers read the "
        "rows the same way, so only the XML strategy differs. Render times include reading "
        f"the rows: reading alone took {fetch['work_s']:.2f} s "
        f"({_rate(fetch['records'], fetch['work_s'])} rows/s, peak RSS "
        f"{fetch['peak_rss_mb']:.0f} MB).",
        "",
        *_table(
            [
                "writer / validator",
                "records",
                "file MB",
                "render rec/s",
                "render µs/rec",
                "render peak MB",
                "validate rec/s",
                "validate µs/rec",
                "validate peak MB",
                "render+validate rec/s",
            ],
            _render_rows(r),
        ),  # fmt: skip
        "",
        f"- The streamed file of all records is byte-identical to the DAG's report: "
        f"**{'yes' if r['stream_sha256'] == dag_sha256 else 'NO'}** (sha256 "
        f"`{r['stream_sha256'][:16]}…`).",
        f"- **Compared to:** the naive in-memory baseline, measured in the same run: "
        f"streaming is {rate / naive_rate:.2f}× its render+validate throughput and its peak "
        f"RSS grows {growth['stream']:+.1f} MB from 1/{SMALL_FRACTION} to all records, against "
        f"{growth['naive']:+.1f} MB for the baseline.",
        f"- **Target (later), ≥ {TARGET_RECORDS_PER_S:,} records/s per core:** "
        f"{'met' if speed_met else 'not met'}: {rate:,.0f} records/s render+validate "
        f"({n / ren['work_s']:,.0f} render, {n / val['work_s']:,.0f} validate), each step one "
        "single-threaded process; judged on wall time (the database server runs beside it). "
        f"On the process's own CPU time: {n / cpu:,.0f} records/s.",
        f"- **Target (later), peak memory < {TARGET_PEAK_MB} MB, flat in record count:** "
        f"{'met' if memory_met else 'not met'}: peak {peak:.0f} MB at {n:,} records, "
        f"growth {growth['stream']:+.1f} MB from {r['stream_render_small']['records']:,} records "
        f"(flat = less than {FLAT_TOLERANCE_MB} MB of growth).",
        "",
    ]


def write_report(path: Path, results: dict[str, Any]) -> None:
    day, orders = results["day"], results["orders"]
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `make bench` (`python -m benchmarks.run`); do not edit by hand. Trade date "
        f"{day}, {orders:,} orders, seed {SEED}; isolated state in `.regreport/bench`. "
        f"Total benchmark time: {results['total_seconds']:.0f} s "
        f"(service start-up {results['services_seconds']:.1f} s).",
        "",
        "## Machine",
        "",
        *_table(["", ""], [[k, v] for k, v in results["machine"].items()]),
        "",
        *_generator_section(results["generator"], orders),
        *_e2e_section(results["e2e"]),
        *_render_section(results["render"], results["e2e"]["first"]["summary"]["sha256"]),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--orders", type=int, default=None, help=f"orders per day (default {DEFAULT_ORDERS:,})"
    )
    parser.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK_ORDERS:,} orders")
    parser.add_argument("--date", type=date.fromisoformat, default=DEFAULT_DATE, help="trade date")
    parser.add_argument("--output", type=Path, help="report file (default docs/benchmarks.md; "
                        "with --quick .regreport/bench/benchmarks-quick.md)")  # fmt: skip
    parser.add_argument(
        "--keep-state", action="store_true", help="do not wipe .regreport/bench first"
    )
    parser.add_argument("--step", nargs=2, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _run_all(settings: Settings, args: argparse.Namespace, orders: int) -> dict[str, Any]:
    results: dict[str, Any] = {"day": args.date, "orders": orders, "machine": machine()}
    log("machine: " + ", ".join(f"{k} {v}" for k, v in list(results["machine"].items())[:5]))
    results["services_seconds"] = setup_services(settings, args.keep_state)
    results["generator"] = bench_generator(args.date, orders)
    results["e2e"] = bench_e2e(settings, args.date)
    records = results["e2e"]["first"]["summary"]["records"]
    with tempfile.TemporaryDirectory(dir=BENCH_HOME, prefix="render-") as work:
        results["render"] = bench_render(args.date, records, Path(work))
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    results["machine"]["Load average at end (1/5/15 min)"] = load
    return results


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.step:
        _run_step(args.step[0], json.loads(args.step[1]))
        return 0
    from regreport import services as svc

    orders = args.orders or (QUICK_ORDERS if args.quick else DEFAULT_ORDERS)
    output = args.output or (BENCH_HOME / "benchmarks-quick.md" if args.quick else DOC_PATH)
    settings = Settings.from_env()
    log(f"benchmarks: {orders:,} orders for {args.date}, state {BENCH_HOME.relative_to(REPO)}")
    try:
        results = _run_all(settings, args, orders)
        results["total_seconds"] = time.perf_counter() - _T0
        write_report(output, results)
        log(f"wrote {output}")
    except Exception as exc:  # report any failure as a failed benchmark, then clean up
        log(f"FAILED: {exc}")
        return 1
    finally:
        log("stopping the bench services")
        svc.stop(settings, ("postgres", "s3"), log=lambda line: log(f"  {line}"))
    log(f"done in {time.perf_counter() - _T0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
