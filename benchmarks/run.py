"""Benchmarks: generator, end-to-end DAG day, render + XSD validation vs a naive baseline.

Run with `make bench` (or `python -m benchmarks.run [--orders N] [--quick]`). Everything runs on
its own state (``.regreport/bench``) and ports, so neither the demo nor the tests are touched;
that state is wiped at the start (unless ``--keep-state``) so every run starts from a fresh date
and an empty archive, and its services are stopped at the end.

Each measured step runs in a child process (``--step``) that reports its own wall time, CPU
time and peak RSS (``VmHWM``), so every memory figure belongs to one step.
The results, the machine and the baselines go to docs/benchmarks.md; no figure there is typed in.

Section 4 renders and validates synthetic rows with the full RTS 22 field set
(`benchmarks.records`) at 100,000 and 1,000,000 records, next to a naive baseline that builds
the whole tree in memory, and times the validation strategies of `benchmarks.validators`. It
needs no services: `--xml-only` runs it alone.
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
from contextlib import contextmanager  # noqa: E402
from datetime import UTC, date, datetime, timedelta  # noqa: E402
from importlib import metadata  # noqa: E402
from itertools import islice  # noqa: E402
from typing import TYPE_CHECKING, Any  # noqa: E402

from regreport.config import Settings  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Iterator

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
#: Section 4: synthetic full-field records, the issue's 1M and a tenth of it.
SYNTH_RECORDS = 1_000_000
QUICK_SYNTH_RECORDS = 50_000
#: The naive baseline runs at the large size only if its projected peak (linear in the records,
#: from the small size, plus this margin) fits in this share of the memory available then.
NAIVE_MEMORY_SHARE = 0.5
NAIVE_MARGIN = 1.15
PACKAGES = ("apache-airflow", "dbt-core", "great-expectations", "lxml", "psycopg")
DOC_PATH = REPO / "docs" / "benchmarks.md"
#: Starts the section `benchmarks.periodic` writes; `write_report` keeps it.
PERIODIC_MARKER = "<!-- periodic benchmark: written by `make bench-periodic` -->"
#: Starts the section `benchmarks.risk_replay` writes.
RISK_MARKER = "<!-- risk replay benchmark: written by `make bench-risk` -->"
#: Sections other benchmarks own, in page order: each rewrites only its own.
SECTION_MARKERS = (PERIODIC_MARKER, RISK_MARKER)


def sections(text: str) -> tuple[str, dict[str, str]]:
    """Split the page into what precedes the first marker and each marked section."""
    found = sorted((text.index(m), m) for m in SECTION_MARKERS if m in text)
    head = text[: found[0][0]] if found else text
    bounds = [*(i for i, _ in found), len(text)]
    return head, {m: text[i : bounds[n + 1]].rstrip("\n") for n, (i, m) in enumerate(found)}


def write_section(path: Path, marker: str, lines: list[str]) -> None:
    """Replace (or add) the section that starts with `marker`; keep the rest of the page."""
    head, owned = sections(path.read_text() if path.exists() else "# Benchmarks\n")
    owned[marker] = "\n".join(lines).rstrip("\n")
    body = [owned[m] for m in SECTION_MARKERS if m in owned]
    path.write_text(head.rstrip("\n") + "\n\n" + "\n\n".join(body) + "\n")


_T0 = time.perf_counter()


class StepFailedError(RuntimeError):
    """A benchmark step failed; the message says which and where its log is."""


def log(message: str) -> None:
    print(f"[{time.perf_counter() - _T0:7.1f} s] {message}", flush=True)


def clock_log(message: str) -> None:
    """A line with the wall-clock time (the long benchmarks, which run for an hour)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def business_days(first: date, count: int) -> list[date]:
    """`count` weekdays from `first` on (the synthetic days have no holidays)."""
    days, day = [], first
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


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
        business_message_id=make_business_message_id(REPORT_TYPE_MIFIR, day, sequence=1, part=1),
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


@contextmanager
def _report_rows(conn: Any, start: datetime, end: datetime) -> Iterator[Any]:
    """The period's report rows in file order, through a server-side cursor.

    The same rows, order and fetch size as the first submission of a day in
    `pipeline._submission_records` (no cancellations yet, every row new), without the ledger
    planning around it, so that only the XML strategy differs between the writers below.
    """
    from psycopg.rows import dict_row

    from regreport.pipeline import REPORT_TABLE, scope_sql

    with conn.cursor(name="bench_rpt_mifir_rts22", row_factory=dict_row) as cur:
        cur.itersize = 5000
        cur.execute(
            f"select r.* from {REPORT_TABLE} as r where r.execution_id in ({scope_sql()}) "
            "order by r.tx_id",
            {"start": start, "end": end},
        )
        yield cur


def step_render(day: date, mode: str, path: str, limit: int | None) -> dict[str, Any]:
    """Stream the day's report rows (as the pipeline does) into `mode`'s writer."""
    import psycopg

    from regreport.xml.render import render_auth016

    settings = Settings.from_env()
    start, end = _day_bounds(day)
    with psycopg.connect(settings.warehouse_dsn) as conn:
        header = _header(conn, settings, day)
        with conn.transaction(), _report_rows(conn, start, end) as cursor:
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


# Section 4 steps: synthetic full-field rows, no database.


def _synth_header() -> Any:
    from benchmarks.records import FIRM_LEI, TRADE_DATE
    from regreport.xml.render import ReportHeader

    end = _day_bounds(TRADE_DATE)[1]
    # Spelled out rather than built with make_business_message_id, whose parameters may grow.
    ident = f"MIFIR_RTS22-{TRADE_DATE:%Y%m%d}-{end:%Y%m%d}-001"
    return ReportHeader(from_lei=FIRM_LEI, to_country="FR", business_message_id=ident,
                        created_at=end)  # fmt: skip


def step_synth(mode: str, records: int, path: str) -> dict[str, Any]:
    """Rows only, streaming render, or the naive in-memory tree (built, then validated whole)."""
    from benchmarks.records import rows

    wall, cpu = time.perf_counter(), time.process_time()
    if mode == "rows":
        count, size = sum(1 for _ in rows(records)), 0
    elif mode == "render":
        from regreport.xml.render import render_auth016

        result = render_auth016(Path(path), _synth_header(), rows(records))
        count, size = result.record_count, result.bytes
    else:
        return _synth_naive(records)
    seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    return {"records": count, "bytes": size, "work_s": seconds, "work_cpu_s": cpu_seconds}


def _synth_naive(records: int) -> dict[str, Any]:
    """Baseline: every record built with SubElement into one tree, then one `validate`."""
    from lxml import etree

    from benchmarks.records import rows
    from regreport.xml.namespaces import NS_HEAD003, schema_set
    from regreport.xml.render import _app_header, _new_record
    from regreport.xml.schema import load_schema

    settings = Settings.from_env()
    schema = load_schema(settings.schemas_dir, settings.schema_version)  # compiled, not timed
    header = _synth_header()
    wall, cpu = time.perf_counter(), time.process_time()
    ns = schema_set(header.schema_version).auth016_namespace
    head = f"{{{NS_HEAD003}}}"
    root = etree.Element(head + "BizData", nsmap={None: NS_HEAD003})
    etree.SubElement(root, head + "Hdr").append(_app_header(header))
    document = etree.SubElement(
        etree.SubElement(root, head + "Pyld"), f"{{{ns}}}Document", nsmap={None: ns}
    )
    report = etree.SubElement(document, f"{{{ns}}}FinInstrmRptgTxRpt")
    for row in rows(records):
        report.append(_new_record(row))
    # The records were built without a namespace (see render.py); the tree must carry it.
    build_s, build_cpu = time.perf_counter() - wall, time.process_time() - cpu
    # `_new_record` builds records without a namespace (render.py serialises them inside
    # `Document`); in memory they must carry it. A baseline written from scratch would build
    # them namespaced at no extra cost, so this Python loop is timed apart, not as building.
    wall = time.perf_counter()
    for elem in report.iter("{}*"):
        elem.tag = f"{{{ns}}}{elem.tag}"
    retag_s = time.perf_counter() - wall
    build_rss = _peak_rss_mb()
    wall, cpu = time.perf_counter(), time.process_time()
    valid = schema.validate(root)
    validate_s, validate_cpu = time.perf_counter() - wall, time.process_time() - cpu
    if not valid:
        raise StepFailedError(f"naive baseline tree is not valid: {schema.error_log.last_error}")
    return {
        "records": len(report),
        "bytes": 0,
        "work_s": build_s,
        "work_cpu_s": build_cpu,
        "build_peak_rss_mb": build_rss,
        "retag_s": retag_s,
        "validate_s": validate_s,
        "validate_cpu_s": validate_cpu,
    }


def step_synth_validate(path: str, strategy: str) -> dict[str, Any]:
    """`validate_file` as the product runs it, or one strategy of `benchmarks.validators`."""
    from benchmarks.validators import STRATEGIES
    from regreport.xml.schema import load_schema, validate_file

    settings = Settings.from_env()
    schema = load_schema(settings.schemas_dir, settings.schema_version)  # compiled, not timed
    wall, cpu = time.perf_counter(), time.process_time()
    if strategy == "validate_file":
        report = validate_file(Path(path), settings.schemas_dir, settings.schema_version)
        if not report.valid:
            raise StepFailedError(f"{path} is not valid: {report.errors[:3]}")
        records = report.records
    else:
        records = STRATEGIES[strategy][0](Path(path), schema)
    seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    return {"records": records, "work_s": seconds, "work_cpu_s": cpu_seconds}


def _run_step(name: str, args: dict[str, Any]) -> None:
    if "day" in args:
        args["day"] = date.fromisoformat(args["day"])
    steps = {
        "generate": step_generate,
        "generate_only": step_generate_only,
        "render": step_render,
        "validate": step_validate,
        "synth": step_synth,
        "synth_validate": step_synth_validate,
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
    from lxml import etree

    info["libxml2 (lxml runtime / compiled)"] = (
        ".".join(map(str, etree.LIBXML_VERSION))
        + " / "
        + ".".join(map(str, etree.LIBXML_COMPILED_VERSION))
    )
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


def _mem_available_mb() -> float:
    value = _proc_field("/proc/meminfo", "MemAvailable")
    return _mb(int(value.split()[0])) if value else 0.0


def bench_synth(records: int, work_dir: Path) -> dict[str, Any]:
    """Section 4: full-field rows at `records` and a tenth of it; strategies at the tenth."""
    from benchmarks.records import kinds
    from benchmarks.validators import STRATEGIES

    small = max(1, records // SMALL_FRACTION)
    out: dict[str, Any] = {"large": records, "small": small, "kinds": kinds(records)}
    out["rows"] = child("synth", f"synthetic rows only: {records:,}", mode="rows",
                        records=records, path="")  # fmt: skip
    for size, n in (("small", small), ("large", records)):
        path = str(work_dir / f"synth-{size}.xml")
        out[f"render_{size}"] = child(
            "synth", f"render: {n:,} full-field records", mode="render", records=n, path=path
        )
        out[f"validate_{size}"] = child(
            "synth_validate", f"validate_file: {n:,} records", path=path, strategy="validate_file"
        )
        if size == "small":
            out["strategies"] = {
                name: child(
                    "synth_validate", f"strategy {name}: {n:,} records", path=path, strategy=name
                )  # fmt: skip
                for name in STRATEGIES
            }
        Path(path).unlink()
    out["naive_small"] = child(
        "synth", f"naive baseline: {small:,} records", mode="naive", records=small, path=""
    )
    projected = out["naive_small"]["peak_rss_mb"] * records / small * NAIVE_MARGIN
    available = _mem_available_mb()
    out["naive_projected_mb"], out["naive_available_mb"] = projected, available
    if projected < NAIVE_MEMORY_SHARE * available:
        out["naive_large"] = child(
            "synth", f"naive baseline: {records:,} records (projected {projected:,.0f} MB)",
            mode="naive", records=records, path="",
        )  # fmt: skip
    else:
        log(f"naive baseline at {records:,} skipped: projected {projected:,.0f} MB, "
            f"{available:,.0f} MB available")  # fmt: skip
        out["naive_large"] = None
    return out


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


#: Columns of the render + validate tables (sections 3 and 4).
_RENDER_HEADERS = [
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
]


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
        "cursor the pipeline uses (same query and order as a day's first submission), "
        "rendered to a file and validated against the ESMA "
        "schemas. Each cell's step runs in its own process; peak RSS is that process's "
        "(`VmHWM`), seconds exclude start-up and schema compilation. Both writers read the "
        "rows the same way, so only the XML strategy differs. Render times include reading "
        f"the rows: reading alone took {fetch['work_s']:.2f} s "
        f"({_rate(fetch['records'], fetch['work_s'])} rows/s, peak RSS "
        f"{fetch['peak_rss_mb']:.0f} MB).",
        "",
        *_table(
            _RENDER_HEADERS,
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


def _us(seconds: float, n: int) -> str:
    return f"{1e6 * seconds / n:.1f}"


def _synth_rows(r: dict[str, Any]) -> list[list[str]]:
    rows = []
    for size in ("small", "large"):
        ren, val = r[f"render_{size}"], r[f"validate_{size}"]
        n = ren["records"]
        cpu = ren["work_cpu_s"] + val["work_cpu_s"]
        rows.append(["streaming (`render_auth016`, `validate_file`)", f"{n:,}",
                     f"{ren['bytes'] / 1e6:,.0f}", _rate(n, ren["work_s"]),
                     _us(ren["work_s"], n), f"{ren['peak_rss_mb']:.0f}",
                     _rate(n, val["work_s"]), _us(val["work_s"], n), f"{val['peak_rss_mb']:.0f}",
                     _rate(n, ren["work_s"] + val["work_s"]), _rate(n, cpu)])  # fmt: skip
    for size in ("small", "large"):
        naive = r[f"naive_{size}"]
        if naive is None:
            n = r["large"]
            rows.append(["naive baseline (whole tree, `XMLSchema.validate`)", f"{n:,}",
                         "-", "not run ¹", "", "", "", "", "", "", ""])  # fmt: skip
            continue
        n = naive["records"]
        both = naive["work_s"] + naive["validate_s"]
        cpu = naive["work_cpu_s"] + naive["validate_cpu_s"]
        rows.append(["naive baseline (whole tree, `XMLSchema.validate`)", f"{n:,}", "-",
                     _rate(n, naive["work_s"]), _us(naive["work_s"], n),
                     f"{naive['build_peak_rss_mb']:.0f}", _rate(n, naive["validate_s"]),
                     _us(naive["validate_s"], n), f"{naive['peak_rss_mb']:.0f}", _rate(n, both),
                     _rate(n, cpu)])  # fmt: skip
    return rows


def _synth_section(r: dict[str, Any]) -> list[str]:
    large, small = r["large"], r["small"]
    ren, val = r["render_large"], r["validate_large"]
    n = ren["records"]
    rate = n / (ren["work_s"] + val["work_s"])
    cpu_rate = n / (ren["work_cpu_s"] + val["work_cpu_s"])
    rows_s = r["rows"]["work_s"] * n / r["rows"]["records"]
    xml_rate = n / (ren["work_s"] - rows_s + val["work_s"])
    stream_peak = max(ren["peak_rss_mb"], val["peak_rss_mb"])
    stream_small = max(r["render_small"]["peak_rss_mb"], r["validate_small"]["peak_rss_mb"])
    growth = stream_peak - stream_small
    speed_met = rate >= TARGET_RECORDS_PER_S
    memory_met = stream_peak < TARGET_PEAK_MB and growth < FLAT_TOLERANCE_MB
    mix = ", ".join(f"{k} {v / large:.0%}" for k, v in sorted(r["kinds"].items(),
                                                             key=lambda kv: -kv[1]))  # fmt: skip
    lines = [
        f"## 4. Full field set: render + XSD validation at {large:,} records",
        "",
        f"Synthetic rows of `rpt_mifir_rts22_transactions` with the full RTS 22 field set "
        f"(`benchmarks/records.py`, built from `docs/reporting/mifir/report-columns.md`): {mix}; "
        "clients that are firms, natural persons (NIDN, CCPT, CONCAT), joint accounts and "
        "discretionary accounts with a decision maker; execution by person, algorithm or "
        "client; transmissions, branches, short sales, waivers and OTC post-trade indicators. "
        "No database is involved (a generated day has ~70,000 executions). Each cell's step "
        "runs in its own process; peak RSS is that process's (`VmHWM`); seconds exclude "
        "start-up and schema compilation. Render times include producing the rows: producing "
        f"{r['rows']['records']:,} rows alone took {r['rows']['work_s']:.1f} s "
        f"({_rate(r['rows']['records'], r['rows']['work_s'])} rows/s).",
        "",
        *_table(
            [*_RENDER_HEADERS, "render+validate rec/s of CPU"],
            _synth_rows(r),
        ),  # fmt: skip
        "",
        "The naive baseline builds every record with `SubElement` into one tree (the "
        "renderer's reference writer, `_new_record`), then validates the tree once; its "
        "render peak is the process's peak after building, its validate peak the peak after "
        "validating. It writes no file.",
    ]
    naive_small, naive_large = r["naive_small"], r["naive_large"]
    if naive_large is None:
        lines += [
            "",
            f"¹ Not run at {large:,} records: its peak, projected linearly from "
            f"{small:,} records ({naive_small['peak_rss_mb']:,.0f} MB) with a "
            f"{NAIVE_MARGIN - 1:.0%} margin, is {r['naive_projected_mb']:,.0f} MB, more than "
            f"{NAIVE_MEMORY_SHARE:.0%} of the {r['naive_available_mb']:,.0f} MB available when "
            "the step was due (the machine is shared).",
        ]
        naive_growth = f"a projected {r['naive_projected_mb'] - naive_small['peak_rss_mb']:+,.0f}"
        naive_rate_text = "at the small size"
        naive = naive_small
    else:
        naive_growth = f"{naive_large['peak_rss_mb'] - naive_small['peak_rss_mb']:+,.0f}"
        naive_rate_text = f"at {large:,} records"
        naive = naive_large
    naive_rate = naive["records"] / (naive["work_s"] + naive["validate_s"])
    lines += [
        "",
        f"- **Compared to:** the naive baseline in the same run ({naive_rate_text}): streaming "
        f"render + validate is {rate / naive_rate:.2f}× its throughput; peak RSS grows "
        f"{growth:+.1f} MB from {small:,} to {large:,} records, against {naive_growth} MB for "
        "the baseline. Retagging the baseline's records into the payload namespace (an "
        "artefact of reusing `_new_record`, not counted above) took "
        f"{naive['retag_s']:.1f} s.",
        f"- **Target, ≥ {TARGET_RECORDS_PER_S:,} records/s per core (render + validate):** "
        f"{'met' if speed_met else 'not met'}: {rate:,.0f} records/s at {n:,} records "
        f"(render {n / ren['work_s']:,.0f}, validate {n / val['work_s']:,.0f}), each step one "
        f"single-threaded process, on wall time; {cpu_rate:,.0f} records/s on the processes' "
        f"own CPU time; {xml_rate:,.0f} records/s without the synthetic rows' own cost. "
        f"{'Rendering' if ren['work_s'] > val['work_s'] else 'Validation'} is now the larger "
        "share.",
        f"- **Target, peak memory < {TARGET_PEAK_MB} MB, flat in record count:** "
        f"{'met' if memory_met else 'not met'}: peak {stream_peak:.0f} MB at {n:,} records, "
        f"growth {growth:+.1f} MB from {small:,} records (flat = less than "
        f"{FLAT_TOLERANCE_MB} MB of growth).",
        "",
    ]
    return lines + _strategies_section(r)


def _strategies_section(r: dict[str, Any]) -> list[str]:
    from benchmarks.validators import STRATEGIES

    base = r["strategies"]["streaming"]
    rows = []
    for name, result in r["strategies"].items():
        n = result["records"]
        rows.append([f"`{name}`", STRATEGIES[name][1], _us(result["work_s"], n),
                     _rate(n, result["work_s"]), _us(result["work_cpu_s"], n),
                     f"{result['peak_rss_mb']:.0f}",
                     f"{base['work_s'] / result['work_s']:.2f}×"])  # fmt: skip
    return [
        "## 5. Validation strategies",
        "",
        f"The {r['small']:,}-record file of section 4, validated by each strategy of "
        "`benchmarks/validators.py` in its own process. `validate_file` runs `chunked_1m` "
        "(and the streaming pass only when the chunked pass cannot prove a file valid). "
        "Chunks repeat the file's own envelope and header around whole records, so they are "
        "validated too; the argument that all chunks valid means the file valid is in "
        "`regreport.xml.schema._validate_chunked`, and the tests show the two agree on "
        "invalid files.",
        "",
        *_table(
            ["strategy", "how", "µs/rec", "rec/s", "CPU µs/rec", "peak MB", "speed vs streaming"],
            rows,
        ),  # fmt: skip
        "",
    ]


def write_report(path: Path, results: dict[str, Any]) -> None:
    day, orders = results["day"], results["orders"]
    if "e2e" in results:
        scope = (f"Trade date {day}, {orders:,} orders, seed {SEED}; isolated state in "
                 "`.regreport/bench`. ")  # fmt: skip
        services = f" (service start-up {results['services_seconds']:.1f} s)"
    else:
        scope, services = "Sections 4 and 5 only (`--xml-only`). ", ""
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `make bench` (`python -m benchmarks.run`); do not edit by hand. {scope}"
        f"Total benchmark time: {results['total_seconds']:.0f} s{services}. The machine is "
        "shared: the load averages below say how busy it was.",
        "",
        "## Machine",
        "",
        *_table(["", ""], [[k, v] for k, v in results["machine"].items()]),
        "",
    ]
    if "e2e" in results:
        lines += [
            *_generator_section(results["generator"], orders),
            *_e2e_section(results["e2e"]),
            *_render_section(results["render"], results["e2e"]["first"]["summary"]["sha256"]),
        ]
    lines += _synth_section(results["synth"])
    path.parent.mkdir(parents=True, exist_ok=True)
    # The periodic and risk benchmarks write their own sections: keep them.
    _, owned = sections(path.read_text() if path.exists() else "")
    lines += [part for m in SECTION_MARKERS if m in owned for part in ("", owned[m])]
    path.write_text("\n".join(lines) + "\n")


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
    parser.add_argument(
        "--records",
        type=int,
        default=None,
        help=f"full-field records of section 4 (default {SYNTH_RECORDS:,}; "
        f"with --quick {QUICK_SYNTH_RECORDS:,})",
    )
    parser.add_argument("--xml-only", action="store_true", help="sections 4 and 5 only: no "
                        "services (default output .regreport/bench/benchmarks-xml.md)")  # fmt: skip
    parser.add_argument("--step", nargs=2, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _run_all(settings: Settings, args: argparse.Namespace, orders: int) -> dict[str, Any]:
    results: dict[str, Any] = {"day": args.date, "orders": orders, "machine": machine()}
    log("machine: " + ", ".join(f"{k} {v}" for k, v in list(results["machine"].items())[:5]))
    if not args.xml_only:
        results["services_seconds"] = setup_services(settings, args.keep_state)
        results["generator"] = bench_generator(args.date, orders)
        results["e2e"] = bench_e2e(settings, args.date)
        records = results["e2e"]["first"]["summary"]["records"]
        with tempfile.TemporaryDirectory(dir=BENCH_HOME, prefix="render-") as work:
            results["render"] = bench_render(args.date, records, Path(work))
    synth = args.records or (QUICK_SYNTH_RECORDS if args.quick else SYNTH_RECORDS)
    BENCH_HOME.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=BENCH_HOME, prefix="synth-") as work:
        results["synth"] = bench_synth(synth, Path(work))
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
    if args.output:
        output = args.output
    elif args.xml_only:
        output = BENCH_HOME / "benchmarks-xml.md"
    else:
        output = BENCH_HOME / "benchmarks-quick.md" if args.quick else DOC_PATH
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
        if not args.xml_only:
            log("stopping the bench services")
            svc.stop(settings, ("postgres", "s3"), log=lambda line: log(f"  {line}"))
    log(f"done in {time.perf_counter() - _T0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
