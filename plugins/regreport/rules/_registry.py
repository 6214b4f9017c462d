"""The rule catalogue, the `rule_impl` registry, the rule context and `check_record`.

The catalogue (`registry.json`, next to this module) is the single source of each rule's code,
message, severity, legal reference and the record fields it applies to. Python functions only
implement rules: `@rule_impl(code)` attaches one function to one catalogue code, and refuses a
code that is not in the catalogue or that already has an implementation.

Finding messages are the catalogue's static text and name a field, never a value: records carry
natural-person data (RTS 22 fields 7-24), which must not leak into logs, feedback tables or
exception queues through a validation message.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from regreport.refdata import FirdsEntry, LeiEntry

Severity = Literal["error", "warning"]
RuleFunc = Callable[[Mapping[str, Any], "RuleContext"], Iterable["Finding"]]

CATALOGUE_RESOURCE = "registry.json"
#: RTS 22 field 36 values that are not venues: off-venue in listed instruments, and unlisted.
SPECIAL_MICS = frozenset({"XOFF", "XXXX"})
MIC_CSV = Path("iso10383") / "ISO10383_MIC.csv"
CURRENCY_CSV = Path("iso4217") / "codes-all.csv"


class RuleCatalogueError(Exception):
    """The catalogue is malformed, or an implementation does not fit it."""


class RefDataMissingError(FileNotFoundError):
    """A reference data file the rules need is not under the configured refdata directory."""


@dataclass(frozen=True)
class CatalogueEntry:
    """One rule as the catalogue describes it.

    Optional catalogue keys: `esma_rule`, the error code of ESMA's own validation rule that
    this rule implements (e.g. "CON-070"), and `esma_rule_by_field` where ESMA has one code per
    field (column -> code; then only those fields have one). Only codes read in an ESMA, NCA
    or ARM source are entered (docs/reporting/mifir/validation-rules.md lists the sources).
    `from_file` is false for a rule that needs a column an auth.016 file does not carry (e.g.
    `instrument_type` for an instrument identified by ISIN only), so that `validate` and the
    regulator simulator skip it (`RuleContext.from_file`).
    """

    code: str
    message: str
    severity: Severity
    legal_ref: str
    applies_to: tuple[str, ...]
    esma_rule: str | None = None
    esma_rule_by_field: Mapping[str, str] = field(default_factory=dict, hash=False)
    from_file: bool = True

    def esma_rule_for(self, field_name: str) -> str | None:
        """ESMA's error code for a finding on `field_name`, if one is known."""
        if self.esma_rule_by_field:
            return self.esma_rule_by_field.get(field_name)
        return self.esma_rule


@dataclass(frozen=True)
class Finding:
    """One rule failure on one field of one record. `message` never contains field values."""

    code: str
    field: str
    message: str
    severity: Severity

    @property
    def blocking(self) -> bool:
        """Whether the finding keeps the record out of the report."""
        return self.severity == "error"


@dataclass(frozen=True)
class MicEntry:
    """The ISO 10383 columns the MIC rules use."""

    status: str
    created: date | None
    expires: date | None

    def active_on(self, day: date) -> bool:
        """Whether the MIC existed on `day`: created on or before it and not yet expired."""
        if self.created is not None and day < self.created:
            return False
        return self.expires is None or day < self.expires


def _yyyymmdd(text: str) -> date | None:
    text = text.strip()
    return datetime.strptime(text, "%Y%m%d").date() if text else None  # noqa: DTZ007


def _require(path: Path) -> Path:
    if not path.is_file():
        raise RefDataMissingError(
            f"reference data file {path} is missing; set REGREPORT_REFDATA_DIR to the directory "
            "holding iso10383/ and iso4217/ (see shared/refdata/SOURCES.md)"
        )
    return path


@cache
def load_mics(path: Path) -> Mapping[str, MicEntry]:
    """Read the ISO 10383 CSV (ISO 20022 RA "Release 2" layout) into MIC -> entry."""
    with _require(path).open(newline="", encoding="utf-8-sig") as handle:
        return {
            row["MIC"].strip(): MicEntry(
                status=row["STATUS"].strip(),
                created=_yyyymmdd(row["CREATION DATE"]),
                expires=_yyyymmdd(row["EXPIRY DATE"]),
            )
            for row in csv.DictReader(handle)
            if row["MIC"].strip()
        }


_WITHDRAWAL_TOKEN = re.compile(r"(\d{4})(?:-(\d{2}))?(?!\d)")


def _withdrawn_from(text: str) -> date | None:
    """First day a code is no longer current, from a WithdrawalDate such as ``2002-03``.

    The column holds a month (``2002-03``), a year range (``1989 to 1990``, ``1989-1990``) or a
    month range (``1990-07 to 1990-09``). The last month or year named is when the withdrawal
    ended, so the code counts as current up to the end of it: a trade in the withdrawal month
    itself is not rejected, as the data does not say on which day the code stopped.
    """
    tokens = _WITHDRAWAL_TOKEN.findall(text)
    if not tokens:
        return None
    year, month = int(tokens[-1][0]), int(tokens[-1][1] or 12)
    return date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)


@cache
def load_currencies(path: Path) -> Mapping[str, tuple[date | None, ...]]:
    """Read ISO 4217 codes-all.csv into code -> first non-current day per row (None = current)."""
    table: dict[str, list[date | None]] = {}
    with _require(path).open(newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            code = row["AlphabeticCode"].strip()
            if code:
                table.setdefault(code, []).append(_withdrawn_from(row["WithdrawalDate"]))
    return {code: tuple(ends) for code, ends in table.items()}


@dataclass(frozen=True)
class RefData:
    """Reference tables read lazily from `refdata_dir`, cached per file for the process.

    `firds` and `gleif` are the run's FIRDS instruments and GLEIF LEIs (ISIN / LEI -> entry,
    `regreport.refdata`), filled by the rule gate from the warehouse; None means the table is
    not loaded, so the reference-data rules (RR-REF) cannot tell and do not fire.
    """

    refdata_dir: Path
    firds: Mapping[str, FirdsEntry] | None = field(default=None, compare=False, repr=False)
    gleif: Mapping[str, LeiEntry] | None = field(default=None, compare=False, repr=False)

    # cached_property (not property): a rule gate calls these millions of times, and building
    # the path and hashing it for the file cache each time was a measurable share of the cost.
    @cached_property
    def mics(self) -> Mapping[str, MicEntry]:
        """ISO 10383 MIC -> status and validity dates."""
        return load_mics(self.refdata_dir / MIC_CSV)

    @cached_property
    def currencies(self) -> Mapping[str, tuple[date | None, ...]]:
        """ISO 4217 alphabetic code -> withdrawal day per listing (None while current)."""
        return load_currencies(self.refdata_dir / CURRENCY_CSV)

    def currency_current_on(self, code: str, day: date) -> bool:
        """Whether some listing of `code` was still current on `day`."""
        return any(end is None or day < end for end in self.currencies.get(code, ()))


@dataclass(frozen=True)
class RuleContext:
    """What rules may know beyond the record: the reporting period and the reference data.

    Attributes:
        period_start: first UTC day of the reporting period (inclusive).
        period_end: first UTC day after the period (exclusive), as in `[start, end)`.
        refdata: the ISO 10383 / ISO 4217 tables.
        from_file: the record was read from an auth.016 file (`regreport.xml.read`), not from
            the warehouse: `check_record` skips the rules the catalogue marks `from_file: false`.
    """

    period_start: date
    period_end: date
    refdata: RefData = field(repr=False)
    from_file: bool = False

    @classmethod
    def for_period(cls, period_start: date, period_end: date, refdata_dir: Path) -> RuleContext:
        """Build a context reading reference data from `refdata_dir` (`Settings.refdata_dir`)."""
        return cls(period_start, period_end, RefData(Path(refdata_dir)))

    @property
    def period_start_utc(self) -> datetime:
        """Start of the period as an aware UTC instant."""
        return datetime.combine(self.period_start, time(), tzinfo=UTC)

    @property
    def period_end_utc(self) -> datetime:
        """End of the period (exclusive) as an aware UTC instant."""
        return datetime.combine(self.period_end, time(), tzinfo=UTC)


def _load_catalogue() -> dict[str, CatalogueEntry]:
    raw = json.loads(resources.files(__package__).joinpath(CATALOGUE_RESOURCE).read_text("utf-8"))
    catalogue: dict[str, CatalogueEntry] = {}
    for item in raw:
        entry = CatalogueEntry(
            code=item["code"],
            message=item["message"],
            severity=item["severity"],
            legal_ref=item["legal_ref"],
            applies_to=tuple(item["applies_to"]),
            esma_rule=item.get("esma_rule"),
            esma_rule_by_field=dict(item.get("esma_rule_by_field", {})),
            from_file=bool(item.get("from_file", True)),
        )
        if entry.code in catalogue:
            raise RuleCatalogueError(f"{entry.code} appears twice in {CATALOGUE_RESOURCE}")
        if entry.severity not in ("error", "warning"):
            raise RuleCatalogueError(f"{entry.code}: severity must be error or warning")
        if not entry.applies_to:
            raise RuleCatalogueError(f"{entry.code}: applies_to must name fields or 'record'")
        catalogue[entry.code] = entry
    return catalogue


#: Rule code -> catalogue entry, in catalogue order.
CATALOGUE: Mapping[str, CatalogueEntry] = _load_catalogue()
#: The codes `check_record` runs on a record read from a file (catalogue order).
FILE_CODES: tuple[str, ...] = tuple(code for code, entry in CATALOGUE.items() if entry.from_file)
_IMPLEMENTATIONS: dict[str, RuleFunc] = {}


def rule_impl(code: str) -> Callable[[RuleFunc], RuleFunc]:
    """Register the decorated function as the one implementation of catalogue rule `code`.

    Args:
        code: a code present in `registry.json`.

    Returns:
        A decorator that registers the function and returns it unchanged.

    Raises:
        RuleCatalogueError: if `code` is not in the catalogue, already has an implementation, or
            the function's docstring does not open with the code (STYLE B6).
    """
    if code not in CATALOGUE:
        raise RuleCatalogueError(f"{code} is not in the rule catalogue {CATALOGUE_RESOURCE}")

    def register(func: RuleFunc) -> RuleFunc:
        if not (func.__doc__ or "").startswith(code):
            raise RuleCatalogueError(f"{func.__qualname__}: docstring must open with {code}")
        if code in _IMPLEMENTATIONS:
            existing = _IMPLEMENTATIONS[code]
            raise RuleCatalogueError(
                f"{code} is already implemented by {existing.__module__}.{existing.__qualname__}"
            )
        _IMPLEMENTATIONS[code] = func
        return func

    return register


def finding(code: str, field_name: str) -> Finding:
    """A finding for `code` on `field_name`, with the catalogue's message and severity."""
    entry = CATALOGUE[code]
    return Finding(code=code, field=field_name, message=entry.message, severity=entry.severity)


def implementations() -> Mapping[str, RuleFunc]:
    """Code -> registered function (read-only view for tests and tooling)."""
    return dict(_IMPLEMENTATIONS)


def catalogue_mismatches() -> tuple[list[str], list[str]]:
    """Codes without an implementation, and implemented codes missing from the catalogue."""
    missing = [code for code in CATALOGUE if code not in _IMPLEMENTATIONS]
    unknown = [code for code in _IMPLEMENTATIONS if code not in CATALOGUE]
    return missing, unknown


def check_record(record: Mapping[str, Any], ctx: RuleContext) -> list[Finding]:
    """Run every catalogue rule on one record, in catalogue order.

    With `ctx.from_file`, the rules marked `from_file: false` in the catalogue are skipped.

    Raises:
        RuleCatalogueError: if a catalogue rule has no implementation, so that an unimplemented
            rule can never pass silently.
    """
    missing, _ = catalogue_mismatches()
    if missing:
        raise RuleCatalogueError(f"rules without implementation: {', '.join(missing)}")
    codes = FILE_CODES if ctx.from_file else CATALOGUE
    return [item for code in codes for item in _IMPLEMENTATIONS[code](record, ctx)]


# Helpers shared by the rule modules ------------------------------------------------------------


def trade_date(record: Mapping[str, Any]) -> date | None:
    """The UTC trade date: the record's `trading_date`, else the UTC date of `trading_datetime`."""
    day = record.get("trading_date")
    if isinstance(day, datetime):
        return day.date()
    if isinstance(day, date):
        return day
    moment = as_datetime(record.get("trading_datetime"))
    if moment is None or moment.tzinfo is None:
        return None
    return moment.astimezone(UTC).date()


def as_datetime(value: Any) -> datetime | None:
    """A `datetime` from a datetime or an ISO 8601 string; None for anything else."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def as_date(value: Any) -> date | None:
    """A `date` from a date, a datetime or an ISO 8601 string; None for anything else."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def present(value: Any) -> bool:
    """Whether a record value counts as populated: not None and not a blank string.

    The report contract writes NULL for a field that does not apply; a blank string is treated
    the same way so that it can neither satisfy a mandatory rule nor trip a forbidden one.
    """
    if value is None:
        return False
    return not (isinstance(value, str) and not value.strip())


def party_ids(record: Mapping[str, Any], id_type: str) -> Iterator[tuple[str, str]]:
    """(field, value) of the buyer and seller ids whose `<side>_id_type` is `id_type`."""
    for side in ("buyer", "seller"):
        if record.get(f"{side}_id_type") == id_type:
            yield f"{side}_id", record.get(f"{side}_id") or ""
