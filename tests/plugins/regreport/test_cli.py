"""The `regreport` command line, driven in-process through click's `CliRunner`.

`validate` runs against the golden auth.016 file and copies of it broken on purpose (unit: only
the ESMA XSDs from configuration are needed). `reports list` and `services status` run against
the test PostgreSQL cluster (integration); `reports list` uses a database of its own, created
and dropped here, so rows from other tests or the demo never show up.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click
import psycopg
import pytest
from click.testing import CliRunner, Result
from lxml import etree
from psycopg import sql

from regreport import registry
from regreport.cli import main
from regreport.config import Settings

GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "mifir" / "auth016_two_records.xml"
OTHER_TOOL = GOLDEN.with_name("auth016_other_tool_bad_lei.xml")
BAD_CHECK_DIGITS_LEI = "969500QSCLIENT000178"
FIRM_LEI = "529900T8BM49AURSDO55"
CLI_DB = "regreport_cli_test"


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=True)


def _no_traceback(result: Result) -> None:
    """The command ended through click (exit code), not through an unexpected exception."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output


def _line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not found")


def _record_count(path: Path) -> int:
    # `Tx` also names the trade block New/Tx; a record is FinInstrmRptgTxRpt/Tx only.
    return len(etree.parse(str(path)).getroot().findall(".//{*}FinInstrmRptgTxRpt/{*}Tx"))


def _derived(tmp_path: Path, name: str, old: str, new: str) -> tuple[Path, str]:
    """A copy of the golden file with the first `old` replaced by `new`."""
    text = GOLDEN.read_text(encoding="utf-8")
    assert old in text
    text = text.replace(old, new, 1)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path, text


# -- validate -------------------------------------------------------------------------------


@pytest.mark.unit
def test_validate_golden_file_is_valid(tmp_path: Path) -> None:
    expected = _record_count(GOLDEN)
    assert expected == 2  # the fixture by hand: two FinInstrmRptgTxRpt/Tx records
    # The fixture reports a country of branch membership off venue (RR-MIC-004, see
    # test_validate_content_error_in_golden_file); without it, only a warning remains.
    path, _ = _derived(
        tmp_path,
        "clean.xml",
        "<TradVn>XOFF</TradVn><CtryOfBrnch>FR</CtryOfBrnch>",
        "<TradVn>XOFF</TradVn>",
    )

    result = _invoke("validate", str(path))

    _no_traceback(result)
    assert result.exit_code == 0, result.output
    assert "valid" in result.output
    assert "INVALID" not in result.output
    assert f"({expected} transactions)" in result.output
    # Warnings are listed, and do not fail the file.
    assert "warning RR-VAL-004 price:" in result.output
    assert "2 records checked: 0 error(s), 1 warning(s)" in result.output


@pytest.mark.unit
def test_validate_content_error_in_golden_file() -> None:
    result = _invoke("validate", str(GOLDEN))

    _no_traceback(result)
    assert result.exit_code == 1, result.output
    assert "record 2 TxId QS20261126000002: error RR-MIC-004 country_of_branch:" in result.output
    assert "INVALID: 1 rule error(s)" in result.output


@pytest.mark.unit
@pytest.mark.parametrize("wrap", [False, True], ids=["bare-document", "bizdata-envelope"])
def test_validate_other_tools_file_with_bad_lei_check_digits(tmp_path: Path, wrap: bool) -> None:
    """Schema-valid, but the buyer's LEI has wrong check digits: exit 1, RR-LEI-002 / CON-070."""
    path = OTHER_TOOL
    if wrap:
        envelope = GOLDEN.read_text(encoding="utf-8")
        start = envelope.index("<Document")
        end = envelope.index("</Document>") + len("</Document>")
        text = OTHER_TOOL.read_text(encoding="utf-8")
        path = tmp_path / "enveloped.xml"
        path.write_text(
            envelope[:start] + text[text.index("<auth:Document") :].strip() + envelope[end:],
            encoding="utf-8",
        )

    result = _invoke("validate", str(path))

    _no_traceback(result)
    assert result.exit_code == 1, result.output
    (line,) = [o for o in result.output.splitlines() if "error RR-LEI-002" in o]
    assert "record 1 TxId OTHERTOOL0001: error RR-LEI-002 (CON-070) buyer_id:" in line
    assert "check digits" in line
    assert "2 records checked: 1 error(s), 0 warning(s), 1 record(s) rejected" in result.output
    assert "(RR-LEI-002 1)" in result.output
    assert "INVALID" in result.output
    assert BAD_CHECK_DIGITS_LEI not in result.output  # masked without --show-values


@pytest.mark.unit
def test_validate_json_format() -> None:
    result = CliRunner().invoke(main, ["validate", str(OTHER_TOOL), "--format", "json"])

    _no_traceback(result)
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert report["schema"]["valid"] is True
    assert (report["records"], report["errors"], report["warnings"]) == (2, 1, 0)
    assert report["by_code"] == {"RR-LEI-002": 1}
    (finding,) = report["findings"]
    assert finding["code"] == "RR-LEI-002"
    assert finding["esma_rule"] == "CON-070"
    assert [finding[k] for k in ("index", "tx_id", "field")] == [1, "OTHERTOOL0001", "buyer_id"]
    assert finding["severity"] == "error"
    assert "value" not in finding
    assert BAD_CHECK_DIGITS_LEI not in result.stdout


@pytest.mark.unit
def test_validate_json_format_on_a_schema_error(tmp_path: Path) -> None:
    path, _ = _derived(
        tmp_path, "bad_lei.xml", f"<ExctgPty>{FIRM_LEI}</ExctgPty>", "<ExctgPty>BAD</ExctgPty>"
    )

    result = CliRunner().invoke(main, ["validate", str(path), "--format", "json"])

    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["schema"]["valid"] is False
    assert report["schema"]["errors"]
    assert report["content_checked"] is False


@pytest.mark.unit
def test_validate_bad_lei_reports_file_and_line(tmp_path: Path) -> None:
    path, text = _derived(
        tmp_path,
        "bad_lei.xml",
        f"<ExctgPty>{FIRM_LEI}</ExctgPty>",
        "<ExctgPty>BAD</ExctgPty>",
    )
    line = _line_of(text, "<ExctgPty>BAD</ExctgPty>")

    result = _invoke("validate", str(path))

    _no_traceback(result)
    assert result.exit_code == 1, result.output
    assert f"{path}:{line}:" in result.output
    located = [o for o in result.output.splitlines() if o.startswith(f"{path}:{line}:")]
    assert any("ExctgPty" in o for o in located), result.output
    assert "INVALID" in result.output
    # Values are left out unless asked for: in a real file they may be names or national ids.
    assert "'BAD'" not in result.output


@pytest.mark.integration
def test_show_values_is_audited(
    tmp_path: Path, cli_env: str, pg_services: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seeing values (possibly personal data) leaves an audit entry: who, which file, when."""
    import getpass

    from regreport import audit

    path, _ = _derived(
        tmp_path, "bad_lei.xml", f"<ExctgPty>{FIRM_LEI}</ExctgPty>", "<ExctgPty>BAD</ExctgPty>"
    )
    shown = _invoke("validate", str(path), "--show-values")
    assert "'BAD'" in shown.output
    with psycopg.connect(pg_services.dsn(cli_env)) as conn:
        entries = [e for e in audit.iter_entries(conn) if e.action == "personal_data.access"]
    assert [(e.actor, e.object_id) for e in entries] == [
        (f"os:{getpass.getuser()}", str(path.resolve()))
    ]

    # No audit log, no values: the command refuses rather than show them unrecorded.
    monkeypatch.setenv("REGREPORT_WAREHOUSE_DSN", "postgresql://nobody@127.0.0.1:1/none")
    refused = _invoke("validate", str(path), "--show-values")
    _no_traceback(refused)
    assert refused.exit_code == 1
    assert "'BAD'" not in refused.output
    assert "audited" in refused.output


@pytest.mark.unit
def test_validate_not_well_formed_reports_line(tmp_path: Path) -> None:
    path, text = _derived(
        tmp_path, "broken.xml", "<TradVn>XPAR</TradVn>", "<TradVn>XPAR</TradVenue>"
    )
    line = _line_of(text, "</TradVenue>")

    result = _invoke("validate", str(path))

    _no_traceback(result)
    assert result.exit_code == 1, result.output
    assert f"{path}:{line}:" in result.output
    assert "INVALID" in result.output


@pytest.mark.unit
def test_validate_missing_schemas_dir_is_a_clean_error() -> None:
    result = _invoke("validate", str(GOLDEN), "--schemas-dir", "/nonexistent")

    _no_traceback(result)
    assert result.exit_code != 0
    assert result.exit_code == click.ClickException.exit_code
    assert "Error:" in result.output
    assert "/nonexistent" in result.output
    assert "REGREPORT_SCHEMAS_DIR" in result.output


@pytest.mark.unit
def test_validate_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = _invoke("validate", str(tmp_path / "absent.xml"))

    _no_traceback(result)
    assert result.exit_code == 2
    assert "does not exist" in result.output


# -- reports list ---------------------------------------------------------------------------

SHA256 = hashlib.sha256(b"regreport cli test report").hexdigest()
S3_URI = "s3://regreport-archive/mifir_rts22/2026/11/26/report.xml"
PERIOD = date(2026, 11, 26)


@pytest.fixture(scope="module")
def cli_warehouse(pg_services: Settings) -> Iterator[str]:
    """A dedicated warehouse database holding one registry row; dropped afterwards."""
    admin = pg_services.dsn("postgres")
    drop = sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(CLI_DB))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(drop)
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(CLI_DB)))
    try:
        with psycopg.connect(pg_services.dsn(CLI_DB)) as conn:
            registry.register(
                conn,
                report_type="mifir_rts22",
                period_start=PERIOD,
                period_end=date(2026, 11, 27),
                file_name="report.xml",
                sha256=SHA256,
                record_count=1234,
                size=56789,
                status="archived",
                s3_uri=S3_URI,
                s3_version_id="v1",
                retain_until=datetime(2032, 11, 27, tzinfo=UTC),
                manifest={"records": 1234},
                dag_run_id="manual__2026-11-27",
            )
        yield CLI_DB
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(drop)


@pytest.fixture
def cli_env(cli_warehouse: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the CLI's settings at the dedicated warehouse."""
    monkeypatch.setenv("REGREPORT_WAREHOUSE_DB", cli_warehouse)
    monkeypatch.delenv("REGREPORT_WAREHOUSE_DSN", raising=False)
    return cli_warehouse


@pytest.mark.integration
@pytest.mark.usefixtures("cli_env")
def test_reports_list_json_contains_the_registered_row() -> None:
    result = _invoke("reports", "list", "--json")

    _no_traceback(result)
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.output)
    assert len(rows) == 1
    row = rows[0]
    assert row["sha256"] == SHA256
    assert row["record_count"] == 1234
    assert row["s3_uri"] == S3_URI
    assert row["report_type"] == "mifir_rts22"
    assert row["period_start"] == PERIOD.isoformat()
    assert row["runs"] == 1


@pytest.mark.integration
@pytest.mark.usefixtures("cli_env")
def test_reports_list_json_filters_by_type() -> None:
    result = _invoke("reports", "list", "--json", "--type", "other")

    _no_traceback(result)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == []


@pytest.mark.integration
@pytest.mark.usefixtures("cli_env")
def test_reports_list_table_shows_period_and_short_sha() -> None:
    result = _invoke("reports", "list")

    _no_traceback(result)
    assert result.exit_code == 0, result.output
    assert PERIOD.isoformat() in result.output
    assert SHA256[:12] in result.output
    assert SHA256 not in result.output
    assert S3_URI in result.output


# -- services status ------------------------------------------------------------------------


@pytest.mark.integration
def test_services_status_json(pg_services: Settings) -> None:
    result = _invoke("services", "status", "--json")

    _no_traceback(result)
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert set(status) == {"postgres", "s3", "gateway"}
    postgres = status["postgres"]
    assert postgres["running"] is True
    assert isinstance(postgres["pid"], int)
    assert f":{pg_services.pg_port}/" in postgres["endpoint"]


# -- wiring ---------------------------------------------------------------------------------


def _command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield prefix
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _command_paths(command, (*prefix, name))
        else:
            yield (*prefix, name)


COMMANDS = list(_command_paths(main))


@pytest.mark.unit
def test_every_documented_command_is_wired() -> None:
    names = {" ".join(path) for path in COMMANDS}
    assert {
        "services start",
        "services stop",
        "services status",
        "generate",
        "run",
        "demo",
        "reports list",
        "validate",
        "ui start",
        "ui stop",
        "risk rules seed",
        "risk rules list",
        "risk rules set",
        "risk backtest",
        "deadlines",
        "alerts list",
        "alerts test",
        "alerts resolve",
        "runs",
        "leases list",
        "leases release",
    } <= names


@pytest.mark.unit
@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "regreport")
def test_help(path: tuple[str, ...]) -> None:
    result = _invoke(*path, "--help")

    _no_traceback(result)
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


@pytest.mark.integration
@pytest.mark.usefixtures("cli_env")
def test_exceptions_on_a_registry_without_feedback() -> None:
    # The file was registered but no feedback arrived: nothing is rejected yet.
    result = _invoke("exceptions")
    _no_traceback(result)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "no rejected records awaiting resubmission"
    as_json = _invoke("exceptions", "--json")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output) == {"rejected": [], "amendments_held": []}


@pytest.mark.integration
@pytest.mark.usefixtures("cli_env")
def test_reconcile_before_any_report_says_what_to_do() -> None:
    """A warehouse that never ran the report has nothing to reconcile: say so, no traceback."""
    result = _invoke("reconcile", "--date", "1999-01-04")
    _no_traceback(result)
    assert result.exit_code == 1
    assert "does not exist in this warehouse yet" in result.output
    assert "mifir_transactions_daily" in result.output


@pytest.mark.integration
@pytest.mark.usefixtures("cli_env")
def test_risk_rules_are_versioned_with_who_and_why(monkeypatch: pytest.MonkeyPatch) -> None:
    """A change is a new version with its actor and reason; the history keeps both."""
    monkeypatch.setenv("REGREPORT_ACTOR", "compliance:jdoe")
    created = _invoke(
        "risk", "rules", "set", "CLI-CREDIT", "--type", "CREDIT_LIMIT", "--threshold", "5000",
        "--account", "ACC-1", "--effective-from", "2026-01-05", "--reason", "new client",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert created.output.startswith("CLI-CREDIT v1: rule-set version ")
    changed = _invoke("risk", "rules", "set", "CLI-CREDIT", "--threshold", "7500",
                      "--reason", "limit review")  # fmt: skip
    assert changed.exit_code == 0, changed.output
    assert changed.output.startswith("CLI-CREDIT v2: ")
    refused = _invoke("risk", "rules", "set", "CLI-BAD", "--type", "CREDIT_LIMIT",
                      "--effective-from", "2026-01-05", "--reason", "no threshold")  # fmt: skip
    _no_traceback(refused)
    assert refused.exit_code != 0
    history = _invoke("risk", "rules", "list", "--history")
    lines = [line for line in history.output.splitlines() if "CLI-CREDIT" in line]
    assert len(lines) == 2
    assert "threshold 5000" in lines[0]
    assert "by compliance:jdoe: new client" in lines[0]
    assert "threshold 7500" in lines[1]
    assert "limit review" in lines[1]
    latest = _invoke("risk", "rules", "list")
    assert [line for line in latest.output.splitlines() if "CLI-CREDIT" in line] == [lines[1]]


# -- operations: deadlines, alerts, runs, leases --------------------------------------------


@pytest.mark.integration
@pytest.mark.usefixtures("cli_env")
def test_a_report_never_sent_is_alerted_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The registered 26 Nov file was never submitted: due Sat 28 Nov 00:00 UTC, missed."""
    log_file = tmp_path / "alerts.log"
    monkeypatch.setenv("REGREPORT_ALERT_CHANNELS", "log")
    monkeypatch.setenv("REGREPORT_ALERT_LOG", str(log_file))
    args = ("deadlines", "--at", "2026-11-28T12:00", "--since", "2026-11-26",
            "--report", "mifir_rts22")  # fmt: skip
    listed = _invoke(*args, "--json")
    _no_traceback(listed)
    assert listed.exit_code == 0, listed.output
    assert [(r["period"], r["state"], r["alert"]) for r in json.loads(listed.output)] == [
        ("2026-11-26", "NOT_SUBMITTED", "deadline_not_submitted:mifir_rts22:2026-11-26")
    ]
    first = _invoke(*args, "--alert")
    assert first.exit_code == 0, first.output
    assert "1 period(s), 1 missed" in first.output
    assert "sent to log" in first.output
    again = _invoke(*args, "--alert")
    assert "nobody new (already alerted)" in again.output
    assert len(log_file.read_text().splitlines()) == 1

    shown = _invoke("alerts", "list", "--open")
    assert "deadline_not_submitted:mifir_rts22:2026-11-26" in shown.output
    assert "delivered to: log" in shown.output
    resolved = _invoke("alerts", "resolve", "deadline_not_submitted:mifir_rts22:2026-11-26")
    assert resolved.exit_code == 0, resolved.output
    assert _invoke("alerts", "list", "--open").output.strip() == "no alerts open"
    unknown = _invoke("alerts", "resolve", "no-such-alert")
    assert unknown.exit_code == 1
    assert "no open alert 'no-such-alert'" in unknown.output


@pytest.mark.integration
@pytest.mark.usefixtures("cli_env")
def test_unknown_report_type_is_a_usage_error() -> None:
    result = _invoke("deadlines", "--report", "mifir")
    _no_traceback(result)
    assert result.exit_code == 2
    assert "unknown report type(s) mifir" in result.output


@pytest.mark.integration
@pytest.mark.usefixtures("cli_env")
def test_runs_and_leases_on_a_quiet_warehouse() -> None:
    assert _invoke("runs").output.strip() == "no run metrics recorded yet"
    assert _invoke("leases", "list").output.strip() == "nothing is being built"
    result = _invoke("leases", "release")
    assert result.exit_code == 1
    assert "no lease on warehouse_build" in result.output


@pytest.mark.unit
def test_run_refuses_a_day_that_has_not_ended(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reporting today would send a partial day; refused before Airflow is even prepared."""
    monkeypatch.delenv("REGREPORT_ALLOW_OPEN_PERIOD", raising=False)
    today = datetime.now(tz=UTC).date().isoformat()
    result = _invoke("run", "--date", today)
    _no_traceback(result)
    assert result.exit_code == 1
    assert f"run: {today}: the period ending" in result.output
    assert "has not ended yet" in result.output
