"""Alerts: tell a person when a report misses its deadline or a pipeline task fails.

An `Alert` says what is wrong; a `Notifier` delivers it: a JSON-lines file (`LogFileNotifier`,
the local default), e-mail (`EmailNotifier`), a signed webhook (`WebhookNotifier`) or a
third-party notifier loaded by name (PagerDuty, a chat tool). `notifiers_from_env` builds the
configured channels from ``REGREPORT_ALERT_CHANNELS``; a channel that lacks a required setting
fails there, when the configuration is read, not when the first deadline is missed.

`raise_alert` records the alert in ``regreport.alerts`` and delivers it at most once per
channel: a deadline checked every 15 minutes alerts once (the row counts how often it was seen),
and a channel that failed is retried on the next raise. Raises of one alert are serialised by a
transaction-level advisory lock on its key, so two concurrent raisers (a retry overlapping a
rerun, two workers) notify once. Each delivery is written to the audit trail
(``alert.raised``). If no configured channel has the alert after a raise, `AlertDeliveryError`
is raised once the row is committed: an alert is never dropped silently.

Secrets (the SMTP password, the webhook secret and URL, passwords in a DSN) never reach a log,
an error stored in the table or an alert's `details`.

This module does not import Airflow: a DAG's failure callback or deadline check builds an
`Alert` and calls `raise_alert`.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import json
import logging
import os
import re
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from regreport import audit, ddl

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    import psycopg

log = logging.getLogger(__name__)

SCHEMA = "regreport"
TABLE = f"{SCHEMA}.alerts"
#: The ``format`` member of every alert's JSON (log line, webhook body, e-mail).
FORMAT = "regreport.alert/1"
#: Advisory lock class of `raise_alert` (ASCII "ALRT"); the key's hash is the second half.
LOCK_CLASS = 0x414C_5254
#: Severities, most severe first.
SEVERITIES = ("critical", "error", "warning", "info")
#: Replaces a secret wherever one is found.
REDACTED = "***"
#: Webhook headers: the alert key (for the receiver's dedup) and the body's HMAC.
KEY_HEADER = "X-RegReport-Alert-Key"
SIGNATURE_HEADER = "X-RegReport-Signature"

#: Environment variables read by `notifiers_from_env`.
CHANNELS_ENV = "REGREPORT_ALERT_CHANNELS"
LOG_ENV = "REGREPORT_ALERT_LOG"
SMTP_HOST_ENV = "REGREPORT_SMTP_HOST"
SMTP_PORT_ENV = "REGREPORT_SMTP_PORT"
SMTP_FROM_ENV = "REGREPORT_SMTP_FROM"
SMTP_USER_ENV = "REGREPORT_SMTP_USER"
SMTP_PASSWORD_ENV = "REGREPORT_SMTP_PASSWORD"  # noqa: S105 - a variable name, not a secret.
SMTP_STARTTLS_ENV = "REGREPORT_SMTP_STARTTLS"
EMAIL_TO_ENV = "REGREPORT_ALERT_EMAIL_TO"
WEBHOOK_URL_ENV = "REGREPORT_ALERT_WEBHOOK_URL"
WEBHOOK_SECRET_ENV = "REGREPORT_ALERT_WEBHOOK_SECRET"  # noqa: S105 - a variable name.
DEFAULT_CHANNELS = "log"

DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {TABLE} (
    alert_key        text primary key,
    kind             text not null,
    severity         text not null,
    report           text not null,
    period           text not null,
    deadline         timestamptz,
    run_id           text,
    dag_id           text,
    task_id          text,
    reason           text not null,
    details          jsonb not null default '{{}}',
    first_raised_at  timestamptz not null,
    last_raised_at   timestamptz not null,
    times_seen       integer not null default 1 check (times_seen >= 1),
    delivered_to     text[] not null default '{{}}',
    failed           jsonb not null default '{{}}',
    resolved_at      timestamptz
);
create index if not exists alerts_open_idx on {TABLE} (last_raised_at) where resolved_at is null;
"""


class AlertKind(StrEnum):
    """What an alert is about."""

    DEADLINE_NOT_SUBMITTED = "deadline_not_submitted"
    DEADLINE_NOT_ACCEPTED = "deadline_not_accepted"
    TASK_FAILED = "task_failed"
    TEST = "test"


_DEFAULT_SEVERITY = {
    AlertKind.DEADLINE_NOT_SUBMITTED: "critical",
    AlertKind.DEADLINE_NOT_ACCEPTED: "critical",
    AlertKind.TASK_FAILED: "error",
    AlertKind.TEST: "info",
}
_DEADLINE_KINDS = (AlertKind.DEADLINE_NOT_SUBMITTED, AlertKind.DEADLINE_NOT_ACCEPTED)
_SUBJECT_MAX = 250


class NotifierError(RuntimeError):
    """A notifier could not deliver an alert (the message never holds a secret)."""


class AlertDeliveryError(RuntimeError):
    """No configured channel has the alert: every delivery failed (the row is committed).

    Attributes:
        key: The alert's key.
        errors: Channel name -> error text (secrets redacted).
    """

    def __init__(self, key: str, errors: Mapping[str, str]) -> None:
        self.key = key
        self.errors = dict(errors)
        listed = "; ".join(f"{name}: {text}" for name, text in sorted(self.errors.items()))
        super().__init__(f"alert {key} reached no channel ({listed})")


# -- secrets ----------------------------------------------------------------------------------

_SECRET_NAME = re.compile(
    r"pass(word|wd|phrase)|secret|token|api[_-]?key|authori[sz]ation|credential|"
    r"private[_-]?key|cookie|dsn",
    re.IGNORECASE,
)
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/\s:@]*):[^/\s@]*@", re.IGNORECASE)
_ASSIGNED_SECRET = re.compile(
    r"(?P<head>\b(?:password|passwd|pwd|secret|token|api[_-]?key)\s*[=:]\s*['\"]?)"
    r"[^\s'\",;&]+",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?P<head>\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)


def redact_text(text: str) -> str:
    """`text` with passwords in URLs and DSNs, ``password=...`` pairs and bearer tokens masked."""
    text = _URL_PASSWORD.sub(rf"\g<head>:{REDACTED}@", text)
    text = _ASSIGNED_SECRET.sub(rf"\g<head>{REDACTED}", text)
    return _BEARER.sub(rf"\g<head>{REDACTED}", text)


def _redact(value: Any, name: str | None = None) -> Any:
    """A JSON value with every member whose name sounds secret masked, and strings redacted."""
    if name is not None and _SECRET_NAME.search(name):
        return REDACTED
    if isinstance(value, dict):
        return {k: _redact(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


# -- the alert --------------------------------------------------------------------------------


def _iso(value: datetime) -> str:
    """UTC ISO 8601 with a ``Z`` (what subjects and JSON show)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _aware(value: datetime | None, name: str) -> datetime:
    if value is None:
        return datetime.now(tz=UTC)
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value) if value.utcoffset() is not None else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(str(v) for v in value)
    return str(value)  # Decimal, Path, UUID, ...: their text.


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SUBJECT_MAX else text[: _SUBJECT_MAX - 1] + "…"


@dataclass(frozen=True)
class Alert:
    """Something a person must act on.

    Attributes:
        kind: What happened (a str is converted to `AlertKind`).
        report: Report type, e.g. ``mifir_rts22`` (may be empty for a task failure).
        period: The reporting period's label, e.g. ``2026-11-27``.
        reason: Why, in words (passwords in it are masked).
        deadline: The deadline that was missed (timezone-aware), if any.
        run_id: The Airflow run, if any.
        dag_id: The DAG, if any (required for a task failure).
        task_id: The task, if any (required for a task failure).
        severity: One of `SEVERITIES`; empty means the kind's default ("critical" for a
            deadline, "error" for a task failure, "info" for a test).
        details: Extra JSON facts (members whose name sounds secret are masked; values JSON
            cannot hold are stored as text; NaN is refused).
    """

    kind: AlertKind
    report: str
    period: str
    reason: str
    deadline: datetime | None = None
    run_id: str | None = None
    dag_id: str | None = None
    task_id: str | None = None
    severity: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        kind = AlertKind(self.kind)
        severity = self.severity or _DEFAULT_SEVERITY[kind]
        if severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}, not {severity!r}")
        if self.deadline is not None:
            _aware(self.deadline, "deadline")
        if kind is AlertKind.TASK_FAILED and not (self.dag_id and self.task_id):
            raise ValueError("a task_failed alert needs dag_id and task_id")
        if kind in _DEADLINE_KINDS and not (self.report and self.period):
            raise ValueError(f"a {kind} alert needs report and period")
        if not self.reason.strip():
            raise ValueError("an alert needs a reason")
        details = json.loads(json.dumps(dict(self.details), default=_json_default, allow_nan=False))
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "severity", severity)
        object.__setattr__(self, "reason", redact_text(self.reason))
        object.__setattr__(self, "details", _redact(details))

    @property
    def key(self) -> str:
        """Stable dedup key: one alert per (kind, report, period), or per failed task try.

        A task failure is keyed ``task_failed:<dag_id>:<task_id>:<run_id>``; the run id comes
        last because it may itself contain colons (dag and task ids cannot).
        """
        if self.kind is AlertKind.TASK_FAILED:
            return f"{self.kind}:{self.dag_id}:{self.task_id}:{self.run_id or '-'}"
        return f"{self.kind}:{self.report}:{self.period}"

    @property
    def subject(self) -> str:
        """One line for an e-mail subject or a chat title, e.g.

        ``[RegReport CRITICAL] mifir_rts22 2026-11-27 not submitted by its deadline
        2026-11-28T23:59:59Z``.
        """
        head = f"[RegReport {self.severity.upper()}]"
        by = f" by its deadline {_iso(self.deadline)}" if self.deadline else " by its deadline"
        what = " ".join(p for p in (self.report, self.period) if p)
        if self.kind is AlertKind.DEADLINE_NOT_SUBMITTED:
            text = f"{head} {what} not submitted{by}"
        elif self.kind is AlertKind.DEADLINE_NOT_ACCEPTED:
            text = f"{head} {what} not accepted{by}"
        elif self.kind is AlertKind.TASK_FAILED:
            run = f" (run {self.run_id})" if self.run_id else ""
            text = (
                f"{head} {what + ': ' if what else ''}task {self.dag_id}.{self.task_id} failed{run}"
            )
        else:
            text = f"{head} test alert: {self.reason}"
        return _one_line(text)

    def to_dict(self) -> dict[str, Any]:
        """The alert as JSON values (datetimes as UTC ISO 8601), with its key and subject."""
        return {
            "format": FORMAT,
            "key": self.key,
            "kind": str(self.kind),
            "severity": self.severity,
            "report": self.report,
            "period": self.period,
            "reason": self.reason,
            "deadline": _iso(self.deadline) if self.deadline else None,
            "run_id": self.run_id,
            "dag_id": self.dag_id,
            "task_id": self.task_id,
            "details": self.details,
            "subject": self.subject,
        }

    def to_json(self, *, indent: int | None = None) -> str:
        """Deterministic JSON (sorted keys; one line unless `indent`): equal alerts, equal bytes."""
        separators = (",", ":") if indent is None else (",", ": ")
        return json.dumps(
            self.to_dict(), sort_keys=True, ensure_ascii=False, indent=indent, separators=separators
        )

    def text(self) -> str:
        """Human-readable lines (an e-mail body), without the JSON."""
        rows = [
            ("Severity", self.severity.upper()),
            ("Kind", str(self.kind)),
            ("Report", self.report),
            ("Period", self.period),
            ("Deadline", _iso(self.deadline) if self.deadline else ""),
            ("Reason", self.reason),
            ("DAG", self.dag_id or ""),
            ("Task", self.task_id or ""),
            ("Run", self.run_id or ""),
            ("Alert key", self.key),
        ]
        lines = [self.subject, ""] + [f"{name}: {value}" for name, value in rows if value]
        if self.details:
            lines += ["", "Details:"]
            lines += [
                f"  {name}: {json.dumps(value, ensure_ascii=False, sort_keys=True)}"
                for name, value in sorted(self.details.items())
            ]
        return "\n".join(lines) + "\n"


def make_test_alert(now: datetime | None = None, reason: str = "alert channel check") -> Alert:
    """A TEST alert with a key of its own (`now` is its period), to check the channels."""
    return Alert(AlertKind.TEST, "regreport", _iso(_aware(now, "now")), reason)


# -- notifiers --------------------------------------------------------------------------------


@runtime_checkable
class Notifier(Protocol):
    """A delivery channel. `name` is what ``regreport.alerts.delivered_to`` records."""

    name: str

    def send(self, alert: Alert) -> None:
        """Deliver `alert`; raise on failure (the error text must hold no secret)."""


class LogFileNotifier:
    """Appends each alert as one JSON line to a file (its folder is created)."""

    def __init__(self, path: Path | str, *, name: str = "log") -> None:
        self.path = Path(path)
        self.name = name

    def __repr__(self) -> str:
        return f"LogFileNotifier({str(self.path)!r}, name={self.name!r})"

    def send(self, alert: Alert) -> None:
        """Append `alert.to_json()` and a newline in one write (concurrent writers never mix)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = (alert.to_json() + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)


class EmailNotifier:
    """Sends each alert by SMTP: the subject line, readable lines, then the alert's JSON.

    The password is used for ``AUTH`` only: it is not in `repr`, in a log or in an error.
    """

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        recipients: Sequence[str],
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 30,
        *,
        name: str = "email",
    ) -> None:
        if not host:
            raise ValueError("EmailNotifier needs an SMTP host")
        if "@" not in sender:
            raise ValueError(f"EmailNotifier sender is not an address: {sender!r}")
        self.recipients = tuple(r.strip() for r in recipients if r.strip())
        if not self.recipients or any("@" not in r for r in self.recipients):
            raise ValueError(f"EmailNotifier needs recipient addresses, got {recipients!r}")
        if (username is None) != (password is None):
            raise ValueError("EmailNotifier needs both a username and a password, or neither")
        self.host, self.port, self.sender = host, int(port), sender
        self.username, self._password = username, password
        self.starttls, self.timeout, self.name = starttls, timeout, name

    def __repr__(self) -> str:
        auth = f", username={self.username!r}, password=***" if self.username else ""
        return (
            f"EmailNotifier({self.host!r}, {self.port}, {self.sender!r}, {list(self.recipients)!r}"
            f"{auth}, starttls={self.starttls}, name={self.name!r})"
        )

    def message(self, alert: Alert) -> EmailMessage:
        """The e-mail `send` delivers."""
        msg = EmailMessage()
        msg["Subject"] = alert.subject
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Date"] = format_datetime(datetime.now(tz=UTC))
        # An explicit domain: the default asks DNS for this host's name, which can hang.
        msg["Message-ID"] = make_msgid("regreport-alert", domain=self.sender.rpartition("@")[2])
        msg[KEY_HEADER] = alert.key
        msg["X-RegReport-Severity"] = alert.severity
        body = f"{alert.text()}\n-- alert (JSON) --\n{alert.to_json(indent=2)}\n"
        msg.set_content(body, charset="utf-8")
        return msg

    def send(self, alert: Alert) -> None:
        """Deliver by SMTP (STARTTLS and AUTH when configured).

        Raises:
            NotifierError: The server refused some recipients (the others got the mail).
            smtplib.SMTPException, OSError: The server could not be reached or refused it.
        """
        msg = self.message(alert)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username is not None and self._password is not None:
                smtp.login(self.username, self._password)
            refused = smtp.send_message(msg)
        if refused:
            raise NotifierError(f"SMTP server refused recipients {', '.join(sorted(refused))}")


def sign_body(body: bytes, secret: str) -> str:
    """The `SIGNATURE_HEADER` value of a webhook body: ``sha256=<hex HMAC-SHA256>``.

    A receiver recomputes it over the raw request body with the shared secret and compares
    with `hmac.compare_digest`.
    """
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: urllib would follow one for a POST as a GET without the body."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _safe_url(url: str) -> str:
    """`url` without credentials, path or query (a chat webhook's path is its secret)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…"


class WebhookNotifier:
    """POSTs each alert's JSON to a URL, signed with HMAC-SHA256 when a secret is set.

    Headers: ``Content-Type: application/json``, `KEY_HEADER` and, with a secret,
    `SIGNATURE_HEADER` (see `sign_body`). Any answer but 2xx (redirects included) is a failure.
    The URL's path and the secret never appear in `repr`, a log or an error.
    """

    def __init__(
        self, url: str, secret: str | None = None, timeout: float = 10, *, name: str = "webhook"
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"webhook URL must be http(s)://host/..., got {_safe_url(url)}")
        self._url, self._secret = url, secret or None
        self.timeout, self.name = timeout, name
        self.target = _safe_url(url)

    def __repr__(self) -> str:
        signed = ", secret=***" if self._secret else ""
        return f"WebhookNotifier({self.target!r}{signed}, name={self.name!r})"

    def send(self, alert: Alert) -> None:
        """POST the alert.

        Raises:
            NotifierError: No connection, or an answer other than 2xx.
        """
        body = alert.to_json().encode("utf-8")
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "regreport-alerts/1",
            KEY_HEADER: alert.key,
        }
        if self._secret:
            headers[SIGNATURE_HEADER] = sign_body(body, self._secret)
        # The scheme was checked in __init__: only http(s).
        request = urllib.request.Request(  # noqa: S310
            self._url, data=body, headers=headers, method="POST"
        )
        opener = urllib.request.build_opener(_NoRedirect())
        try:
            with opener.open(request, timeout=self.timeout) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            try:
                answer = redact_text(exc.read(200).decode("utf-8", "replace").strip())
            except OSError:
                answer = ""
            raise NotifierError(
                f"webhook {self.target} answered HTTP {exc.code} {exc.reason}: {answer}"
            ) from exc
        except OSError as exc:  # URLError, timeouts, refused connections
            reason = getattr(exc, "reason", exc)
            raise NotifierError(f"webhook {self.target} unreachable: {reason}") from exc
        if not 200 <= status < 300:
            raise NotifierError(f"webhook {self.target} answered HTTP {status}")


# -- configuration ----------------------------------------------------------------------------

#: Builds a notifier from the environment (all of it: a plugin reads its own variables).
NotifierFactory = Callable[[Mapping[str, str]], Notifier]
_FACTORIES: dict[str, NotifierFactory] = {}


def register_notifier(name: str, factory: NotifierFactory, *, replace: bool = False) -> None:
    """Make `name` usable in ``REGREPORT_ALERT_CHANNELS``.

    Args:
        name: Lowercase channel name (letters, digits, ``_``, ``-``).
        factory: Called with the environment mapping; returns a `Notifier`, or raises
            ValueError naming a missing or bad variable.
        replace: Allow replacing a registered factory (otherwise a duplicate is an error).

    Raises:
        ValueError: A bad name, or the name is taken.
    """
    if not re.fullmatch(r"[a-z][a-z0-9_-]*", name):
        raise ValueError(f"notifier name must be lowercase letters, digits, _ or -: {name!r}")
    if name in _FACTORIES and not replace:
        raise ValueError(f"notifier {name!r} is already registered")
    _FACTORIES[name] = factory


def _setting(env: Mapping[str, str], variable: str, channel: str) -> str:
    value = (env.get(variable) or "").strip()
    if not value:
        raise ValueError(f"alert channel {channel!r} needs {variable}")
    return value


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _flag(env: Mapping[str, str], variable: str) -> bool:
    value = (env.get(variable) or "false").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{variable} must be true or false, got {value!r}")


def _home(env: Mapping[str, str]) -> Path:
    from regreport.config import REPO_ROOT

    home = (env.get("REGREPORT_HOME") or "").strip()
    return Path(home).expanduser().resolve() if home else REPO_ROOT / ".regreport"


def log_notifier_from_env(env: Mapping[str, str]) -> LogFileNotifier:
    """``log``: `LOG_ENV`, else ``alerts.log`` in the state folder (``REGREPORT_HOME``)."""
    path = (env.get(LOG_ENV) or "").strip()
    return LogFileNotifier(Path(path).expanduser() if path else _home(env) / "alerts.log")


def email_notifier_from_env(env: Mapping[str, str]) -> EmailNotifier:
    """``email``: ``REGREPORT_SMTP_*`` and `EMAIL_TO_ENV` (see `notifiers_from_env`)."""
    host = _setting(env, SMTP_HOST_ENV, "email")
    sender = _setting(env, SMTP_FROM_ENV, "email")
    recipients = _split(env.get(EMAIL_TO_ENV))
    if not recipients:
        raise ValueError(f"alert channel 'email' needs {EMAIL_TO_ENV} (a comma list)")
    port_text = (env.get(SMTP_PORT_ENV) or "25").strip()
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"{SMTP_PORT_ENV} must be a port number, got {port_text!r}")
    user = (env.get(SMTP_USER_ENV) or "").strip() or None
    password = env.get(SMTP_PASSWORD_ENV) or None
    if (user is None) != (password is None):
        missing = SMTP_PASSWORD_ENV if password is None else SMTP_USER_ENV
        raise ValueError(f"alert channel 'email' needs {missing} (user and password go together)")
    for address in [sender, *recipients]:
        if "@" not in address:
            raise ValueError(f"{SMTP_FROM_ENV}/{EMAIL_TO_ENV}: not an e-mail address: {address!r}")
    return EmailNotifier(
        host,
        int(port_text),
        sender,
        recipients,
        username=user,
        password=password,
        starttls=_flag(env, SMTP_STARTTLS_ENV),
    )


def webhook_notifier_from_env(env: Mapping[str, str]) -> WebhookNotifier:
    """``webhook``: `WEBHOOK_URL_ENV`, optionally `WEBHOOK_SECRET_ENV`."""
    url = _setting(env, WEBHOOK_URL_ENV, "webhook")
    try:
        return WebhookNotifier(url, secret=env.get(WEBHOOK_SECRET_ENV) or None)
    except ValueError as exc:
        raise ValueError(f"{WEBHOOK_URL_ENV}: {exc}") from None


register_notifier("log", log_notifier_from_env)
register_notifier("email", email_notifier_from_env)
register_notifier("webhook", webhook_notifier_from_env)


def _build(channel: str, env: Mapping[str, str]) -> Notifier:
    if ":" in channel:
        module_name, _, attr = channel.partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"{CHANNELS_ENV}: cannot load notifier {channel!r}: {exc}") from exc
    elif channel in _FACTORIES:
        factory = _FACTORIES[channel]
    else:
        known = ", ".join(sorted(_FACTORIES))
        raise ValueError(
            f"{CHANNELS_ENV}: unknown alert channel {channel!r}; expected one of {known} "
            "or package.module:factory"
        )
    notifier = factory(env)
    if not isinstance(notifier, Notifier) or not notifier.name:
        raise TypeError(f"{CHANNELS_ENV}: {channel!r} did not give a notifier (name and send)")
    return notifier


def notifiers_from_env(
    environ: Mapping[str, str] | None = None, home: Path | None = None
) -> list[Notifier]:
    """The alert channels configured in the environment, in the order listed.

    ``REGREPORT_ALERT_CHANNELS`` is a comma list (default ``log``) of registered names
    (``log``, ``email``, ``webhook``, or any `register_notifier` added) and of
    ``package.module:factory`` entries, imported and called with the environment mapping.

    - ``log``: ``REGREPORT_ALERT_LOG`` (default ``<home>/alerts.log``).
    - ``email``: ``REGREPORT_SMTP_HOST``, ``REGREPORT_SMTP_FROM``, ``REGREPORT_ALERT_EMAIL_TO``
      (comma list) required; ``REGREPORT_SMTP_PORT`` (25), ``REGREPORT_SMTP_USER`` with
      ``REGREPORT_SMTP_PASSWORD``, ``REGREPORT_SMTP_STARTTLS`` (true/false) optional.
    - ``webhook``: ``REGREPORT_ALERT_WEBHOOK_URL`` required, ``REGREPORT_ALERT_WEBHOOK_SECRET``
      optional (HMAC signature).

    Args:
        environ: The environment (default `os.environ`).
        home: The state folder (default ``REGREPORT_HOME``, else the checkout's ``.regreport``).

    Returns:
        One notifier per channel.

    Raises:
        ValueError: A channel is unknown, listed twice, cannot be imported, or misses a
            required setting (the message names the variable).
        TypeError: A plugin factory did not return a notifier.
    """
    env = dict(os.environ if environ is None else environ)
    if home is not None:
        env["REGREPORT_HOME"] = str(home)
    channels = _split(env.get(CHANNELS_ENV)) or _split(DEFAULT_CHANNELS)
    notifiers = [_build(channel, env) for channel in channels]
    names = [n.name for n in notifiers]
    if len(set(names)) != len(names):
        raise ValueError(f"{CHANNELS_ENV}: channel names must be unique, got {names}")
    return notifiers


# -- the warehouse ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertOutcome:
    """What `raise_alert` did.

    Attributes:
        key: The alert's key.
        times_seen: How often it has been raised (1 the first time).
        sent: Channels that got it from this raise.
        skipped: Channels passed in that had it from an earlier raise (not sent again).
        failed: Channel -> error, for this raise's failed deliveries (retried next time).
        delivered_to: Every channel that has it so far.
    """

    key: str
    times_seen: int
    sent: tuple[str, ...]
    skipped: tuple[str, ...]
    failed: Mapping[str, str]
    delivered_to: tuple[str, ...]


@dataclass(frozen=True)
class AlertRecord:
    """A ``regreport.alerts`` row."""

    key: str
    kind: str
    severity: str
    report: str
    period: str
    deadline: datetime | None
    run_id: str | None
    dag_id: str | None
    task_id: str | None
    reason: str
    details: dict[str, Any]
    first_raised_at: datetime
    last_raised_at: datetime
    times_seen: int
    delivered_to: tuple[str, ...]
    failed: dict[str, str]
    resolved_at: datetime | None


def ensure_schema(conn: psycopg.Connection[Any]) -> None:
    """Create ``regreport.alerts`` (and the audit log it writes to) if missing."""
    ddl.ensure(conn, "alerts", DDL)
    audit.ensure_schema(conn)


def _error_text(exc: BaseException) -> str:
    return redact_text(f"{type(exc).__name__}: {exc}")[:500]


def _deliver(alert: Alert, notifiers: Iterable[Notifier]) -> tuple[list[str], dict[str, str]]:
    """Send to each notifier; one failing never stops the others."""
    sent: list[str] = []
    failed: dict[str, str] = {}
    for notifier in notifiers:
        try:
            notifier.send(alert)
        except Exception as exc:  # Any failure: recorded, and retried by the next raise.
            failed[notifier.name] = _error_text(exc)
            log.warning(
                "alert %s: channel %s failed: %s", alert.key, notifier.name, failed[notifier.name]
            )
        else:
            sent.append(notifier.name)
            log.info("alert %s sent to %s", alert.key, notifier.name)
    return sent, failed


_UPSERT = f"""
insert into {TABLE} as a (alert_key, kind, severity, report, period, deadline, run_id, dag_id,
                          task_id, reason, details, first_raised_at, last_raised_at)
values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s)
on conflict (alert_key) do update set
    severity = excluded.severity,
    deadline = excluded.deadline,
    reason = excluded.reason,
    details = excluded.details,
    last_raised_at = greatest(a.last_raised_at, excluded.last_raised_at),
    times_seen = a.times_seen + 1,
    delivered_to = case when a.resolved_at is null then a.delivered_to else '{{}}' end,
    failed = case when a.resolved_at is null then a.failed else '{{}}' end,
    resolved_at = null
returning times_seen, delivered_to, failed
"""


def raise_alert(
    conn: psycopg.Connection[Any],
    alert: Alert,
    notifiers: Sequence[Notifier],
    now: datetime | None = None,
) -> AlertOutcome:
    """Record `alert` and deliver it to each channel that does not have it yet; commits.

    Under a transaction-level advisory lock on the alert's key (concurrent raisers of the same
    alert wait, then find it delivered): the row is inserted or its ``times_seen`` incremented,
    the alert is sent to the notifiers not in ``delivered_to``, successes are added there and
    failures recorded in ``failed`` (and retried by the next raise). A delivery is recorded in
    the audit trail as ``alert.raised``. An alert raised again after `resolve` is a new
    incident: it is delivered to every channel again.

    Sending happens inside the transaction, so a channel that hangs holds only this alert's
    lock (notifiers have timeouts). If the connection dies after a send but before the commit,
    that channel gets the alert again next time: at least once, never silently dropped.

    Args:
        conn: A warehouse connection (role ``regreport_report`` or the admin). Work pending on
            it is committed first.
        alert: The alert.
        notifiers: The channels (e.g. `notifiers_from_env`); names must be unique.
        now: When it was raised (timezone-aware; default the current time).

    Returns:
        What was sent, skipped and failed.

    Raises:
        AlertDeliveryError: None of `notifiers` has the alert after this raise (the row, with
            the errors, is committed).
        ValueError: No notifiers, duplicate names, or a naive `now`.
    """
    names = [n.name for n in notifiers]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"raise_alert needs notifiers with unique names, got {names}")
    now = _aware(now, "now")
    ensure_schema(conn)
    conn.commit()
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s, hashtext(%s))", (LOCK_CLASS, alert.key))
        times_seen, delivered, failed = _upsert(conn, alert, now)
        skipped = [n.name for n in notifiers if n.name in delivered]
        sent, errors = _deliver(alert, [n for n in notifiers if n.name not in delivered])
        delivered = [*delivered, *sent]
        failed = {k: v for k, v in failed.items() if k not in sent} | errors
        conn.execute(
            f"update {TABLE} set delivered_to = %s, failed = %s::jsonb where alert_key = %s",
            (delivered, json.dumps(failed, sort_keys=True), alert.key),
        )
        if sent:
            _audit(
                conn, alert, "alert.raised", channels=sent, failed=sorted(errors), seen=times_seen
            )
    outcome = AlertOutcome(
        alert.key, times_seen, tuple(sent), tuple(skipped), errors, tuple(delivered)
    )
    if not any(name in delivered for name in names):
        raise AlertDeliveryError(alert.key, errors)
    return outcome


def _upsert(
    conn: psycopg.Connection[Any], alert: Alert, now: datetime
) -> tuple[int, list[str], dict[str, str]]:
    row = conn.execute(
        _UPSERT,
        (
            alert.key,
            str(alert.kind),
            alert.severity,
            alert.report,
            alert.period,
            alert.deadline,
            alert.run_id,
            alert.dag_id,
            alert.task_id,
            alert.reason,
            json.dumps(alert.details, sort_keys=True),
            now,
            now,
        ),
    ).fetchone()
    assert row is not None  # noqa: S101 - insert ... returning always returns the row
    return int(row[0]), list(row[1]), {str(k): str(v) for k, v in (row[2] or {}).items()}


def _audit(
    conn: psycopg.Connection[Any],
    alert: Alert,
    action: str,
    **extra: Any,
) -> None:
    audit.record(
        conn,
        action=action,
        actor=audit.actor(),
        object_type="alert",
        object_id=alert.key,
        after={
            "kind": str(alert.kind),
            "severity": alert.severity,
            "report": alert.report,
            "period": alert.period,
            "deadline": _iso(alert.deadline) if alert.deadline else None,
            "reason": alert.reason,
            **extra,
        },
        run_id=alert.run_id,
    )


def raise_alert_dsn(
    dsn: str, alert: Alert, notifiers: Sequence[Notifier], now: datetime | None = None
) -> AlertOutcome:
    """`raise_alert` on a short connection of its own."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        return raise_alert(conn, alert, notifiers, now)


_COLUMNS = (
    "alert_key, kind, severity, report, period, deadline, run_id, dag_id, task_id, reason, "
    "details, first_raised_at, last_raised_at, times_seen, delivered_to, failed, resolved_at"
)


def _record(row: Sequence[Any]) -> AlertRecord:
    return AlertRecord(
        key=row[0],
        kind=row[1],
        severity=row[2],
        report=row[3],
        period=row[4],
        deadline=row[5],
        run_id=row[6],
        dag_id=row[7],
        task_id=row[8],
        reason=row[9],
        details=dict(row[10] or {}),
        first_raised_at=row[11],
        last_raised_at=row[12],
        times_seen=row[13],
        delivered_to=tuple(row[14]),
        failed=dict(row[15] or {}),
        resolved_at=row[16],
    )


def get_alert(conn: psycopg.Connection[Any], key: str) -> AlertRecord | None:
    """The row of one alert, or None."""
    ensure_schema(conn)
    row = conn.execute(f"select {_COLUMNS} from {TABLE} where alert_key = %s", (key,)).fetchone()
    return None if row is None else _record(row)


def list_alerts(conn: psycopg.Connection[Any], open_only: bool = False) -> list[AlertRecord]:
    """Recorded alerts, most recently raised first; `open_only` leaves out resolved ones."""
    ensure_schema(conn)
    where = "where resolved_at is null" if open_only else ""
    rows = conn.execute(
        f"select {_COLUMNS} from {TABLE} {where} order by last_raised_at desc, alert_key"
    ).fetchall()
    return [_record(row) for row in rows]


def resolve(conn: psycopg.Connection[Any], key: str, now: datetime | None = None) -> bool:
    """Mark an open alert resolved (audited as ``alert.resolved``); commits.

    Raising it again afterwards opens a new incident, delivered to every channel.

    Args:
        conn: A warehouse connection; work pending on it is committed first.
        key: The alert's key.
        now: When (timezone-aware; default the current time).

    Returns:
        True if it was open, False if it is unknown or was resolved already.
    """
    now = _aware(now, "now")
    ensure_schema(conn)
    conn.commit()
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s, hashtext(%s))", (LOCK_CLASS, key))
        row = conn.execute(
            f"update {TABLE} set resolved_at = %s where alert_key = %s and resolved_at is null "
            "returning run_id, times_seen",
            (now, key),
        ).fetchone()
        if row is not None:
            audit.record(
                conn,
                action="alert.resolved",
                actor=audit.actor(),
                object_type="alert",
                object_id=key,
                after={"resolved_at": _iso(now), "times_seen": row[1]},
                run_id=row[0],
            )
    return row is not None
