"""Load the ESMA XSDs and validate whole submission files against them, in constant memory.

A file sent to an NCA is a head.003 `BizData` envelope whose `Hdr` and `Pyld` are
`xs:any processContents="strict"`: the envelope is only valid if the head.001 and auth.016
schemas are loaded too. None of ESMA's files imports the others, so `load_schema` builds a tiny
driver schema in memory that `xs:import`s all three by absolute file URI. Every global element
of the three (`BizData`, `AppHdr`, `Document`) can then be a validation root, which is why a bare
`Document`, as some tools write it, validates with the same schema object.

**Validating in chunks.** A valid file, the common case, is validated in chunks of about
`CHUNK_BYTES` of records: each chunk is the file's own envelope up to `<FinInstrmRptgTxRpt>`
(prefix), a run of whole records, and the file's own closing tags (suffix), parsed into a
small tree and validated with `XMLSchema.validate`. libxml2 validates a tree faster than it
validates while parsing, and no Python code runs per record: about 1.7x the throughput of
the streaming pass on full-field records (docs/benchmarks.md, "Validation strategies", has
every option measured). Every chunk repeats the header and envelope, so they are validated
too. Anything the chunked pass cannot prove valid falls back to the streaming pass,
which alone produces error reports, so errors, their lines and the record count on the error
path are exactly what they were. Why a file whose chunks are all valid is valid as a whole is
argued in `_validate_chunked`; the schema properties the argument needs are checked once per
schema set (`_chunk_safe`).

The schema files are read from `Settings.schemas_dir` and are never copied into the repository
(SWIFT MyStandards licence; see the header of each file).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO, NamedTuple

from lxml import etree

from regreport.xml.namespaces import DEFAULT_SCHEMA_VERSION, schema_set

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

#: Files up to this size are parsed whole when invalid, because libxml2 reports line numbers
#: only for tree validation; streaming (SAX) validation reports line 0. 16 MiB is about 25k
#: records and some 200 MiB of tree, an acceptable one-off cost on the error path.
FULL_PARSE_MAX_BYTES = 16 * 1024 * 1024

#: Bytes of records per chunk of the chunked pass (about 1,000 share records, a 15 MB tree).
#: Measured on 100k records: 256 KiB to 4 MiB chunks differ by less than the run-to-run noise.
CHUNK_BYTES = 1 << 20
#: The chunked pass gives up (and the streaming pass runs) if it finds no record boundary in
#: this many bytes, which keeps its memory bounded whatever the file looks like.
_MAX_PENDING_BYTES = 32 << 20
#: The envelope before the first record and after the last must fit in these many bytes.
_HEAD_BYTES = 1 << 16
_TAIL_BYTES = 1 << 16

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


# --------------------------------------------------------------------------------------------
# Chunked pass (valid files): see the module docstring and `_validate_chunked`
# --------------------------------------------------------------------------------------------

_RPT = "FinInstrmRptgTxRpt"
_RPT_TYPE = "FinancialInstrumentReportingTransactionReportV01"
_RPT_NAME = _RPT.encode()
_QNAME_PREFIX = rb"(?:([A-Za-z_][\w.-]*):)?"
_XML_DECL = re.compile(rb"(?:\xef\xbb\xbf)?<\?xml\s[^<>?]*\?>")
_DECL_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_RPT_OPEN = re.compile(rb"<" + _QNAME_PREFIX + _RPT_NAME + rb"\s*>")
#: Where a record starts: the top-level `Tx` is a choice of `New` and `Cxl`, while `New/Tx`
#: (the trade block) starts with `TradDt`. Only used to choose where to cut; a cut anywhere else
#: makes a chunk fail, and the streaming pass then decides.
_RECORD_START = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?Tx\s*>\s*<(?:[A-Za-z_][\w.-]*:)?(?:New|Cxl)\s*>"
)
_CUT_WINDOW = 1 << 16
_ID_TYPES = frozenset({"ID", "IDREF", "IDREFS"})


def _xs_children(elem: etree._Element) -> list[etree._Element]:
    return [c for c in elem if isinstance(c.tag, str) and _local(c.tag) != "annotation"]


def _record_model_is_tx_only(auth016: etree._ElementTree) -> bool:
    """True if `FinInstrmRptgTxRpt` is one `sequence` of `Tx`, at most once ... unbounded."""
    xs = f"{{{_XS}}}"
    declarations = auth016.getroot().findall(f".//{xs}element[@name='{_RPT}']")
    types = auth016.getroot().findall(f"{xs}complexType[@name='{_RPT_TYPE}']")
    if len(declarations) != 1 or len(types) != 1:
        return False
    if declarations[0].get("type", "").rsplit(":", 1)[-1] != _RPT_TYPE:
        return False
    content = _xs_children(types[0])
    if len(content) != 1 or content[0].tag != f"{xs}sequence" or content[0].attrib:
        return False
    particles = _xs_children(content[0])
    if len(particles) != 1 or particles[0].tag != f"{xs}element":
        return False
    tx = particles[0]
    return (
        tx.get("name") == "Tx"
        and tx.get("maxOccurs") == "unbounded"
        and tx.get("minOccurs", "1") in {"0", "1"}
    )


def _has_cross_record_constraints(tree: etree._ElementTree) -> bool:
    """Identity constraints or ID/IDREF types: rules that span records, so span chunks."""
    root = tree.getroot()
    xs = f"{{{_XS}}}"
    if any(True for _ in root.iter(f"{xs}unique", f"{xs}key", f"{xs}keyref")):
        return True
    for elem in root.iter(f"{xs}element", f"{xs}attribute", f"{xs}restriction", f"{xs}extension"):
        for attr in ("type", "base"):
            value = elem.get(attr)
            if value is None:
                continue
            prefix, _, local = value.rpartition(":")
            if local in _ID_TYPES and elem.nsmap.get(prefix or None) == _XS:
                return True
    return False


@functools.lru_cache(maxsize=8)
def _chunk_safe_cached(schemas_dir: Path, version: str) -> bool:
    files = schema_set(version)
    trees = [etree.parse(str(schemas_dir / n), _hardened_parser()) for n in files.file_names]
    if any(_has_cross_record_constraints(t) for t in trees):
        return False
    return _record_model_is_tx_only(trees[-1])


def _chunk_safe(schemas_dir: Path, version: str) -> bool:
    """Whether the schemas allow the chunked pass to conclude anything about a whole file.

    A file is valid if each of its chunks is only when (1) `FinInstrmRptgTxRpt` holds a
    sequence of `Tx` and nothing else, with no upper bound (a bound such as 500,000 in the
    DATTRA guideline would be checked per chunk), and (2) no rule relates one record to
    another (`xs:unique`, `xs:key`, `xs:keyref`, `xs:ID`/`IDREF`). ESMA's reporting schemas
    (1.0.3 and 1.1.0) have both properties; a set without them is validated by the streaming
    pass only.
    """
    return _chunk_safe_cached(schemas_dir.expanduser().resolve(), version)


class _Envelope(NamedTuple):
    prefix: bytes  # from the first byte through `<FinInstrmRptgTxRpt>`
    suffix: bytes  # from `</FinInstrmRptgTxRpt>` to the end of the file
    body_start: int
    body_end: int


def _envelope(fh: BinaryIO, size: int) -> _Envelope | None:
    """Locate the records between the envelope's prefix and suffix, or None if unsure.

    The prefix must be plain markup: an optional UTF-8 XML declaration, then no DOCTYPE,
    comment, CDATA section or processing instruction. In such text every `<` starts a tag (a
    `<` is not allowed in text or attribute values), so the first `<FinInstrmRptgTxRpt>` is
    the real start tag, the parser is in that element's content right after it, and no entity
    can be declared.
    """
    head = fh.read(_HEAD_BYTES)
    match = _RPT_OPEN.search(head)
    if match is None:
        return None
    prefix = head[: match.end()]
    decl = _XML_DECL.match(prefix)
    if decl is not None:
        encoding = _DECL_ENCODING.search(decl.group())
        if encoding is not None and encoding.group(1).lower() not in {b"utf-8", b"utf8"}:
            return None  # a stateful encoding could hide a '<' in a multi-byte character
    rest = prefix[decl.end() :] if decl is not None else prefix
    if b"<!" in rest or b"<?" in rest:
        return None
    qname = (match.group(1) + b":" if match.group(1) else b"") + _RPT_NAME
    tail_start = max(match.end(), size - _TAIL_BYTES)
    fh.seek(tail_start)
    tail = fh.read()
    cut = tail.rfind(b"</" + qname)
    if cut < 0 or re.match(rb"</" + re.escape(qname) + rb"\s*>", tail[cut:]) is None:
        return None
    return _Envelope(prefix, tail[cut:], match.end(), tail_start + cut)


def _last_record_start(buf: bytes) -> int:
    """Offset of the last record start in `buf` (0 or -1 if there is none past the start)."""
    start = max(0, len(buf) - _CUT_WINDOW)
    while True:
        last = -1
        for match in _RECORD_START.finditer(buf, start):
            last = match.start()
        if last > 0 or start == 0:
            return last
        start = 0


def _chunk_records(
    body: bytes, env: _Envelope, parser: etree.XMLParser, schema: etree.XMLSchema
) -> int | None:
    """Validate prefix + body + suffix as one small document; its record count, or None."""
    if b"<!" in body or b"<?" in body or _RPT_NAME in body:
        return None
    try:
        root = etree.fromstring(env.prefix + body + env.suffix, parser)
        if not schema.validate(root):
            return None
    except (etree.XMLSyntaxError, etree.XMLSchemaValidateError):
        return None
    rpt = next(root.iter(f"{{*}}{_RPT}"), None)
    return None if rpt is None else len(rpt)


def _validate_chunked(path: Path, schema: etree.XMLSchema, chunk_bytes: int) -> int | None:
    """The record count if the file is valid, proved chunk by chunk; None if not proved.

    The file is read as P + B + S: P up to and including `<FinInstrmRptgTxRpt>`, S from the
    matching end tag to the end (see `_envelope`), and B cut before record starts into
    B1 ... Bk. Each chunk Ci = P + Bi + S must be valid and every Bi free of `<!`, `<?` and
    of the name `FinInstrmRptgTxRpt`. Then the whole file D = P + B1 ... Bk + S is valid:

    * After P the parser is in the content of `FinInstrmRptgTxRpt`. Bi cannot close that
      element (its name is not in Bi), and Ci is well-formed with S closing it right after
      Bi, so Bi is a balanced run of that element's content: elements and character data
      only, since Bi holds no comment, CDATA section or processing instruction, and P
      declares no entity that could expand to markup. Bi also begins with `<` (a cut) or
      follows P's `>`, and ends before `<` (a cut) or before S's `</`, so no token spans
      two chunks.
    * In D the children of `FinInstrmRptgTxRpt` are therefore exactly the chunks' children
      in order, each with the same bytes, ancestors and in-scope namespaces as in its chunk,
      and the header and envelope are the same bytes as in every chunk.
    * With the content model that `_chunk_safe` checks (`Tx` only, unbounded) and no rule
      across records, D is valid exactly when every child is a valid `Tx`, there is no
      non-blank text, and there is at least one `Tx`: true of each chunk, so of D.

    Any doubt (an unusual envelope, no record boundary in `_MAX_PENDING_BYTES`, a chunk that
    fails for whatever reason, the file changing under the reader) returns None, and the
    caller runs the streaming pass, which then produces the report.
    """
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        collect_ids=False,
    )
    with path.open("rb") as fh:
        size = path.stat().st_size
        env = _envelope(fh, size)
        if env is None:
            return None
        fh.seek(env.body_start)
        pos, pending, records = env.body_start, b"", 0
        while True:
            want = min(chunk_bytes, env.body_end - pos)
            block = fh.read(want)
            if len(block) != want:
                return None
            pos += want
            buf = pending + block
            if pos >= env.body_end:
                body, pending = buf, b""
            else:
                cut = _last_record_start(buf)
                if cut <= 0:
                    if len(buf) > _MAX_PENDING_BYTES:
                        return None
                    pending = buf
                    continue
                body, pending = buf[:cut], buf[cut:]
            count = _chunk_records(body, env, parser, schema)
            if count is None:
                return None
            records += count
            if pos >= env.body_end:
                return records


def _validate_streaming(
    path: Path, schema: etree.XMLSchema, max_errors: int, full_parse_max_bytes: int
) -> ValidationReport:
    """The authoritative pass: streaming validation, then locating errors if there are any."""
    context = _iterparse(path, schema)
    records = 0
    try:
        for _ in _iter_records(context):
            records += 1
    except etree.XMLSyntaxError:
        streamed = _to_errors(context.error_log)
    else:
        # With a schema attached, libxml2 2.14 (lxml 6.1) ends a truncated file without any
        # error, so the streaming pass alone would call it valid: the schema-less pass has the
        # last word on well-formedness. Only files the chunked pass declined get here.
        syntax_errors, syntax_records = _syntax_check(path)
        if syntax_errors:
            return _report(syntax_errors, syntax_records, max_errors)
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


def validate_file(
    path: Path,
    schemas_dir: Path,
    version: str = DEFAULT_SCHEMA_VERSION,
    max_errors: int = 100,
    full_parse_max_bytes: int = FULL_PARSE_MAX_BYTES,
    chunk_bytes: int | None = CHUNK_BYTES,
) -> ValidationReport:
    """Validate one auth.016 file, ours or another tool's, against the ESMA XSDs.

    The common case (a valid file) costs one chunked pass (see the module docstring): chunks of
    about `chunk_bytes` of records, each validated as a small document, so memory stays flat
    whatever the file size. If that pass cannot prove the file valid, one streaming pass with
    the schema attached decides, clearing each record as it goes. Only when that pass fails is
    more work done: a schema-less pass tells a syntax error (with its line) from a
    schema error, and files up to `full_parse_max_bytes` are then parsed whole so that every
    schema error carries its line. Larger invalid files keep the streaming pass's errors, which
    libxml2 reports without lines.

    Args:
        path: The file: a `BizData` envelope or a bare `Document`.
        schemas_dir: Folder holding ESMA's .xsd files.
        version: auth.016 usage-guideline version to validate against.
        max_errors: Keep at most this many errors in the report.
        full_parse_max_bytes: Largest invalid file that is parsed whole to locate errors.
        chunk_bytes: Bytes of records per chunk of the chunked pass; None or 0 skips that
            pass (the streaming pass alone, as before it existed).

    Returns:
        The report; a broken or invalid file is a result, never an exception.

    Raises:
        SchemaNotFoundError: The schemas are missing (see `load_schema`).
        FileNotFoundError: `path` does not exist.
    """
    schema = load_schema(schemas_dir, version)
    if not path.is_file():
        raise FileNotFoundError(f"no such file to validate: {path}")
    if chunk_bytes and _chunk_safe(schemas_dir, version):
        records = _validate_chunked(path, schema, chunk_bytes)
        if records is not None:
            return ValidationReport(valid=True, records=records)
    return _validate_streaming(path, schema, max_errors, full_parse_max_bytes)
