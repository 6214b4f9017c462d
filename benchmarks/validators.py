"""The validation strategies measured before `validate_file` moved to chunked validation.

Each function validates one valid file and returns its record count; they are timed side by
side by `python -m benchmarks.run` (section "Validation strategies") so that the choice made in
`regreport.xml.schema` can be re-checked on any machine. Only `chunked` and `streaming` are
what `validate_file` runs; the others are kept here, not in the product, as the measured
alternatives. None of them reports errors: timing a valid file is the common case.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lxml import etree

from regreport.xml import schema as xml_schema

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

_RPT = "FinInstrmRptgTxRpt"
_BLOCK = 1 << 20
_CLEAR_EVERY = 1000


def _is_record(elem: etree._Element) -> bool:
    # A record's parent is the report element, or None once a batch clear detached it while
    # its event was still queued.
    parent = elem.getparent()
    return parent is None or parent.tag.endswith(_RPT)


def streaming(path: Path, schema: etree.XMLSchema) -> int:
    """`validate_file` before chunks: iterparse with the schema, each record freed at its end."""
    context = xml_schema._iterparse(path, schema)
    return sum(1 for _ in xml_schema._iter_records(context))


def streaming_batch_clear(path: Path, schema: etree.XMLSchema) -> int:
    """iterparse with the schema, but the report element is emptied every 1,000 records only."""
    context = xml_schema._iterparse(path, schema)
    count = 0
    for _event, elem in context:
        if not _is_record(elem):
            continue
        count += 1
        parent = elem.getparent()
        if parent is not None and count % _CLEAR_EVERY == 0:
            del parent[:]
    return count


def pull_parser(path: Path, schema: etree.XMLSchema) -> int:
    """`XMLPullParser` with the schema, fed 1 MiB blocks, records freed per block."""
    parser = etree.XMLPullParser(
        events=("end",),
        tag="{*}Tx",
        schema=schema,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
    )
    count = 0
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            parser.feed(block)
            report = None
            for _event, elem in parser.read_events():
                if _is_record(elem):
                    count += 1
                    report = elem.getparent()
            if report is not None:
                del report[:]
    parser.close()
    return count


def whole_tree(path: Path, schema: etree.XMLSchema) -> int:
    """The file parsed into one tree, then `XMLSchema.validate` (memory grows with the file)."""
    tree = etree.parse(str(path), xml_schema._hardened_parser())
    if not schema.validate(tree):
        raise AssertionError(f"{path} is not valid: {schema.error_log.last_error}")
    report = next(tree.getroot().iter(f"{{*}}{_RPT}"))
    return len(report)


def parse_with_schema(path: Path, schema: etree.XMLSchema) -> int:
    """libxml2 validating while it parses (SAX plug-in) into one tree: memory grows."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, schema=schema)
    tree = etree.parse(str(path), parser)
    return len(next(tree.getroot().iter(f"{{*}}{_RPT}")))


def chunked(chunk_bytes: int) -> Callable[[Path, etree.XMLSchema], int]:
    """`validate_file`'s chunked pass with chunks of `chunk_bytes`."""

    def run(path: Path, schema: etree.XMLSchema) -> int:
        records = xml_schema._validate_chunked(path, schema, chunk_bytes)
        if records is None:
            raise AssertionError(f"the chunked pass declined {path}")
        return records

    return run


#: name -> (validator, description), in the order of the report's table.
STRATEGIES: dict[str, tuple[Callable[[Path, etree.XMLSchema], int], str]] = {
    "streaming": (streaming, "iterparse + schema, record freed at its end (before)"),
    "streaming_batch_clear": (
        streaming_batch_clear,
        "iterparse + schema, records freed every 1,000",
    ),
    "pull_parser": (pull_parser, "XMLPullParser + schema, 1 MiB feeds, freed per feed"),
    "parse_with_schema": (parse_with_schema, "parse with schema into one tree (memory grows)"),
    "whole_tree": (whole_tree, "parse into one tree, then XMLSchema.validate (memory grows)"),
    "chunked_256k": (chunked(1 << 18), "chunks of 256 KiB: small trees, XMLSchema.validate"),
    "chunked_1m": (chunked(1 << 20), "chunks of 1 MiB (`validate_file` default)"),
    "chunked_4m": (chunked(1 << 22), "chunks of 4 MiB"),
}
