"""Load the ESMA XSDs and validate whole submission files against them, in constant memory.

A file sent to an NCA is a head.003 `BizData` envelope whose `Hdr` and `Pyld` are
`xs:any processContents="strict"`: the envelope is only valid if the head.001 and auth.016
schemas are loaded too. None of ESMA's files imports the others, so `load_schema` builds a tiny
driver schema in memory that `xs:import`s all three by absolute file URI. Every global element
of the three (`BizData`, `AppHdr`, `Document`) can then be a validation root, which is why a bare
`Document`, as some tools write it, validates with the same schema object.

The schema files are read from `Settings.schemas_dir` and are never copied into the repository
(SWIFT MyStandards licence; see the header of each file).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from lxml import etree

from regreport.xml.namespaces import DEFAULT_SCHEMA_VERSION, schema_set

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

#: Files up to this size are parsed whole when invalid, because libxml2 reports line numbers
#: only for tree validation; streaming (SAX) validation reports line 0. 16 MiB is about 25k
#: records and some 200 MiB of tree, an acceptable one-off cost on the error path.
FULL_PARSE_MAX_BYTES = 16 * 1024 * 1024

_XS = "http://www.w3.org/2001/XMLSchema"
_TX_PARENT = "FinInstrmRptgTxRpt"

_SCHEMAS_HINT = (
    "ESMA publishes the MiFIR transaction reporting XML schemas (head.001, head.003 and the "
    "auth.016 usage guidelines) on its MiFIR reporting instructions page at esma.europa.eu; "
    "put the .xsd files in one folder and point the REGREPORT_SCHEMAS_DIR environment "
    "variable at it."
)


class SchemaError(RuntimeError):
    """The ESMA schemas could not be loaded, so no file can be validated."""


class SchemaNotFoundError(SchemaError, FileNotFoundError):
    """The schemas folder or one of its files is missing.

    Raised instead of a bare `OSError` from deep inside libxml2 so that an operator sees which
    folder was searched and how to obtain the files.
    """


class ValidationError(NamedTuple):
    """One problem found in a file.

    Attributes:
        line: 1-based line of the offending element, or None when libxml2 gave none (streaming
            validation of files over `FULL_PARSE_MAX_BYTES`).
        column: 1-based column when known (syntax errors), else None.
        message: libxml2's message, e.g. the facet that failed.
    """

    line: int | None
    column: int | None
    message: str


@dataclass
class ValidationReport:
    """Outcome of `validate_file`.

    Attributes:
        valid: True only if the file is well-formed and valid against the XSDs.
        errors: Up to `max_errors` problems, in document order where lines are known.
        records: Number of `FinInstrmRptgTxRpt/Tx` elements seen (up to a syntax error).
        truncated: True if more errors existed than were kept.
    """

    valid: bool
    errors: list[ValidationError] = field(default_factory=list)
    records: int = 0
    truncated: bool = False


def _hardened_parser() -> etree.XMLParser:
    """A parser that never expands entities, reads DTDs or touches the network.

    Files validated here may come from other tools or be handed in by users, so XXE and
    entity-expansion attacks are in scope.
    """
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False
    )


def _driver_xsd(schemas_dir: Path, version: str) -> bytes:
    files = schema_set(version)
    imports = "".join(
        f'<xs:import namespace="{ns}" schemaLocation="{(schemas_dir / name).as_uri()}"/>'
        for ns, name in zip(files.namespaces, files.file_names, strict=True)
    )
    return f'<xs:schema xmlns:xs="{_XS}">{imports}</xs:schema>'.encode()


def _check_files(schemas_dir: Path, version: str) -> None:
    if not schemas_dir.is_dir():
        raise SchemaNotFoundError(
            f"ESMA schemas folder {schemas_dir} does not exist. {_SCHEMAS_HINT}"
        )
    missing = [n for n in schema_set(version).file_names if not (schemas_dir / n).is_file()]
    if missing:
        raise SchemaNotFoundError(
            f"ESMA schemas folder {schemas_dir} lacks {', '.join(missing)} "
            f"(needed for auth.016 schema version {version}). {_SCHEMAS_HINT}"
        )


@functools.lru_cache(maxsize=8)
def _load_schema_cached(schemas_dir: Path, version: str) -> etree.XMLSchema:
    driver = etree.fromstring(_driver_xsd(schemas_dir, version), _hardened_parser())
    try:
        return etree.XMLSchema(driver)
    except etree.XMLSchemaParseError as exc:
        raise SchemaError(
            f"cannot compile the ESMA schemas in {schemas_dir} (version {version}): {exc}"
        ) from exc


def load_schema(schemas_dir: Path, version: str = DEFAULT_SCHEMA_VERSION) -> etree.XMLSchema:
    """Compile the envelope, header and auth.016 schemas into one validator.

    Compiling takes a noticeable fraction of a second, so results are cached per (folder,
    version); the folder is resolved first so that two spellings of one path share an entry.

    Args:
        schemas_dir: Folder holding ESMA's .xsd files (`Settings.schemas_dir`).
        version: auth.016 usage-guideline version, see `regreport.xml.namespaces.SCHEMA_SETS`.

    Returns:
        A schema that accepts `BizData`, `AppHdr` or `Document` as root.

    Raises:
        SchemaNotFoundError: The folder or a file is missing; the message says where to get them.
        SchemaError: The files exist but do not compile.
        ValueError: Unknown version.
    """
    resolved = schemas_dir.expanduser().resolve()
    _check_files(resolved, version)
    return _load_schema_cached(resolved, version)


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _is_record(elem: etree._Element) -> bool:
    # `Tx` also names New/Tx (the trade block); only FinInstrmRptgTxRpt/Tx is a record.
    parent = elem.getparent()
    return parent is not None and _local(parent.tag) == _TX_PARENT


def _iter_records(context: Iterable[tuple[str, etree._Element]]) -> Iterable[None]:
    """Yield once per record and free each record's subtree, keeping memory flat."""
    for _event, elem in context:
        if not _is_record(elem):
            continue
        yield None
        elem.clear(keep_tail=True)
        parent = elem.getparent()
        while parent is not None and elem.getprevious() is not None:
            del parent[0]


def _iterparse(path: Path, schema: etree.XMLSchema | None) -> etree.iterparse:
    kwargs = {"schema": schema} if schema is not None else {}
    return etree.iterparse(
        str(path),
        events=("end",),
        tag="{*}Tx",
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        **kwargs,
    )


def _to_errors(entries: Iterable[etree._LogEntry]) -> list[ValidationError]:
    return [
        ValidationError(e.line or None, e.column or None, e.message.strip())
        for e in entries
        if e.level >= etree.ErrorLevels.ERROR
    ]


def _report(errors: list[ValidationError], records: int, max_errors: int) -> ValidationReport:
    return ValidationReport(
        valid=not errors,
        errors=errors[:max_errors],
        records=records,
        truncated=len(errors) > max_errors,
    )


def _syntax_check(path: Path) -> tuple[list[ValidationError], int]:
    """Stream the file without a schema: the only way to get a syntax error's line.

    With a schema attached, libxml2 reports a broken file as a validation failure at line 0
    (or "no element found"), which is useless to whoever has to fix the file.
    """
    context = _iterparse(path, None)
    records = 0
    try:
        for _ in _iter_records(context):
            records += 1
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position != (0, 0) else (exc.lineno, None)
        return [ValidationError(line or None, column or None, exc.msg)], records
    return [], records


def _locate_schema_errors(path: Path, schema: etree.XMLSchema) -> list[ValidationError]:
    tree = etree.parse(str(path), _hardened_parser())
    try:
        schema.validate(tree)
    except etree.XMLSchemaValidateError:
        # libxml2 gives up on trees it cannot validate (e.g. unexpanded entity references);
        # the caller then keeps the streaming pass's errors.
        return []
    return _to_errors(schema.error_log)


def validate_file(
    path: Path,
    schemas_dir: Path,
    version: str = DEFAULT_SCHEMA_VERSION,
    max_errors: int = 100,
    full_parse_max_bytes: int = FULL_PARSE_MAX_BYTES,
) -> ValidationReport:
    """Validate one auth.016 file, ours or another tool's, against the ESMA XSDs.

    The common case (a valid file) costs one streaming pass with the schema attached, clearing
    each record as it goes, so memory stays flat whatever the file size. Only when that pass
    fails is more work done: a schema-less pass tells a syntax error (with its line) from a
    schema error, and files up to `full_parse_max_bytes` are then parsed whole so that every
    schema error carries its line. Larger invalid files keep the streaming pass's errors, which
    libxml2 reports without lines.

    Args:
        path: The file: a `BizData` envelope or a bare `Document`.
        schemas_dir: Folder holding ESMA's .xsd files.
        version: auth.016 usage-guideline version to validate against.
        max_errors: Keep at most this many errors in the report.
        full_parse_max_bytes: Largest invalid file that is parsed whole to locate errors.

    Returns:
        The report; a broken or invalid file is a result, never an exception.

    Raises:
        SchemaNotFoundError: The schemas are missing (see `load_schema`).
        FileNotFoundError: `path` does not exist.
    """
    schema = load_schema(schemas_dir, version)
    if not path.is_file():
        raise FileNotFoundError(f"no such file to validate: {path}")
    context = _iterparse(path, schema)
    records = 0
    try:
        for _ in _iter_records(context):
            records += 1
    except etree.XMLSyntaxError:
        streamed = _to_errors(context.error_log)
    else:
        return ValidationReport(valid=True, records=records)

    syntax_errors, records = _syntax_check(path)
    if syntax_errors:
        return _report(syntax_errors, records, max_errors)
    if path.stat().st_size <= full_parse_max_bytes:
        located = _locate_schema_errors(path, schema)
        if located:
            return _report(located, records, max_errors)
    if not streamed:
        streamed = [ValidationError(None, None, "the file is not valid against the XSDs")]
    return _report(streamed, records, max_errors)
