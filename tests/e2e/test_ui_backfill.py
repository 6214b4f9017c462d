"""A compliance user backfills MiFIR reports from the Airflow UI, in a real browser.

Headless Chromium (Debian's package, driven by Playwright) logs into the running local Airflow
as the operator, opens the trigger form of `mifir_transactions_daily`, picks Backfill, a date
range and the run parameters, and starts it. The test then waits for the backfill's runs and
checks what a compliance officer would: each day's report is archived under Object Lock,
registered once and submitted once, even though a colleague reran the second day by hand while
the backfill ran, and the audit trail says who started each run with which parameters. A
second, overlapping backfill is refused, and so is a viewer (the auditor) who tries the same.
"""

from __future__ import annotations

import os
import shutil
import time
import urllib.error
from collections.abc import Iterator
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from regreport import archive, audit, registry, submissions
from regreport.config import Settings
from regreport.generator import generate
from regreport.timetables import next_business_day

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from tests.e2e.conftest import AirflowApi

pytestmark = pytest.mark.e2e
DAG_ID = "mifir_transactions_daily"
CHROMIUM = os.environ.get("REGREPORT_CHROMIUM", "/usr/bin/chromium")
#: Chromium flags for a closed network and a root user (see shared stack/FACTS.md).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None and not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} not found: `make install` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _sign_in(browser: Browser, ui: str, airflow_api: AirflowApi, user: str) -> Page:
    """A new browser session, signed in through the UI's login form, on the DAG's page."""
    page = browser.new_context(viewport={"width": 1400, "height": 1400}).new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{ui}/dags/{DAG_ID}")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(airflow_api.password(user))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**/dags/{DAG_ID}**")
    page.get_by_role("button", name="Trigger").first.wait_for()
    return page


def _pick(page: Page, field: int, day: date) -> None:
    """Fill the backfill form's From (0) or To (1) date-time picker with `day` 00:00 UTC."""
    dialog = page.get_by_role("dialog")
    dialog.get_by_test_id("datetime-input").nth(field).click()
    picker = page.locator("[data-scope=popover][data-part=content][data-state=open]")
    picker.get_by_placeholder("YYYY/MM/DD").fill(f"{day:%Y/%m/%d}")
    picker.get_by_placeholder("HH:mm").fill("00:00")
    dialog.get_by_text("Date Range").click()  # close the picker
    picker.wait_for(state="hidden")


def _fill_backfill(page: Page, start: date, end: date) -> None:
    """Open Trigger, choose Backfill, set the range and the run parameters."""
    page.get_by_role("button", name="Trigger").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Backfill", exact=True).click()
    dialog.get_by_role("button", name="Run Backfill").wait_for()
    _pick(page, 0, start)
    _pick(page, 1, end)
    # Run parameters: a first report of these days, not a resubmission of rejected records.
    resubmit = dialog.locator("input[name=element_only_rejected]")
    assert not resubmit.is_checked()
    assert not dialog.locator("input[name=element_resend_unchanged]").is_checked()
    assert dialog.locator("input[name=element_report_date]").input_value() == ""


def _backfills(airflow_api: AirflowApi, token: str) -> list[dict[str, Any]]:
    reply = airflow_api.call(f"/api/v2/backfills?dag_id={DAG_ID}&limit=100", token)
    return list(reply["backfills"])


def _runs(airflow_api: AirflowApi, token: str, run_type: str | None = None) -> list[dict]:
    query = f"&run_type={run_type}" if run_type else ""
    reply = airflow_api.call(f"/api/v2/dags/{DAG_ID}/dagRuns?limit=1000{query}", token)
    return [r for r in reply["dag_runs"] if r.get("data_interval_start")]


def _backfill_runs(airflow_api: AirflowApi, token: str, start: date, end: date) -> list[dict]:
    """Backfill runs whose data interval starts in [start, end] (a run's logical date is its
    run-after instant, the morning after its day)."""
    return [
        r
        for r in _runs(airflow_api, token, "backfill")
        if str(start) <= r["data_interval_start"][:10] <= str(end)
    ]


@pytest.mark.timeout(1800)  # three MiFIR runs one after the other, behind a scheduled one
def test_an_operator_backfills_a_range_and_a_viewer_cannot(
    browser: Browser, ui: str, airflow_api: AirflowApi, services: Settings, fresh_day
) -> None:
    settings = services
    admin = airflow_api.login("admin")
    airflow_api.wait_for_dag(admin, DAG_ID)
    # Two consecutive weekdays never reported and never run (a run of a day would make the
    # backfill skip it).
    ran = {r["data_interval_start"][:10] for r in _runs(airflow_api, admin)}
    day1 = fresh_day(settings, date(2026, 10, 5))
    while True:
        day2 = next_business_day(day1 + timedelta(days=1))
        if fresh_day(settings, day2) == day2 and not {str(day1), str(day2)} & ran:
            break
        day1 = fresh_day(settings, day2 + timedelta(days=1))
    for seed, day in ((51, day1), (52, day2)):
        generate(settings.source_dsn, day, orders=300, seed=seed)
    before = {b["id"] for b in _backfills(airflow_api, admin)}

    # The viewer can open the form, but the server refuses even the preview of the runs, so
    # the form never enables "Run Backfill"; the API refuses the backfill itself too.
    page = _sign_in(browser, ui, airflow_api, "auditor")
    with page.expect_response("**/api/v2/backfills/dry_run") as preview:
        _fill_backfill(page, day1, day2)
    assert preview.value.status == 403
    assert page.get_by_role("dialog").get_by_role("button", name="Run Backfill").is_disabled()
    page.context.close()
    body = {"dag_id": DAG_ID, "from_date": f"{day1}T00:00:00Z", "to_date": f"{day2}T00:00:00Z"}
    with pytest.raises(urllib.error.HTTPError) as refused:
        airflow_api.call("/api/v2/backfills", airflow_api.login("auditor"), body, "POST")
    assert refused.value.code == 403
    assert {b["id"] for b in _backfills(airflow_api, admin)} == before
    assert _backfill_runs(airflow_api, admin, day1, day2) == []

    # The operator starts it.
    page = _sign_in(browser, ui, airflow_api, "operator")
    _fill_backfill(page, day1, day2)
    page.get_by_text("2 runs will be triggered").wait_for()
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/backfills")) as sent:
        page.get_by_role("dialog").get_by_role("button", name="Run Backfill").click()
    assert sent.value.post_data_json["reprocess_behavior"] == "none"  # only missing days
    page.get_by_role("dialog").wait_for(state="hidden")
    page.context.close()
    created = [b for b in _backfills(airflow_api, admin) if b["id"] not in before]
    assert len(created) == 1
    backfill = created[0]
    assert backfill["from_date"].startswith(str(day1))
    assert backfill["to_date"].startswith(str(day2))
    # An overlapping backfill of the same report is refused while this one runs.
    body = {"dag_id": DAG_ID, "from_date": f"{day2}T00:00:00Z", "to_date": f"{day2}T00:00:00Z"}
    operator = airflow_api.login("operator")
    with pytest.raises(urllib.error.HTTPError) as overlapping:
        airflow_api.call("/api/v2/backfills", operator, body, "POST")
    assert overlapping.value.code == 409

    # Meanwhile a colleague reruns the second day by hand: the runs take turns in the
    # warehouse (the build lease) and the day is filed once.
    manual_id = f"test_ui_overlap_{day2:%Y%m%d}_{int(time.time())}"
    body = {"dag_run_id": manual_id, "logical_date": None, "conf": {"report_date": str(day2)}}
    airflow_api.call(f"/api/v2/dags/{DAG_ID}/dagRuns", operator, body, "POST")

    deadline = time.monotonic() + 1500
    runs: list[dict] = []
    manual = "queued"
    while time.monotonic() < deadline:
        runs = _backfill_runs(airflow_api, admin, day1, day2)
        manual = airflow_api.call(f"/api/v2/dags/{DAG_ID}/dagRuns/{manual_id}", admin)["state"]
        done = [r["state"] in ("success", "failed") for r in runs]
        if len(runs) == 2 and all(done) and manual in ("success", "failed"):
            break
        time.sleep(5)
    assert manual == "success"
    assert sorted((r["data_interval_start"][:10], r["state"]) for r in runs) == [
        (str(day1), "success"),
        (str(day2), "success"),
    ]

    client = archive.s3_client(settings)
    with psycopg.connect(settings.warehouse_dsn) as conn:
        for day in (day1, day2):
            rows = [r for r in registry.list_reports(conn) if r["period_start"] == day]
            assert [r["status"] for r in rows] == ["ARCHIVED"]
            bucket, _, key = rows[0]["s3_uri"].removeprefix("s3://").partition("/")
            head = client.head_object(Bucket=bucket, Key=key, VersionId=rows[0]["s3_version_id"])
            assert head["ObjectLockMode"] == "COMPLIANCE"
            status = submissions.status(conn, rows[0]["report_id"])
            assert status.remote_name == rows[0]["file_name"]
            uploads = conn.execute(
                """select count(*) from regreport.submission_events
                   where report_id = %s and event = 'SUBMITTED'""",
                (rows[0]["report_id"],),
            ).fetchone()
            assert uploads == (1,), (day, uploads)
        # Both runs of day 2 held the build lease in turn, and gave it back.
        claims = conn.execute(
            """select run_id from regreport.run_metrics
               where dag_id = %s and step = 'claim_period' and state = 'success'
                 and period_start = %s""",
            (DAG_ID, day2),
        ).fetchall()
        assert {r[0] for r in claims} >= {manual_id}
        assert len(claims) == 2
        ours = [f"{DAG_ID}/{r['dag_run_id']}" for r in runs] + [f"{DAG_ID}/{manual_id}"]
        held = conn.execute(
            "select count(*) from regreport.build_leases where holder = any(%s)", (ours,)
        ).fetchone()
        assert held == (0,)
        # Who started each run, and with which parameters, is in the audit trail.
        run_ids = {r["dag_run_id"] for r in runs}
        triggered = [
            e
            for e in audit.iter_entries(conn)
            if e.action == "run.triggered" and e.run_id in run_ids
        ]
    assert sorted(e.run_id for e in triggered) == sorted(run_ids)
    for entry in triggered:
        assert entry.actor == "operator"
        assert entry.after["run_type"] == "backfill"
        assert entry.after["params"] == {
            "only_rejected": False,
            "report_date": None,
            "resend_unchanged": False,
        }
