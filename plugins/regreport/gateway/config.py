"""Configuration of the regulator gateway simulator: accounts, reference data, scripted outcomes.

The simulator stands in for an NCA's SFTP reporting gateway, so everything a test or a demo
may want to vary is data here rather than code: which firms may log in (and where their
folders are), which ISINs the "reference data" knows, how long an unknown instrument stays
pending, which file names are accepted, and scripted outcomes that force a rejection, a
corrupt-file answer or a feedback delay for chosen files or records. A TOML file
(`gateway.toml` under the gateway root by default) holds it; `GatewayConfig.load` reads it.

Passwords are stored as scrypt hashes (`hash_password`), never in clear: the config file may be
committed for a demo, and a simulator that teaches clear-text secrets would be a bad model.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import hmac
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from regreport.naming import check_file_name

#: File name of the configuration under the gateway root.
CONFIG_FILE = "gateway.toml"

#: Accepted submission names per named convention; they mirror `regreport.naming` shapes.
FILE_NAME_PATTERNS: dict[str, str] = {
    "regreport": r"[A-Z0-9_]+_[A-Z0-9]{20}_\d{8}_S\d{3}_P\d{2}\.xml",
    "esma": r"[A-Z0-9]+_DATTRA_[A-Z]{2}_\d{6}_\d{2}_\d{2}\.xml",
}

#: Upload names that mean "still being written": a client uploads under such a name and
#: renames when complete, and the gateway must not process the half-written file.
DEFAULT_TEMP_PATTERNS = (".*", "*.part", "*.tmp", "*.filepart")

#: Statuses a scripted outcome may force, at file and at record level (auth.031 code lists).
FILE_STATUSES = frozenset({"ACPT", "PART", "RCVD", "RJCT", "RMDR", "WARN", "INCF", "CRPT"})
RECORD_STATUSES = frozenset({"ACPT", "PDNG", "RCVD", "RJCT"})

_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
_FIRM_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


class GatewayConfigError(ValueError):
    """The gateway configuration is malformed; the message names the setting."""


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """Hash a password for `FirmUser.password_hash` (scrypt, random salt).

    Args:
        password: The clear-text password.
        salt: Fixed salt, for reproducible test fixtures only.

    Returns:
        "scrypt$<salt b64>$<hash b64>".
    """
    salt = os.urandom(16) if salt is None else salt
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, password_hash: str) -> bool:
    """Check a password against `hash_password` output in constant time."""
    try:
        scheme, salt_b64, digest_b64 = password_hash.split("$")
        salt = base64.b64decode(salt_b64)
        expected = base64.b64decode(digest_b64)
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return hmac.compare_digest(digest, expected)


@dataclass(frozen=True)
class FirmUser:
    """One SFTP login.

    Attributes:
        name: The SSH user name.
        password_hash: From `hash_password`.
        firm: Folder of the firm under `<root>/firms/`; the user is chrooted there. Several
            users (e.g. a firm and its ARM) may share a firm folder.
    """

    name: str
    password_hash: str
    firm: str

    def __post_init__(self) -> None:
        """Refuse a firm folder that could escape `<root>/firms/`."""
        if not _FIRM_RE.fullmatch(self.firm):
            raise GatewayConfigError(f"user {self.name!r}: firm {self.firm!r} is not a safe name")


@dataclass(frozen=True)
class ScriptedOutcome:
    """A forced answer for matching files or records, so that tests can script any path.

    A file matches when every given selector matches (`firm`, `file_name` glob); a record
    additionally needs `tx_id` when given. An outcome with `file_status` applies to the whole
    file (e.g. CRPT); one with `record_status` to each matching record; `delay_seconds` delays
    the matching file's feedback.

    Attributes:
        firm: Firm folder the outcome applies to (None: any).
        file_name: Glob on the submitted file name (None: any).
        tx_id: Record selector (TxId); None makes a file-level outcome.
        file_status: Forced file status (auth.031 `MsgSts/Sts`).
        record_status: Forced record status (`RcrdSts/Sts`).
        rule_id: Validation rule id reported with the forced status.
        rule_desc: Its description.
        delay_seconds: Feedback for the file is written this much later.
    """

    firm: str | None = None
    file_name: str | None = None
    tx_id: str | None = None
    file_status: str | None = None
    record_status: str | None = None
    rule_id: str = "SIM-001"
    rule_desc: str = "Outcome scripted in the gateway simulator"
    delay_seconds: float = 0.0

    def __post_init__(self) -> None:
        """Reject codes that auth.031 cannot carry, at load time rather than at feedback time."""
        if self.file_status is not None and self.file_status not in FILE_STATUSES:
            raise GatewayConfigError(f"outcome file_status {self.file_status!r} is not a code")
        if self.record_status is not None and self.record_status not in RECORD_STATUSES:
            raise GatewayConfigError(f"outcome record_status {self.record_status!r} is not a code")
        if self.record_status is not None and self.tx_id is None:
            raise GatewayConfigError("an outcome with record_status needs tx_id")
        if not 1 <= len(self.rule_id) <= 35 or not 1 <= len(self.rule_desc) <= 350:
            raise GatewayConfigError("outcome rule_id must be 1-35 and rule_desc 1-350 chars")

    def matches_file(self, firm: str, file_name: str) -> bool:
        """Whether the outcome's file selectors match."""
        return (self.firm is None or self.firm == firm) and (
            self.file_name is None or fnmatch.fnmatchcase(file_name, self.file_name)
        )


@dataclass(frozen=True)
class GatewayConfig:
    """Everything the simulator needs; see the module docstring.

    Attributes:
        root: Gateway root: `firms/<firm>/{inbox,outbox}`, `keys/`, `state/`, `run/`.
        users: SFTP logins.
        schemas_dir: ESMA XSD folder (default: `Settings.from_env().schemas_dir`).
        refdata_dir: Reference data folder (ISO 10383 MICs, ISO 4217 currencies) for the
            content rules (default: `Settings.from_env().refdata_dir`, i.e.
            `REGREPORT_REFDATA_DIR`, as the platform).
        schema_version: auth.016 usage-guideline version files are validated against.
        nca_country: Country code the gateway answers as (`AppHdr/Fr` of the feedback).
        instruments_file: Text file of known ISINs, one a line (`#` comments); re-read at every
            check so a test can "publish" an instrument by appending it.
        file_name_pattern: Regular expression a submitted name must match fully, or a key of
            `FILE_NAME_PATTERNS`; other names get INCF.
        temp_patterns: Globs of upload names that are ignored until renamed.
        pending_max_checks: A pending record (CON-411) is rejected (CON-412) when its
            instrument is still unknown after this many re-checks...
        pending_max_days: ...or this many days after the first check, whichever comes first.
        recheck_interval_seconds: Time between re-checks of pending records (ESMA: daily).
        feedback_delay_seconds: Every feedback file is written this much after the upload.
        tick_seconds: How often the running server rescans inboxes, re-checks pending records
            and writes due feedback; None disables the background tick (tests call `tick`).
        outcomes: Scripted outcomes, first match wins.
    """

    root: Path
    users: tuple[FirmUser, ...] = ()
    schemas_dir: Path | None = None
    refdata_dir: Path | None = None
    schema_version: str = "1.1.0"
    nca_country: str = "FR"
    instruments_file: Path | None = None
    file_name_pattern: str = "regreport"
    temp_patterns: tuple[str, ...] = DEFAULT_TEMP_PATTERNS
    pending_max_checks: int = 7
    pending_max_days: float = 7.0
    recheck_interval_seconds: float = 86_400.0
    feedback_delay_seconds: float = 0.0
    tick_seconds: float | None = 1.0
    outcomes: tuple[ScriptedOutcome, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        """Fail at load time on settings that would only break later, mid-upload."""
        try:
            re.compile(self.name_regex)
        except re.error as exc:
            raise GatewayConfigError(f"file_name_pattern is not a regex: {exc}") from None
        if self.pending_max_checks < 0 or self.pending_max_days < 0:
            raise GatewayConfigError("pending_max_checks and pending_max_days must be >= 0")
        names = [u.name for u in self.users]
        if len(names) != len(set(names)):
            raise GatewayConfigError("user names must be unique")

    @property
    def name_regex(self) -> str:
        """The regular expression submitted names must match."""
        return FILE_NAME_PATTERNS.get(self.file_name_pattern, self.file_name_pattern)

    def resolved_schemas_dir(self) -> Path:
        """`schemas_dir`, or the platform's configured ESMA schemas folder."""
        if self.schemas_dir is not None:
            return self.schemas_dir
        from regreport.config import Settings

        return Settings.from_env().schemas_dir

    def resolved_refdata_dir(self) -> Path:
        """`refdata_dir`, or the platform's configured reference data folder."""
        if self.refdata_dir is not None:
            return self.refdata_dir
        from regreport.config import Settings

        return Settings.from_env().refdata_dir

    def user(self, name: str) -> FirmUser | None:
        """The login called `name`, if configured."""
        return next((u for u in self.users if u.name == name), None)

    def firm_dir(self, firm: str) -> Path:
        """The chroot of a firm's users."""
        return self.root / "firms" / firm

    def is_temp_name(self, name: str) -> bool:
        """Whether `name` is an in-progress upload name."""
        return any(fnmatch.fnmatchcase(name, p) for p in self.temp_patterns)

    def is_valid_name(self, name: str) -> bool:
        """Whether `name` follows the configured naming convention (else INCF)."""
        try:
            check_file_name(name)
        except ValueError:
            return False
        return re.fullmatch(self.name_regex, name) is not None

    @classmethod
    def load(cls, root: Path, config_file: Path | None = None, **overrides: Any) -> GatewayConfig:
        """Read `<root>/gateway.toml` (or `config_file`); a missing default file means defaults.

        Relative paths in the file are relative to the file's folder. Keys: the attribute
        names above; `[[users]]` tables with name, password_hash, firm; `[[outcomes]]` tables
        with the `ScriptedOutcome` attributes.

        Args:
            root: Gateway root.
            config_file: Explicit config file (must exist).
            **overrides: Attribute values that win over the file (e.g. from the command line).

        Returns:
            The configuration.

        Raises:
            GatewayConfigError: Unknown keys or bad values.
        """
        path = config_file if config_file is not None else root / CONFIG_FILE
        data: dict[str, Any] = {}
        if config_file is not None or path.is_file():
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        return cls.from_mapping(root, data, base=path.parent, **overrides)

    @classmethod
    def from_mapping(
        cls, root: Path, data: dict[str, Any], *, base: Path | None = None, **overrides: Any
    ) -> GatewayConfig:
        """Build a configuration from parsed TOML (see `load`)."""
        data = {**data, **overrides}
        base = root if base is None else base
        known = set(cls.__dataclass_fields__) - {"root"}
        unknown = set(data) - known
        if unknown:
            raise GatewayConfigError(f"unknown gateway settings: {', '.join(sorted(unknown))}")
        try:
            users = tuple(
                u if isinstance(u, FirmUser) else FirmUser(**u) for u in data.pop("users", ())
            )
            outcomes = tuple(
                o if isinstance(o, ScriptedOutcome) else ScriptedOutcome(**o)
                for o in data.pop("outcomes", ())
            )
        except TypeError as exc:
            raise GatewayConfigError(f"bad user or outcome entry: {exc}") from None
        for key in ("schemas_dir", "refdata_dir", "instruments_file"):
            if data.get(key) is not None:
                data[key] = (base / Path(data[key]).expanduser()).resolve()
        if "temp_patterns" in data:
            data["temp_patterns"] = tuple(data["temp_patterns"])
        return cls(root=root.resolve(), users=users, outcomes=outcomes, **data)
