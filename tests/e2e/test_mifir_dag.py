"""The MiFIR DAG end to end, through Airflow (`airflow dags test`), on the real services.

Each session reports a business day that has never been reported in the test state (archived
objects are locked and cannot be removed, so days are not reused), then reruns it, then shows
that a failing GX expectation stops the run before anything is archived.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from botocore.exceptions import ClientError

from regreport import archive, audit, ledger, local_airflow, registry, submissions
from regreport.config import Settings
from regreport.generator import correct_executions, generate
from regreport.pipeline import archive_key, reconcile_with_regulator, summary_path
from regreport.services import gateway
from regreport.xml.schema import validate_file

pytestmark = pytest.mark.e2e
DAG_ID = "mifir_transactions_daily"
ORDERS = 400
#: A valid ISIN (Apple Inc., check digit 5) for the source fix in the back-reporting test.
FIXED_ISIN = "US0378331005"
#: Records per file when the corrections test splits a submission.
PART_RECORDS = 100


def _run(settings: Settings, day: date, **params: object) -> int:
    """Run the DAG for `day`; the regulator's reference data first knows QSuite's instruments."""
    gateway.publish_source_instruments(settings)
    return local_airflow.dags_test(settings, DAG_ID, day.isoformat(), conf=params or None)


@pytest.fixture(scope="module")
def s3(services: Settings):
    return archive.s3_client(services)


@pytest.fixture(scope="module")
def prepared(services: Settings, gateway_service: Settings) -> Settings:
    local_airflow.prepare(services, log=lambda _line: None)
    return services


def _expected_counts(settings: Settings, day: date) -> tuple[int, int, int]:
    """From QSuite: the day's executions, those on the no-ISIN instrument (quarantined), and
    those not reportable (spot FX, internal transfers, busted fills)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    with psycopg.connect(settings.source_dsn) as conn:
        total, no_isin, excluded = conn.execute(
            """
            select count(*),
                   count(*) filter (where i.isin is null and i.instrument_type <> 'FX_SPOT'
                                    and e.exec_kind = 'TRADE' and e.status = 'LIVE'),
                   count(*) filter (where i.instrument_type = 'FX_SPOT'
                                    or e.exec_kind <> 'TRADE' or e.status <> 'LIVE')
            from qsuite.executions as e
            join qsuite.orders as o using (order_id)
            join qsuite.instruments as i using (instrument_id)
            where e.executed_at >= %s and e.executed_at < %s
            """,
            (start, start + timedelta(days=1)),
        ).fetchone()
    return total, no_isin, excluded


def _task_states(settings: Settings, day: date) -> dict[str, str]:
    """Task states of the latest run for `day`, from the Airflow metadata DB."""
    with psycopg.connect(settings.dsn(settings.airflow_db)) as conn:
        rows = conn.execute(
            """
            select ti.task_id, ti.state from task_instance as ti
            where ti.dag_id = %(dag)s and ti.run_id = (
                select run_id from dag_run where dag_id = %(dag)s
                and data_interval_start = %(start)s order by id desc limit 1
            )
            """,
            {"dag": DAG_ID, "start": datetime(day.year, day.month, day.day, tzinfo=UTC)},
        ).fetchall()
    return dict(rows)


def _break_isin_check_digit(settings: Settings, day: date) -> tuple[int, int]:
    """Give the day's most traded share a wrong ISIN check digit; return it and its fills.

    Fills counted are the reportable ones (live trades): those the gate must quarantine.
    """
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    with psycopg.connect(settings.source_dsn) as conn:
        instrument_id, isin, fills = conn.execute(
            """
            select i.instrument_id, i.isin, count(*) from qsuite.executions as e
            join qsuite.orders as o using (order_id)
            join qsuite.instruments as i using (instrument_id)
            where e.executed_at >= %s and e.executed_at < %s and i.instrument_type = 'SHARE'
              and i.isin is not null and e.status = 'LIVE' and e.exec_kind = 'TRADE'
            group by 1, 2 order by 3 desc, 1 limit 1
            """,
            (start, start + timedelta(days=1)),
        ).fetchone()
        wrong = isin[:-1] + str((int(isin[-1]) + 1) % 10)
        conn.execute(
            "update qsuite.instruments set isin = %s where instrument_id = %s",
            (wrong, instrument_id),
        )
    return instrument_id, fills


def _summary(settings: Settings, day: date) -> dict:
    return json.loads(summary_path(settings, day).read_text())


def _tx_actions(path: Path) -> list[tuple[str, str]]:
    """(action, TxId) of every record of a submission file, in file order."""
    from lxml import etree

    out = []
    for _, elem in etree.iterparse(str(path), tag="{*}Tx"):
        for child in elem:
            action = etree.QName(child).localname
            if action in ("New", "Cxl"):
                tx_id = next(c.text for c in child if etree.QName(c).localname == "TxId")
                out.append((action, tx_id))
        elem.clear()
    return out


def test_report_a_day_then_rerun_it(prepared: Settings, s3, fresh_day) -> None:
    settings = prepared
    day = fresh_day(settings, date(2026, 6, 1))
    stats = generate(settings.source_dsn, day, orders=ORDERS, seed=11)
    source, no_isin, excluded = _expected_counts(settings, day)
    assert source == stats.executions
    assert no_isin > 0
    assert excluded > 0
    # One share gets a wrong ISIN check digit: the right format (SQL checks and GX pass it),
    # so only the rule gate (RR-ISIN-002) can keep its fills out of the file.
    bad_instrument, bad_fills = _break_isin_check_digit(settings, day)
    assert bad_fills > 0

    assert _run(settings, day) == 0
    summary = _summary(settings, day)
    assert summary["new_report"] is True
    assert summary["already_archived"] is False
    assert summary["submission_seq"] == 1
    counts = summary["counts"]
    assert counts["source_executions"] == source
    assert counts["not_reportable"] == excluded
    assert counts["reported"] + counts["quarantined"] + counts["not_reportable"] == source
    # Records, not executions: a matched-principal fill is two records (client and market side).
    with psycopg.connect(settings.warehouse_dsn) as conn:
        records, executions, market_legs = conn.execute(
            "select count(*), count(distinct execution_id), count(*) filter (where leg = 'MARKET')"
            " from reports.rpt_mifir_rts22_transactions where trading_date = %s",
            (day,),
        ).fetchone()
    assert counts["reported"] == executions
    assert summary["records"] == summary["changes"]["new"] == records == executions + market_legs
    by_reason = {q["reason_code"]: q["count"] for q in summary["quarantine"]}
    assert by_reason["INSTRUMENT_ISIN_MISSING"] == no_isin
    assert by_reason["RR-ISIN-002"] == bad_fills
    assert counts["quarantined"] == no_isin + bad_fills

    [file] = summary["files"]
    report = Path(file["file"])
    checked = validate_file(report, settings.schemas_dir, settings.schema_version)
    assert checked.valid, checked.errors[:3]
    assert checked.records == summary["records"]
    manifest = json.loads(Path(file["manifest"]).read_text())
    assert manifest["sha256"] == file["sha256"]
    assert manifest["record_count"] == summary["records"]
    assert manifest["submission"]["new_reports"] == summary["records"]
    assert set(manifest["run_ids"]) == {"extract", "dbt", "gx"}

    # Submitted over SFTP and accepted by the regulator, every record.
    [sent] = summary["submission"]["files"]
    assert (sent["uploaded"], sent["already_submitted"]) == (True, False)
    [verdict] = summary["regulator"]["files"]
    assert verdict["status"] == "ACCEPTED"
    assert verdict["records"] == {"ACPT": summary["records"]}
    assert summary["regulator"]["exceptions"] == []
    inbox = gateway.firm_dir(settings) / "inbox"
    assert (inbox / report.name).read_bytes() == report.read_bytes()

    # Archived under COMPLIANCE retention, and the server refuses to delete it.
    key = archive_key(
        {"report_type": "mifir_rts22", "period_start": day.isoformat()},
        {"sha256": file["sha256"], "file_name": report.name},
    )
    head = s3.head_object(Bucket=settings.s3_bucket, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["VersionId"] == file["version_id"]
    retain = head["ObjectLockRetainUntilDate"].astimezone(UTC)
    assert retain > datetime.now(tz=UTC) + timedelta(days=settings.retention_days - 1)
    with pytest.raises(ClientError):
        s3.delete_object(Bucket=settings.s3_bucket, Key=key, VersionId=head["VersionId"])

    # Same input: same bytes, nothing archived twice, one registry row with two runs.
    assert _run(settings, day) == 0
    again = _summary(settings, day)
    assert again["rerun_of_submission"] == 1
    assert again["sha256"] == file["sha256"]
    assert again["already_archived"] is True
    assert again["new_report"] is False
    assert again["version_id"] == file["version_id"]
    versions = s3.list_object_versions(Bucket=settings.s3_bucket, Prefix=key)["Versions"]
    assert [v["Key"] for v in versions].count(key) == 1
    with psycopg.connect(settings.warehouse_dsn) as conn:
        rows = [r for r in registry.list_reports(conn) if r["period_start"] == day]
    assert len(rows) == 1
    assert rows[0]["runs"] == 2
    # ... and not submitted twice: the registry says it went out; the gateway has one file.
    [again_sent] = again["submission"]["files"]
    assert (again_sent["uploaded"], again_sent["already_submitted"]) == (False, True)
    assert again["regulator"]["files"][0]["status"] == "ACCEPTED"
    assert [p.name for p in inbox.iterdir() if p.name.endswith(f"{day:%Y%m%d}_S001_P01.xml")] == [
        report.name
    ]

    # Every step of both runs is in the audit log, whose chain verifies.
    with psycopg.connect(settings.warehouse_dsn) as conn:
        runs = {
            e.run_id
            for e in audit.iter_entries(conn)
            if e.action == "run.triggered"
            and e.after["params"].get("report_date") is None
            and e.object_id.startswith(f"{DAG_ID}/")
            and e.after["logical_date"][:10] == str(day)
        }
        assert len(runs) == 2
        actions: dict[str, set[str]] = {}
        for e in audit.iter_entries(conn):
            if e.run_id in runs:
                actions.setdefault(e.run_id, set()).add(e.action)
        assert audit.verify(conn).ok
        # Least privilege: the stages ran as their own logins, never the admin. What they
        # created belongs to their group roles, and none of them could create platform tables.
        owners = dict(
            conn.execute(
                """select schemaname, string_agg(distinct tableowner, ',') from pg_tables
                   where schemaname in ('raw', 'reports', 'regreport') group by 1"""
            ).fetchall()
        )
    assert owners == {
        "raw": "regreport_extract",
        "reports": "regreport_transform",
        "regreport": settings.pg_user,
    }
    expected = {
        "run.triggered",
        "extract",
        "rules.evaluate",
        "validate",
        "report.render",
        "report.register",
        "task.success",
    }
    assert all(expected <= a for a in actions.values()), actions
    # The file was archived and submitted once, by the first run; its feedback applied once.
    assert sum("report.archive" in a for a in actions.values()) == 1
    assert sum("report.submit" in a for a in actions.values()) == 1

    # Art. 15 reconciliation: every reported record matched; quarantined fills are missing.
    recon = reconcile_with_regulator(settings.warehouse_dsn, settings.source_dsn, day)
    assert recon["counts"]["MATCHED"] == summary["records"]
    assert recon["counts"]["FIELDS_DIFFER"] == recon["counts"]["UNKNOWN_TO_SOURCE"] == 0
    assert recon["counts"]["MISSING_AT_REGULATOR"] == counts["quarantined"]
    [mi] = [r for r in recon["mi"] if r["trading_date"] == day.isoformat()]
    assert (mi["records"], mi["accepted"], mi["rejected"]) == (summary["records"], mi["records"], 0)


def test_corrections_and_back_reporting(
    prepared: Settings, s3, monkeypatch: pytest.MonkeyPatch, fresh_day
) -> None:
    """Amended and busted fills are cancelled and re-reported the next day (in a submission
    split into several files); a source fix is back-reported for its own day as a second
    submission; every version stays linked."""
    settings = prepared
    day1 = fresh_day(settings, date(2026, 7, 1))
    day2 = fresh_day(settings, day1 + timedelta(days=1))
    generate(settings.source_dsn, day1, orders=ORDERS, seed=21)
    assert _run(settings, day1) == 0
    first = _summary(settings, day1)
    assert first["submission_seq"] == 1

    fills = "select execution_id, price, quantity, status from qsuite.executions"
    with psycopg.connect(settings.source_dsn) as conn:
        before = {r[0]: r[1:] for r in conn.execute(fills)}
        changed = correct_executions(conn, day1, day2, amend=2, cancel=1, seed=5)
        after = {r[0]: r[1:] for r in conn.execute(fills)}
    busted = [i for i in changed if after[i][2] == "CANCELLED"]
    # An amendment that found no other valid price or quantity changes only the version.
    amended = [i for i in changed if after[i][2] == "LIVE" and after[i][:2] != before[i][:2]]
    assert len(busted) == 1
    assert amended
    # Same seed: reference data (accounts, mandates) is a function of the seed.
    generate(settings.source_dsn, day2, orders=ORDERS, seed=21)
    monkeypatch.setenv("REGREPORT_MAX_RECORDS_PER_FILE", str(PART_RECORDS))
    assert _run(settings, day2) == 0
    monkeypatch.delenv("REGREPORT_MAX_RECORDS_PER_FILE")
    second = _summary(settings, day2)
    # Split: ceil(records / PART_RECORDS) files, all full but the last, each valid and
    # archived on its own; together they hold the submission in order.
    parts = second["files"]
    assert len(parts) == -(-second["records"] // PART_RECORDS) > 1
    assert [f["records"] for f in parts[:-1]] == [PART_RECORDS] * (len(parts) - 1)
    assert sum(f["records"] for f in parts) == second["records"]
    for f in parts:
        checked = validate_file(Path(f["file"]), settings.schemas_dir, settings.schema_version)
        assert checked.valid, checked.errors[:3]
        assert f["version_id"]
    with psycopg.connect(settings.warehouse_dsn) as conn:
        rows = [r for r in registry.list_reports(conn) if r["period_start"] == day2]
    assert sorted((r["submission_seq"], r["part"], r["part_count"]) for r in rows) == [
        (1, i, len(parts)) for i in range(1, len(parts) + 1)
    ]
    reported_day1 = {tx for _, tx in _tx_actions(Path(first["files"][0]["file"]))}
    # Only corrections of fills that day 1 actually reported are Cxl'd (a quarantined fill
    # that changes is simply re-evaluated).
    amended_tx = [f"QS{i}" for i in amended if f"QS{i}" in reported_day1]
    busted_tx = [f"QS{i}" for i in busted if f"QS{i}" in reported_day1]
    assert second["changes"]["amended"] == len(amended_tx)
    assert second["changes"]["cancelled"] == len(busted_tx)
    actions = [a for f in parts for a in _tx_actions(Path(f["file"]))]
    assert len(actions) == second["records"]
    cancels = [tx for action, tx in actions if action == "Cxl"]
    assert cancels == sorted(amended_tx + busted_tx)
    assert actions[: len(cancels)] == [("Cxl", tx) for tx in cancels]  # Cxls come first
    news = {tx for action, tx in actions if action == "New"}
    assert set(amended_tx) <= news
    assert not set(busted_tx) & news
    with psycopg.connect(settings.warehouse_dsn) as conn:
        for tx in amended_tx:
            history = ledger.history(conn, tx)
            assert [h["action"] for h in history] == ["NEWT", "CANC", "NEWT"]
            assert [h["period_start"] for h in history] == [day1, day2, day2]
            assert history[2]["original_entry_id"] == history[0]["entry_id"]
            assert history[2]["supersedes_entry_id"] == history[1]["entry_id"]
            assert history[0]["record_sha256"] != history[2]["record_sha256"]
        for tx in busted_tx:
            assert [h["action"] for h in ledger.history(conn, tx)] == ["NEWT", "CANC"]

    # The source fixes the missing ISIN: back-reporting day 1 sends the formerly quarantined
    # fills as a second submission for day 1, and nothing else.
    with psycopg.connect(settings.source_dsn) as conn:
        quarantined = [
            f"QS{r[0]}"
            for r in conn.execute(
                """
                select e.execution_id from qsuite.executions as e
                join qsuite.orders as o using (order_id)
                join qsuite.instruments as i using (instrument_id)
                where e.executed_at >= %s and e.executed_at < %s and i.isin is null
                  and i.instrument_type <> 'FX_SPOT' and e.exec_kind = 'TRADE'
                  and e.status = 'LIVE'
                """,
                (day1, day1 + timedelta(days=1)),
            )
        ]
        conn.execute(
            "update qsuite.instruments set isin = %s where isin is null"
            " and instrument_type <> 'FX_SPOT'",
            (FIXED_ISIN,),
        )
    assert quarantined
    assert _run(settings, day1) == 0
    third = _summary(settings, day1)
    assert third["submission_seq"] == 2
    assert third["changes"]["new"] == len(quarantined)
    assert third["changes"]["amended"] == third["changes"]["cancelled"] == 0
    assert sorted(tx for _, tx in _tx_actions(Path(third["files"][0]["file"]))) == sorted(
        quarantined
    )


def test_failing_expectation_stops_the_upload(
    prepared: Settings, s3, monkeypatch: pytest.MonkeyPatch, fresh_day, tmp_path: Path
) -> None:
    """A failing GX expectation stops the run before anything is rendered, and nothing leaves.

    The rule gate quarantines every defect the suite also checks (a malformed venue
    transaction id is RR-MIC-005 now, see test_mifir_bad_data), so the suite here is a copy
    with one stricter expectation a firm might add, which this day's rows fail.
    """
    settings = prepared
    day = fresh_day(settings, date(2026, 8, 3))
    generate(settings.source_dsn, day, orders=ORDERS, seed=12)
    gx_root = tmp_path / "expectations"
    shutil.copytree(settings.gx_root_dir, gx_root, ignore=shutil.ignore_patterns("uncommitted"))
    suite_path = gx_root / "gx" / "expectations" / "rpt__mifir_rts22_transactions.json"
    suite = json.loads(suite_path.read_text())
    suite["expectations"].append(
        {
            "id": "00000000-0000-4000-8000-000000000016",
            "kwargs": {"column": "quantity", "max_value": 0.5},
            "meta": {"rule_code": "TEST-QUANTITY-CAP"},
            "severity": "critical",
            "type": "expect_column_values_to_be_between",
        }
    )
    suite_path.write_text(json.dumps(suite, indent=2))
    monkeypatch.setenv("REGREPORT_GX_ROOT_DIR", str(gx_root))
    monkeypatch.setenv("REGREPORT_TASK_RETRIES", "0")
    assert _run(settings, day) != 0
    states = _task_states(settings, day)
    assert states["extract_period"] == "success"
    assert states["apply_rules"] == "success"
    assert states["dbt_reports.rpt_mifir_rts22_transactions_model_build"] == "success"
    assert states["validate_report"] == "failed"
    for blocked in ("render_report", "archive_report", "register_report"):
        assert states[blocked] == "upstream_failed", (blocked, states[blocked])
    listed = s3.list_object_versions(
        Bucket=settings.s3_bucket, Prefix=f"mifir_rts22/{day:%Y/%m/%d}/"
    )
    assert not listed.get("Versions")
    assert not summary_path(settings, day).exists()
    out_dir = settings.output_dir / "mifir_rts22" / f"{day:%Y/%m/%d}"
    assert not list(out_dir.glob("*.xml"))
    with psycopg.connect(settings.warehouse_dsn) as conn:
        assert not [r for r in registry.list_reports(conn) if r["period_start"] == day]


def test_rejected_record_is_fixed_and_resubmitted(prepared: Settings, s3, fresh_day) -> None:
    """The regulator rejects one record; it is listed as an exception; resubmitting without a
    fix sends nothing; after the source fix the resubmission run sends exactly that record,
    linked to the rejected version, and the regulator accepts it."""
    settings = prepared
    day = fresh_day(settings, date(2026, 8, 3))
    generate(settings.source_dsn, day, orders=ORDERS, seed=31)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    with psycopg.connect(settings.source_dsn) as conn:
        (execution_id,) = conn.execute(
            """
            select e.execution_id from qsuite.executions as e
            join qsuite.orders as o using (order_id)
            join qsuite.instruments as i using (instrument_id)
            where e.executed_at >= %s and e.executed_at < %s and i.instrument_type = 'SHARE'
              and i.isin is not null and e.status = 'LIVE' and e.exec_kind = 'TRADE'
              and e.trading_capacity = 'AOTC'
            order by e.execution_id limit 1
            """,
            (start, start + timedelta(days=1)),
        ).fetchone()
    tx_id = f"QS{execution_id}"
    # The regulator (simulator) will reject that record in the day's first submission only.
    config = settings.gateway_root / "gateway.toml"
    original = config.read_text()
    config.write_text(
        original
        + f"""
[[outcomes]]
file_name = "*_{day:%Y%m%d}_S001_P01.xml"
tx_id = "{tx_id}"
record_status = "RJCT"
rule_id = "CON-351"
rule_desc = "Price is not consistent with the reference data"

[[outcomes]]
file_name = "*_{day:%Y%m%d}_S001_P01.xml"
delay_seconds = 8
"""
    )
    gateway.stop(settings, log=lambda _line: None)
    gateway.start(settings, log=lambda _line: None)
    try:
        assert _run(settings, day) == 0
    finally:
        config.write_text(original)
        gateway.stop(settings, log=lambda _line: None)
        gateway.start(settings, log=lambda _line: None)
    first = _summary(settings, day)
    # The feedback came 8 s after the upload: await_feedback deferred to the outbox trigger
    # (run inline by `dags test`) and resumed when the advice appeared.
    assert _task_states(settings, day)["await_feedback"] == "success"
    assert first["regulator"]["deferrals"] >= 1
    [verdict] = first["regulator"]["files"]
    assert verdict["status"] == "PARTIALLY_ACCEPTED"
    assert verdict["records"] == {"ACPT": first["records"] - 1, "RJCT": 1}
    assert [(e["tx_id"], e["rule_id"]) for e in first["regulator"]["exceptions"]] == [
        (tx_id, "CON-351")
    ]
    with psycopg.connect(settings.warehouse_dsn) as conn:
        assert [e.tx_id for e in submissions.exceptions(conn)] == [tx_id]

    # Resubmitting before any fix sends nothing: the same record would be rejected again.
    assert _run(settings, day, report_date=day.isoformat(), only_rejected=True) == 0
    held = _summary(settings, day)
    assert held["files"] == []
    assert held["changes"]["held_back"] == 1

    # The source is fixed; the resubmission sends exactly the rejected record, as a New.
    with psycopg.connect(settings.source_dsn) as conn:
        conn.execute(
            "update qsuite.executions set price = price + 0.01 where execution_id = %s",
            (execution_id,),
        )
    assert _run(settings, day, report_date=day.isoformat(), only_rejected=True) == 0
    fixed = _summary(settings, day)
    [part] = fixed["files"]
    assert _tx_actions(Path(part["file"])) == [("New", tx_id)]
    assert fixed["submission_seq"] == 2
    assert fixed["changes"]["resubmitted"] == 1
    assert fixed["regulator"]["files"][0]["status"] == "ACCEPTED"
    with psycopg.connect(settings.warehouse_dsn) as conn:
        history = ledger.history(conn, tx_id)
        assert [h["action"] for h in history] == ["NEWT", "NEWT"]
        assert history[1]["supersedes_entry_id"] == history[0]["entry_id"]
        assert history[1]["original_entry_id"] == history[0]["entry_id"]
        assert [e.tx_id for e in submissions.exceptions(conn)] == []
        assert [e.tx_id for e in submissions.exceptions(conn, include_resolved=True)] == [tx_id]
    recon = reconcile_with_regulator(settings.warehouse_dsn, settings.source_dsn, day)
    assert recon["counts"]["MATCHED"] == first["records"]
