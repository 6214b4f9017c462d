"""Alerts: the alert itself, each notifier against a real server, configuration, and dedup.

Unit tests cover keys, subjects, JSON and redaction; the e-mail notifier talks to a real SMTP
server (aiosmtpd) and the webhook notifier to a real HTTP server, both in-process on loopback.
The integration tests run `raise_alert` against the local PostgreSQL (a scratch database per
test): one delivery per channel however often an alert is raised, failed channels retried,
nothing silent when every channel fails, and one delivery when two raisers race.
"""

from __future__ import annotations

import email
import hashlib
import hmac
import json
import socket
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from regreport import alerts, audit, ddl, roles
from regreport.alerts import Alert, AlertKind

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from email.message import Message
    from pathlib import Path

    from regreport.config import Settings

DEADLINE = datetime(2026, 11, 28, 23, 59, 59, tzinfo=UTC)
NOW = datetime(2026, 11, 29, 0, 15, tzinfo=UTC)
SECRET = "s3cr3t-webhook-key-0123"
SMTP_PASSWORD = "smtp-pa55word-xyz"


def _deadline_alert(**overrides: Any) -> Alert:
    values: dict[str, Any] = {
        "kind": AlertKind.DEADLINE_NOT_SUBMITTED,
        "report": "mifir_rts22",
        "period": "2026-11-27",
        "reason": "no accepted submission registered for the period",
        "deadline": DEADLINE,
        "details": {"records": 1200},
    }
    return Alert(**(values | overrides))


def _task_alert() -> Alert:
    return Alert(
        AlertKind.TASK_FAILED,
        "mifir_rts22",
        "2026-11-27",
        "ValueError: XSD validation failed",
        run_id="scheduled__2026-11-27T00:00:00+00:00",
        dag_id="mifir_transactions_daily",
        task_id="render",
    )


class RecordingNotifier:
    """Records what it was sent; fails while `failing` is set; optionally slow."""

    def __init__(self, name: str = "recording", *, failing: str = "", delay: float = 0) -> None:
        self.name = name
        self.failing = failing
        self.delay = delay
        self.sent: list[Alert] = []
        self._lock = threading.Lock()

    def send(self, alert: Alert) -> None:
        time.sleep(self.delay)
        if self.failing:
            raise ConnectionError(self.failing)
        with self._lock:
            self.sent.append(alert)


def make_notifier(environ: Mapping[str, str]) -> RecordingNotifier:
    """A third-party style factory, loaded as ``<this module>:make_notifier``."""
    return RecordingNotifier(environ.get("TEST_NOTIFIER_NAME", "recording"))


def not_a_notifier(environ: Mapping[str, str]) -> object:
    return object()


# --- the alert (unit) ------------------------------------------------------------------------


@pytest.mark.unit
def test_deadline_alert_key_subject_and_severity() -> None:
    alert = _deadline_alert()
    assert alert.key == "deadline_not_submitted:mifir_rts22:2026-11-27"
    assert alert.severity == "critical"
    assert alert.subject == (
        "[RegReport CRITICAL] mifir_rts22 2026-11-27 not submitted by its deadline "
        "2026-11-28T23:59:59Z"
    )
    accepted = _deadline_alert(kind="deadline_not_accepted", deadline=None)
    assert accepted.kind is AlertKind.DEADLINE_NOT_ACCEPTED
    assert accepted.key == "deadline_not_accepted:mifir_rts22:2026-11-27"
    assert accepted.subject == (
        "[RegReport CRITICAL] mifir_rts22 2026-11-27 not accepted by its deadline"
    )


@pytest.mark.unit
def test_task_failure_key_names_dag_task_and_run() -> None:
    alert = _task_alert()
    assert alert.severity == "error"
    assert alert.key == (
        "task_failed:mifir_transactions_daily:render:scheduled__2026-11-27T00:00:00+00:00"
    )
    assert alert.subject == (
        "[RegReport ERROR] mifir_rts22 2026-11-27: task mifir_transactions_daily.render failed "
        "(run scheduled__2026-11-27T00:00:00+00:00)"
    )
    test = alerts.make_test_alert(NOW)
    assert (test.kind, test.severity) == (AlertKind.TEST, "info")
    assert test.key == "test:regreport:2026-11-29T00:15:00Z"
    assert test.subject == "[RegReport INFO] test alert: alert channel check"


@pytest.mark.unit
def test_json_is_deterministic_sorted_and_utc() -> None:
    paris = timezone(timedelta(hours=1))
    a = _deadline_alert(deadline=DEADLINE.astimezone(paris), details={"b": 2, "a": [1, "x"]})
    b = _deadline_alert(details={"a": [1, "x"], "b": 2})
    assert a.to_json() == b.to_json()
    doc = json.loads(a.to_json())
    assert list(doc) == sorted(doc)
    assert doc["deadline"] == "2026-11-28T23:59:59Z"
    assert doc["format"] == alerts.FORMAT
    assert doc["key"] == a.key
    assert doc["subject"] == a.subject
    assert doc["details"] == {"a": [1, "x"], "b": 2}
    assert "\n" not in a.to_json()
    assert json.loads(a.to_json(indent=2)) == doc


@pytest.mark.unit
def test_details_become_json_values() -> None:
    alert = _deadline_alert(
        details={"when": NOW, "day": NOW.date(), "tags": {"b", "a"}, "amount": 1.5, "n": None}
    )
    assert alert.details == {
        "when": "2026-11-29T00:15:00Z",
        "day": "2026-11-29",
        "tags": ["a", "b"],
        "amount": 1.5,
        "n": None,
    }


@pytest.mark.unit
def test_secrets_never_reach_reason_details_or_json() -> None:
    alert = Alert(
        AlertKind.TASK_FAILED,
        "mifir_rts22",
        "2026-11-27",
        "OperationalError: connection to postgresql://report:hunter2-pw@db:5432/wh failed; "
        "password=hunter2-pw token: abc123tok",
        dag_id="d",
        task_id="t",
        details={
            "password": "hunter2-pw",
            "nested": {"api_key": "abc123tok", "ok": "fine"},
            "smtp_dsn": "host=x password=hunter2-pw",
            "log": ["Authorization: Bearer abc123tok"],
            "passed_checks": 3,
        },
    )
    text = alert.to_json() + alert.text() + alert.subject
    assert "hunter2-pw" not in text
    assert "abc123tok" not in text
    assert "postgresql://report:***@db:5432/wh" in alert.reason
    assert alert.details["password"] == alerts.REDACTED
    assert alert.details["nested"] == {"api_key": alerts.REDACTED, "ok": "fine"}
    assert alert.details["passed_checks"] == 3


@pytest.mark.unit
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"deadline": datetime(2026, 11, 28, 23, 59)}, "timezone-aware"),
        ({"kind": "deadline_missed"}, "deadline_missed"),
        ({"severity": "fatal"}, "severity must be one of"),
        ({"reason": "  "}, "needs a reason"),
        ({"report": ""}, "needs report and period"),
        ({"kind": AlertKind.TASK_FAILED}, "needs dag_id and task_id"),
        ({"details": {"x": float("nan")}}, "Out of range float"),
    ],
)
def test_invalid_alerts_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _deadline_alert(**overrides)


@pytest.mark.unit
def test_subject_is_one_bounded_line() -> None:
    alert = alerts.make_test_alert(NOW, reason="line one\nline two\r\n" + "x" * 400)
    assert "\n" not in alert.subject
    assert "\r" not in alert.subject
    assert len(alert.subject) == 250
    assert alert.subject.startswith("[RegReport INFO] test alert: line one line two xxx")
    assert alert.subject.endswith("…")


@pytest.mark.unit
def test_explicit_severity_wins() -> None:
    assert _deadline_alert(severity="warning").severity == "warning"


# --- the log file notifier (unit) ------------------------------------------------------------


@pytest.mark.unit
def test_log_file_notifier_appends_one_json_line_per_alert(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "alerts.log"
    notifier = alerts.LogFileNotifier(path)
    assert notifier.name == "log"
    first, second = _deadline_alert(), _task_alert()
    notifier.send(first)
    notifier.send(second)
    lines = path.read_text("utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [first.to_dict(), second.to_dict()]


# --- configuration (unit) --------------------------------------------------------------------


@pytest.mark.unit
def test_default_channel_is_the_log_file_in_home(tmp_path: Path) -> None:
    (notifier,) = alerts.notifiers_from_env({}, home=tmp_path)
    assert isinstance(notifier, alerts.LogFileNotifier)
    assert notifier.path == tmp_path / "alerts.log"
    (from_env,) = alerts.notifiers_from_env({"REGREPORT_HOME": str(tmp_path / "h")})
    assert from_env.path == (tmp_path / "h" / "alerts.log").resolve()  # type: ignore[attr-defined]
    (explicit,) = alerts.notifiers_from_env(
        {"REGREPORT_ALERT_CHANNELS": " log ", "REGREPORT_ALERT_LOG": str(tmp_path / "x.log")},
        home=tmp_path,
    )
    assert explicit.path == tmp_path / "x.log"  # type: ignore[attr-defined]


@pytest.mark.unit
def test_every_builtin_channel_from_env(tmp_path: Path) -> None:
    env = {
        "REGREPORT_ALERT_CHANNELS": "log,email,webhook",
        "REGREPORT_SMTP_HOST": "smtp.example.com",
        "REGREPORT_SMTP_PORT": "587",
        "REGREPORT_SMTP_FROM": "regreport@example.com",
        "REGREPORT_ALERT_EMAIL_TO": "ops@example.com, compliance@example.com",
        "REGREPORT_SMTP_USER": "regreport",
        "REGREPORT_SMTP_PASSWORD": SMTP_PASSWORD,
        "REGREPORT_SMTP_STARTTLS": "true",
        "REGREPORT_ALERT_WEBHOOK_URL": "https://hooks.example.com/T000/B000/very-secret-path",
        "REGREPORT_ALERT_WEBHOOK_SECRET": SECRET,
    }
    log, mail, hook = alerts.notifiers_from_env(env, home=tmp_path)
    assert [n.name for n in (log, mail, hook)] == ["log", "email", "webhook"]
    assert isinstance(mail, alerts.EmailNotifier)
    assert (mail.host, mail.port, mail.starttls) == ("smtp.example.com", 587, True)
    assert mail.recipients == ("ops@example.com", "compliance@example.com")
    assert isinstance(hook, alerts.WebhookNotifier)
    for text in (repr(mail), repr(hook)):
        assert SMTP_PASSWORD not in text
        assert SECRET not in text
        assert "very-secret-path" not in text


@pytest.mark.unit
@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REGREPORT_ALERT_CHANNELS": "email"}, "REGREPORT_SMTP_HOST"),
        (
            {"REGREPORT_ALERT_CHANNELS": "email", "REGREPORT_SMTP_HOST": "h"},
            "REGREPORT_SMTP_FROM",
        ),
        (
            {
                "REGREPORT_ALERT_CHANNELS": "email",
                "REGREPORT_SMTP_HOST": "h",
                "REGREPORT_SMTP_FROM": "a@b",
            },
            "REGREPORT_ALERT_EMAIL_TO",
        ),
        (
            {
                "REGREPORT_ALERT_CHANNELS": "email",
                "REGREPORT_SMTP_HOST": "h",
                "REGREPORT_SMTP_FROM": "a@b",
                "REGREPORT_ALERT_EMAIL_TO": " , ",
            },
            "REGREPORT_ALERT_EMAIL_TO",
        ),
        (
            {
                "REGREPORT_ALERT_CHANNELS": "email",
                "REGREPORT_SMTP_HOST": "h",
                "REGREPORT_SMTP_FROM": "a@b",
                "REGREPORT_ALERT_EMAIL_TO": "c@d",
                "REGREPORT_SMTP_PORT": "smtp",
            },
            "REGREPORT_SMTP_PORT",
        ),
        (
            {
                "REGREPORT_ALERT_CHANNELS": "email",
                "REGREPORT_SMTP_HOST": "h",
                "REGREPORT_SMTP_FROM": "a@b",
                "REGREPORT_ALERT_EMAIL_TO": "c@d",
                "REGREPORT_SMTP_USER": "me",
            },
            "REGREPORT_SMTP_PASSWORD",
        ),
        (
            {
                "REGREPORT_ALERT_CHANNELS": "email",
                "REGREPORT_SMTP_HOST": "h",
                "REGREPORT_SMTP_FROM": "a@b",
                "REGREPORT_ALERT_EMAIL_TO": "c@d",
                "REGREPORT_SMTP_STARTTLS": "maybe",
            },
            "REGREPORT_SMTP_STARTTLS",
        ),
        (
            {
                "REGREPORT_ALERT_CHANNELS": "email",
                "REGREPORT_SMTP_HOST": "h",
                "REGREPORT_SMTP_FROM": "a@b",
                "REGREPORT_ALERT_EMAIL_TO": "ops",
            },
            "not an e-mail address",
        ),
        ({"REGREPORT_ALERT_CHANNELS": "webhook"}, "REGREPORT_ALERT_WEBHOOK_URL"),
        (
            {
                "REGREPORT_ALERT_CHANNELS": "webhook",
                "REGREPORT_ALERT_WEBHOOK_URL": "ftp://hooks.example.com/x",
            },
            "REGREPORT_ALERT_WEBHOOK_URL",
        ),
        ({"REGREPORT_ALERT_CHANNELS": "log,pager"}, "unknown alert channel 'pager'"),
        ({"REGREPORT_ALERT_CHANNELS": "log,log"}, "unique"),
        (
            {"REGREPORT_ALERT_CHANNELS": "regreport_no_such_module:factory"},
            "cannot load notifier",
        ),
        ({"REGREPORT_ALERT_CHANNELS": "regreport.alerts:no_such_factory"}, "cannot load notifier"),
    ],
)
def test_misconfigured_channels_fail_naming_the_variable(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        alerts.notifiers_from_env(env, home=tmp_path)


@pytest.mark.unit
def test_password_is_not_in_the_configuration_error(tmp_path: Path) -> None:
    env = {"REGREPORT_ALERT_CHANNELS": "email", "REGREPORT_SMTP_PASSWORD": SMTP_PASSWORD}
    with pytest.raises(ValueError, match="REGREPORT_SMTP_HOST") as caught:
        alerts.notifiers_from_env(env, home=tmp_path)
    assert SMTP_PASSWORD not in str(caught.value)


@pytest.mark.unit
def test_plugin_is_imported_by_module_and_factory(tmp_path: Path) -> None:
    env = {
        "REGREPORT_ALERT_CHANNELS": f"log, {__name__}:make_notifier",
        "TEST_NOTIFIER_NAME": "pager",
    }
    log, plugin = alerts.notifiers_from_env(env, home=tmp_path)
    assert isinstance(log, alerts.LogFileNotifier)
    assert isinstance(plugin, RecordingNotifier)
    assert plugin.name == "pager"
    assert isinstance(plugin, alerts.Notifier)
    with pytest.raises(TypeError, match="did not give a notifier"):
        alerts.notifiers_from_env(
            {"REGREPORT_ALERT_CHANNELS": f"{__name__}:not_a_notifier"}, home=tmp_path
        )


@pytest.mark.unit
def test_register_notifier(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alerts, "_FACTORIES", dict(alerts._FACTORIES))
    alerts.register_notifier("pager", make_notifier)
    (notifier,) = alerts.notifiers_from_env({"REGREPORT_ALERT_CHANNELS": "pager"}, home=tmp_path)
    assert isinstance(notifier, RecordingNotifier)
    with pytest.raises(ValueError, match="already registered"):
        alerts.register_notifier("pager", make_notifier)
    alerts.register_notifier("pager", make_notifier, replace=True)
    for bad in ("Pager", "my:pager", "", "1x"):
        with pytest.raises(ValueError, match="notifier name"):
            alerts.register_notifier(bad, make_notifier)


# --- the e-mail notifier against a real SMTP server (unit: in-process, loopback) ------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Inbox:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def _authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"regreport",
        SMTP_PASSWORD.encode(),
    )
    # handled=False: the server answers (235 or 535) itself.
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Controller, _Inbox]]:
    inbox = _Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=_free_port(),
        auth_require_tls=False,
        authenticator=_authenticator,
    )
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


@pytest.mark.unit
def test_email_is_delivered_with_subject_lines_and_json(
    smtp_server: tuple[Controller, _Inbox], tmp_path: Path
) -> None:
    controller, inbox = smtp_server
    env = {
        "REGREPORT_ALERT_CHANNELS": "email",
        "REGREPORT_SMTP_HOST": "127.0.0.1",
        "REGREPORT_SMTP_PORT": str(controller.port),
        "REGREPORT_SMTP_FROM": "regreport@example.com",
        "REGREPORT_ALERT_EMAIL_TO": "ops@example.com,compliance@example.com",
    }
    (notifier,) = alerts.notifiers_from_env(env, home=tmp_path)
    alert = _deadline_alert(reason="no submission — ünïcödé")
    notifier.send(alert)
    (envelope,) = inbox.envelopes
    assert envelope.mail_from == "regreport@example.com"
    assert envelope.rcpt_tos == ["ops@example.com", "compliance@example.com"]
    msg = email.message_from_bytes(envelope.content, policy=policy.default)
    assert msg["Subject"] == alert.subject
    assert msg[alerts.KEY_HEADER] == alert.key
    body = msg.get_content().replace("\r\n", "\n")
    assert "Report: mifir_rts22\n" in body
    assert "Deadline: 2026-11-28T23:59:59Z\n" in body
    assert "Reason: no submission — ünïcödé\n" in body
    assert "  records: 1200\n" in body
    assert json.loads(body.split("-- alert (JSON) --\n", 1)[1]) == alert.to_dict()


@pytest.mark.unit
def test_email_logs_in_and_never_leaks_the_password(
    smtp_server: tuple[Controller, _Inbox], caplog: pytest.LogCaptureFixture
) -> None:
    controller, inbox = smtp_server
    common = {
        "host": "127.0.0.1",
        "port": controller.port,
        "sender": "regreport@example.com",
        "recipients": ["ops@example.com"],
        "username": "regreport",
    }
    alerts.EmailNotifier(**common, password=SMTP_PASSWORD).send(_task_alert())
    assert len(inbox.envelopes) == 1
    wrong = alerts.EmailNotifier(**common, password=SMTP_PASSWORD + "-wrong")
    with caplog.at_level("DEBUG"), pytest.raises(Exception) as caught:
        wrong.send(_task_alert())
    assert "535" in str(caught.value) or "Authentication" in str(caught.value)
    assert SMTP_PASSWORD not in str(caught.value)
    assert SMTP_PASSWORD not in repr(wrong)
    assert SMTP_PASSWORD not in caplog.text
    assert len(inbox.envelopes) == 1


@pytest.mark.unit
def test_email_to_a_closed_port_raises() -> None:
    notifier = alerts.EmailNotifier(
        "127.0.0.1", _free_port(), "a@example.com", ["b@example.com"], timeout=5
    )
    with pytest.raises(OSError):
        notifier.send(_task_alert())


@pytest.mark.unit
def test_email_notifier_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="recipient"):
        alerts.EmailNotifier("h", 25, "a@b", [])
    with pytest.raises(ValueError, match="username and a password"):
        alerts.EmailNotifier("h", 25, "a@b", ["c@d"], password=SMTP_PASSWORD)


# --- the webhook notifier against a real HTTP server (unit: in-process, loopback) -----------


class _HookServer(ThreadingHTTPServer):
    status = 200
    received: list[tuple[str, Message, bytes]]


class _HookHandler(BaseHTTPRequestHandler):
    server: _HookServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, self.headers, body))
        status = self.server.status
        payload = b"accepted" if status < 300 else b"internal trouble"
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", "/elsewhere")
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def hook_server() -> Iterator[_HookServer]:
    server = _HookServer(("127.0.0.1", 0), _HookHandler)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _hook_url(server: _HookServer, path: str = "/hooks/T000/very-secret-path") -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


@pytest.mark.unit
def test_webhook_posts_signed_json(hook_server: _HookServer) -> None:
    alert = _deadline_alert()
    alerts.WebhookNotifier(_hook_url(hook_server), secret=SECRET).send(alert)
    ((path, headers, body),) = hook_server.received
    assert path == "/hooks/T000/very-secret-path"
    assert headers["Content-Type"].startswith("application/json")
    assert headers[alerts.KEY_HEADER] == alert.key
    assert json.loads(body) == alert.to_dict()
    assert body == alert.to_json().encode()
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers[alerts.SIGNATURE_HEADER], f"sha256={expected}")
    assert alerts.sign_body(body, SECRET) == f"sha256={expected}"


@pytest.mark.unit
def test_webhook_without_secret_is_unsigned(hook_server: _HookServer) -> None:
    alerts.WebhookNotifier(_hook_url(hook_server)).send(_task_alert())
    ((_, headers, _),) = hook_server.received
    assert alerts.SIGNATURE_HEADER not in headers


@pytest.mark.unit
@pytest.mark.parametrize("status", [500, 404, 302])
def test_webhook_non_2xx_raises_without_leaking(hook_server: _HookServer, status: int) -> None:
    hook_server.status = status
    notifier = alerts.WebhookNotifier(_hook_url(hook_server), secret=SECRET)
    with pytest.raises(alerts.NotifierError, match=f"HTTP {status}") as caught:
        notifier.send(_task_alert())
    assert len(hook_server.received) == 1  # A redirect is not followed.
    assert "very-secret-path" not in str(caught.value)
    assert SECRET not in str(caught.value)


@pytest.mark.unit
def test_webhook_unreachable_raises() -> None:
    notifier = alerts.WebhookNotifier(f"http://127.0.0.1:{_free_port()}/secret-path", timeout=5)
    with pytest.raises(alerts.NotifierError, match="unreachable") as caught:
        notifier.send(_task_alert())
    assert "secret-path" not in str(caught.value)


# --- raise_alert against the warehouse (integration) ----------------------------------------


@pytest.fixture
def dsn(scratch_db: Callable[[str], str]) -> str:
    dsn = scratch_db(f"alerts_{uuid.uuid4().hex[:10]}")
    with psycopg.connect(dsn) as conn:
        alerts.ensure_schema(conn)
        alerts.ensure_schema(conn)  # idempotent
        conn.commit()
    return dsn


def _row(dsn: str, key: str) -> alerts.AlertRecord:
    with psycopg.connect(dsn) as conn:  # Another session: sees committed rows only.
        record = alerts.get_alert(conn, key)
    assert record is not None
    return record


def _audited(dsn: str, key: str) -> list[audit.AuditEntry]:
    with psycopg.connect(dsn) as conn:
        return audit.recent(conn, object_id=key)


@pytest.mark.integration
def test_raising_twice_delivers_once_per_channel(dsn: str, tmp_path: Path) -> None:
    log = alerts.LogFileNotifier(tmp_path / "alerts.log")
    pager = RecordingNotifier("pager")
    alert = _deadline_alert()
    with psycopg.connect(dsn) as conn:
        first = alerts.raise_alert(conn, alert, [log, pager], now=NOW)
        second = alerts.raise_alert(conn, alert, [log, pager], now=NOW + timedelta(minutes=15))
    assert (first.times_seen, first.sent, first.skipped) == (1, ("log", "pager"), ())
    assert (second.times_seen, second.sent, second.skipped) == (2, (), ("log", "pager"))
    assert len(pager.sent) == 1
    assert len((tmp_path / "alerts.log").read_text().splitlines()) == 1
    row = _row(dsn, alert.key)
    assert row.times_seen == 2
    assert row.delivered_to == ("log", "pager")
    assert row.failed == {}
    assert (row.first_raised_at, row.last_raised_at) == (NOW, NOW + timedelta(minutes=15))
    assert (row.kind, row.severity, row.deadline) == (
        "deadline_not_submitted",
        "critical",
        DEADLINE,
    )
    assert row.details == {"records": 1200}
    (entry,) = _audited(dsn, alert.key)
    assert entry.action == "alert.raised"
    assert entry.after["channels"] == ["log", "pager"]


@pytest.mark.integration
def test_failed_channel_is_recorded_and_retried(
    dsn: str, tmp_path: Path, hook_server: _HookServer
) -> None:
    log = alerts.LogFileNotifier(tmp_path / "alerts.log")
    hook = alerts.WebhookNotifier(_hook_url(hook_server), secret=SECRET)
    alert = _task_alert()
    hook_server.status = 500
    with psycopg.connect(dsn) as conn:
        first = alerts.raise_alert(conn, alert, [log, hook], now=NOW)
    assert first.sent == ("log",)
    assert "HTTP 500" in first.failed["webhook"]
    row = _row(dsn, alert.key)
    assert row.delivered_to == ("log",)
    assert "HTTP 500" in row.failed["webhook"]
    assert "very-secret-path" not in row.failed["webhook"]
    hook_server.status = 200
    with psycopg.connect(dsn) as conn:
        second = alerts.raise_alert(conn, alert, [log, hook], now=NOW + timedelta(minutes=15))
    assert (second.sent, second.skipped, dict(second.failed)) == (("webhook",), ("log",), {})
    assert len(hook_server.received) == 2
    assert len((tmp_path / "alerts.log").read_text().splitlines()) == 1
    row = _row(dsn, alert.key)
    assert (row.delivered_to, row.failed, row.times_seen) == (("log", "webhook"), {}, 2)
    assert [e.after["channels"] for e in _audited(dsn, alert.key)] == [["webhook"], ["log"]]


@pytest.mark.integration
def test_every_channel_failing_raises_after_committing(dsn: str) -> None:
    down = RecordingNotifier("email", failing="SMTP down at smtp://ops:hunter2-pw@mail")
    broken = RecordingNotifier("webhook", failing="no route")
    alert = _deadline_alert()
    with psycopg.connect(dsn) as conn, pytest.raises(alerts.AlertDeliveryError) as caught:
        alerts.raise_alert(conn, alert, [down, broken], now=NOW)
    assert caught.value.key == alert.key
    assert set(caught.value.errors) == {"email", "webhook"}
    assert "no route" in str(caught.value)
    assert "hunter2-pw" not in str(caught.value)
    row = _row(dsn, alert.key)
    assert row.delivered_to == ()
    assert set(row.failed) == {"email", "webhook"}
    assert "hunter2-pw" not in json.dumps(row.failed)
    assert _audited(dsn, alert.key) == []
    broken.failing = ""
    with psycopg.connect(dsn) as conn:
        outcome = alerts.raise_alert(conn, alert, [down, broken], now=NOW)
    assert outcome.sent == ("webhook",)
    assert set(outcome.failed) == {"email"}
    assert _row(dsn, alert.key).times_seen == 2


@pytest.mark.integration
def test_alert_delivered_only_to_a_channel_no_longer_configured_still_fails(dsn: str) -> None:
    alert = _deadline_alert()
    with psycopg.connect(dsn) as conn:
        alerts.raise_alert(conn, alert, [RecordingNotifier("log")], now=NOW)
        with pytest.raises(alerts.AlertDeliveryError, match="email"):
            alerts.raise_alert(conn, alert, [RecordingNotifier("email", failing="down")], now=NOW)
    assert _row(dsn, alert.key).delivered_to == ("log",)


@pytest.mark.integration
def test_concurrent_raisers_deliver_once(dsn: str) -> None:
    pager = RecordingNotifier("pager", delay=0.3)
    alert = _deadline_alert()
    barrier = threading.Barrier(2)
    outcomes: list[alerts.AlertOutcome] = []
    errors: list[BaseException] = []

    def raise_one() -> None:
        try:
            with psycopg.connect(dsn) as conn:
                barrier.wait(10)
                outcomes.append(alerts.raise_alert(conn, alert, [pager], now=NOW))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=raise_one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(pager.sent) == 1
    assert sorted(o.times_seen for o in outcomes) == [1, 2]
    assert sorted(o.sent for o in outcomes) == [(), ("pager",)]
    assert _row(dsn, alert.key).times_seen == 2
    assert len(_audited(dsn, alert.key)) == 1


@pytest.mark.integration
def test_resolve_then_raise_again_is_a_new_incident(dsn: str) -> None:
    pager = RecordingNotifier("pager")
    deadline, task = _deadline_alert(), _task_alert()
    with psycopg.connect(dsn) as conn:
        alerts.raise_alert(conn, deadline, [pager], now=NOW)
        alerts.raise_alert(conn, task, [pager], now=NOW + timedelta(minutes=1))
        assert [a.key for a in alerts.list_alerts(conn)] == [task.key, deadline.key]
        assert alerts.resolve(conn, deadline.key, NOW + timedelta(hours=1)) is True
        assert alerts.resolve(conn, deadline.key, NOW + timedelta(hours=2)) is False
        assert alerts.resolve(conn, "no:such:key", NOW) is False
        assert [a.key for a in alerts.list_alerts(conn, open_only=True)] == [task.key]
        resolved = alerts.get_alert(conn, deadline.key)
        assert resolved is not None
        assert resolved.resolved_at == NOW + timedelta(hours=1)
        again = alerts.raise_alert(conn, deadline, [pager], now=NOW + timedelta(days=1))
    assert again.sent == ("pager",)
    assert len(pager.sent) == 3
    row = _row(dsn, deadline.key)
    assert (row.resolved_at, row.times_seen) == (None, 2)
    assert [e.action for e in _audited(dsn, deadline.key)] == [
        "alert.raised",
        "alert.resolved",
        "alert.raised",
    ]


@pytest.mark.integration
def test_raise_alert_refuses_bad_notifier_lists(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        with pytest.raises(ValueError, match="unique names"):
            alerts.raise_alert(conn, _task_alert(), [], now=NOW)
        with pytest.raises(ValueError, match="unique names"):
            alerts.raise_alert(conn, _task_alert(), [RecordingNotifier(), RecordingNotifier()])


@pytest.mark.integration
def test_setup_creates_the_table_and_the_report_role_can_raise(
    pg_services: Settings, scratch_db: Callable[[str], str]
) -> None:
    suffix = uuid.uuid4().hex[:8]
    warehouse, source = f"alerts_wh_{suffix}", f"alerts_src_{suffix}"
    wh_dsn = scratch_db(warehouse)
    scratch_db(source)
    assert "alerts" in ddl.setup(wh_dsn)
    roles.ensure_roles(pg_services.dsn("postgres"), warehouse, source)
    pager = RecordingNotifier("pager")
    with psycopg.connect(wh_dsn) as conn:
        conn.execute(f"set role {roles.REPORT}")
        conn.commit()
        outcome = alerts.raise_alert(conn, _deadline_alert(), [pager], now=NOW)
        alerts.raise_alert(conn, _deadline_alert(), [pager], now=NOW)
        assert alerts.resolve(conn, outcome.key, NOW)
    assert len(pager.sent) == 1
    with psycopg.connect(wh_dsn) as conn:
        conn.execute(f"set role {roles.EXTRACT}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select 1 from regreport.alerts")
