"""Validate an auth.016 file as a regulator would: the ESMA XSDs, then the rule catalogue.

`regreport validate FILE` and the regulator simulator (`regreport.gateway.checks`) both use this
module, so a file from any tool (a bare `Document` or a head.003 `BizData` envelope) meets the
same content rules as the platform's own records before they are rendered.

Order: the XSD check first (`regreport.xml.schema.validate_file`); a file that fails it gets no
content check, because the reader's values (and so the rules' verdicts) are unreliable on a
file of the wrong shape. Then every `Tx` is read back into report columns
(`regreport.xml.read`) and `regreport.rules.check_record` runs on it with a "from file"
context:

* the rules the catalogue marks `from_file: false` (they need a column a file cannot carry)
  are skipped by `check_record`;
* a file has no reporting period, so each record is checked with a period of its own trade
  date: "outside the reporting period" (RR-TS-002) cannot fire;
* reference tables the warehouse loads for a run (FIRDS, GLEIF) are not loaded here, so the
  rules that need them do not fire; ISO 10383 and ISO 4217 come from `refdata_dir`;
* a `Cxl` carries only its three keys, so only findings on those fields count for it.

Findings carry the catalogue's message (never a value) and, separately, the offending value:
callers show it only when asked (`--show-values`, which is audited), since it may be a name, a
birth date or a national id.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from regreport.rules import CATALOGUE, RefData, RuleContext, check_record
from regreport.xml.read import read_auth016
from regreport.xml.schema import validate_file

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from regreport.rules import Finding
    from regreport.xml.schema import ValidationReport as SchemaReport

#: Columns a `Tx/Cxl` carries; findings on other columns do not apply to a cancellation.
CANCEL_FIELDS = frozenset({"tx_id", "executing_entity_lei", "submitting_entity_lei"})
#: How often (in records) `progress` is called.
PROGRESS_EVERY = 10_000
#: Trade date assumed for a record without a usable trading date time (its rules say so).
_NO_DAY = date(2000, 1, 1)


@dataclass(frozen=True)
class ContentFinding:
    """One catalogue rule failing on one field of one record of a file.

    Attributes:
        index: 1-based position of the record in the file.
        tx_id: The record's `TxId`.
        action: "New" or "Cxl".
        line: Line of the record's `Tx` element.
        code: Our rule code (`RR-...`).
        esma_rule: ESMA's error code for the rule and field, where one is known.
        field: Report column the finding is about.
        message: The catalogue's message (no value).
        severity: "error" or "warning".
        value: The offending value; show it only on request (it may be personal data).
    """

    index: int
    tx_id: str
    action: str
    line: int | None
    code: str
    esma_rule: str | None
    field: str
    message: str
    severity: str
    value: Any = field(default=None, repr=False, compare=False)

    @property
    def rule_id(self) -> str:
        """ESMA's code where one exists, else ours: what a regulator's feedback would name."""
        return self.esma_rule or self.code

    def to_dict(self, *, show_values: bool = False) -> dict[str, Any]:
        """A JSON-ready mapping; the value only with `show_values`."""
        out: dict[str, Any] = {
            "index": self.index,
            "tx_id": self.tx_id,
            "action": self.action,
            "line": self.line,
            "code": self.code,
            "esma_rule": self.esma_rule,
            "field": self.field,
            "severity": self.severity,
            "message": self.message,
        }
        if show_values:
            out["value"] = None if self.value is None else str(self.value)
        return out


@dataclass(frozen=True)
class RecordResult:
    """The content findings of one record (empty when it passes)."""

    index: int
    tx_id: str
    action: str
    findings: tuple[ContentFinding, ...]

    @property
    def errors(self) -> tuple[ContentFinding, ...]:
        """Error-severity findings: a regulator would reject the record."""
        return tuple(f for f in self.findings if f.severity == "error")


@dataclass
class ValidationReport:
    """What `validate_auth016` found.

    Attributes:
        path: The file.
        schema: The XSD check's report.
        content_checked: Whether the content rules ran (only on an XSD-valid file).
        records: Records read by the content check.
        findings: Content findings, at most `max_findings` of them (counts are complete).
        errors: Error-severity content findings.
        warnings: Warning-severity content findings.
        by_code: Findings per rule code.
        records_with_errors: Records with at least one error finding.
        truncated: Whether findings beyond `max_findings` were counted but not kept.
    """

    path: Path
    schema: SchemaReport
    content_checked: bool = False
    records: int = 0
    findings: list[ContentFinding] = field(default_factory=list)
    errors: int = 0
    warnings: int = 0
    by_code: Counter[str] = field(default_factory=Counter)
    records_with_errors: int = 0
    truncated: bool = False

    @property
    def valid(self) -> bool:
        """XSD-valid and no error-severity finding (warnings do not make a file invalid)."""
        return self.schema.valid and self.errors == 0

    def to_dict(self, *, show_values: bool = False) -> dict[str, Any]:
        """A JSON-ready summary: schema errors, content findings and counts."""
        return {
            "file": str(self.path),
            "valid": self.valid,
            "schema": {
                "valid": self.schema.valid,
                "errors": [
                    {"line": e.line, "column": e.column, "message": e.message}
                    for e in self.schema.errors
                ],
                "truncated": self.schema.truncated,
            },
            "content_checked": self.content_checked,
            "records": self.records,
            "errors": self.errors,
            "warnings": self.warnings,
            "records_with_errors": self.records_with_errors,
            "by_code": dict(sorted(self.by_code.items())),
            "findings": [f.to_dict(show_values=show_values) for f in self.findings],
            "truncated": self.truncated,
        }


class _Contexts:
    """One from-file `RuleContext` per trade date, sharing one set of reference tables."""

    def __init__(self, refdata_dir: Path) -> None:
        self._refdata = RefData(Path(refdata_dir))
        self._by_day: dict[date, RuleContext] = {}

    def for_day(self, day: date | None) -> RuleContext:
        day = day or _NO_DAY
        ctx = self._by_day.get(day)
        if ctx is None:
            ctx = RuleContext(day, day + timedelta(days=1), self._refdata, from_file=True)
            self._by_day[day] = ctx
        return ctx


def _content_finding(
    item: Finding, index: int, tx_id: str, action: str, line: int | None, value: Any
) -> ContentFinding:
    entry = CATALOGUE.get(item.code)
    return ContentFinding(
        index=index,
        tx_id=tx_id,
        action=action,
        line=line,
        code=item.code,
        esma_rule=entry.esma_rule_for(item.field) if entry is not None else None,
        field=item.field,
        message=item.message,
        severity=item.severity,
        value=value,
    )


def check_records(
    path: Path,
    refdata_dir: Path,
    *,
    progress: Callable[[int], None] | None = None,
) -> Iterator[RecordResult]:
    """Run the rule catalogue on every record of an auth.016 file, streaming.

    The file should be XSD-valid (see the module docstring); this function does not check.

    Args:
        path: The file.
        refdata_dir: Folder of the ISO 10383 / ISO 4217 tables (`Settings.refdata_dir`).
        progress: Called with the number of records read, every `PROGRESS_EVERY` records.

    Yields:
        One `RecordResult` per record, in file order.

    Raises:
        regreport.xml.read.ReadError: The file is not well-formed.
        regreport.rules.RefDataMissingError: A reference table is missing.
    """
    contexts = _Contexts(refdata_dir)
    for read in read_auth016(path):
        record = read.record
        items = check_record(record, contexts.for_day(record.get("trading_date")))
        if read.action == "Cxl":
            items = [item for item in items if item.field in CANCEL_FIELDS]
        elif read.action != "New":
            items = []
        yield RecordResult(
            index=read.index,
            tx_id=read.tx_id,
            action=read.action,
            findings=tuple(
                _content_finding(
                    item, read.index, read.tx_id, read.action, read.line, record.get(item.field)
                )
                for item in items
            ),
        )
        if progress is not None and read.index % PROGRESS_EVERY == 0:
            progress(read.index)


def validate_auth016(
    path: Path,
    schemas_dir: Path,
    schema_version: str,
    refdata_dir: Path,
    *,
    max_errors: int = 100,
    max_findings: int = 1000,
    progress: Callable[[int], None] | None = None,
) -> ValidationReport:
    """Check an auth.016 file: the XSDs, then (if it passes) every content rule.

    Args:
        path: The file (bare `Document` or `BizData` envelope).
        schemas_dir: ESMA XSD folder (`Settings.schemas_dir`).
        schema_version: Usage-guideline version, e.g. "1.1.0".
        refdata_dir: Reference data folder (`Settings.refdata_dir`).
        max_errors: Most XSD errors reported.
        max_findings: Most content findings kept in the report; all are counted.
        progress: Called with the number of records read, every `PROGRESS_EVERY` records.

    Returns:
        The report; `valid` is False on an XSD error or an error-severity finding.

    Raises:
        regreport.xml.schema.SchemaError: The schemas cannot be loaded.
        regreport.rules.RefDataMissingError: A reference table is missing.
    """
    schema_report = validate_file(path, schemas_dir, schema_version, max_errors=max_errors)
    report = ValidationReport(path=path, schema=schema_report)
    if not schema_report.valid:
        return report
    report.content_checked = True
    for result in check_records(path, refdata_dir, progress=progress):
        report.records += 1
        if result.errors:
            report.records_with_errors += 1
        for item in result.findings:
            report.by_code[item.code] += 1
            if item.severity == "error":
                report.errors += 1
            else:
                report.warnings += 1
            if len(report.findings) < max_findings:
                report.findings.append(item)
            else:
                report.truncated = True
    return report
