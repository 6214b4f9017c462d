"""The manifest that travels with each rendered report: what it is, where it came from.

A manifest ties a submission file to its period, its content hash and the runs (extract, dbt,
Great Expectations) that produced it, so that an archived file can be traced and re-checked
years later (MiFIR Art. 25 record keeping). It contains no wall-clock timestamp and is written
as canonical JSON, so a rerun over the same data produces a byte-identical manifest and
"nothing changed" is a hash comparison.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib import metadata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import date
    from pathlib import Path

#: Bumped when a field is renamed or removed, so that readers of old archives can branch.
MANIFEST_VERSION = 1
#: Distribution name, as in pyproject.toml.
PACKAGE_NAME = "qsuite-regreport"
#: The runs a report is traced to; all three are required.
RUN_ID_KEYS = ("extract", "dbt", "gx")

_CHUNK = 1024 * 1024


def sha256_file(path: Path, chunk_size: int = _CHUNK) -> str:
    """Hash a file in chunks, so memory stays flat for multi-gigabyte reports.

    Args:
        path: File to hash.
        chunk_size: Bytes read per call.

    Returns:
        Lower-case hex SHA-256 digest.
    """
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _package_version() -> str:
    try:
        return metadata.version(PACKAGE_NAME)
    except metadata.PackageNotFoundError:
        # Running from a plugins/ folder that was copied rather than installed.
        return "0+unknown"


def build_manifest(
    *,
    report_type: str,
    schema_version: str,
    period_start: date,
    period_end: date,
    report_file: Path,
    record_count: int,
    run_ids: Mapping[str, str],
    counts: Mapping[str, int],
    submission: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Describe a rendered report file.

    The hash and size are computed from the file itself rather than passed in, so the manifest
    cannot describe bytes other than those on disk.

    Args:
        report_type: e.g. "mifir_rts22".
        schema_version: Usage-guideline version the file was rendered with, e.g. "1.1.0".
        period_start: Start of the reporting period (date or datetime).
        period_end: End of the reporting period, as the caller defines it.
        report_file: The rendered file.
        record_count: Records in the file (from the renderer's result).
        run_ids: Ids of the runs that produced the data: keys "extract", "dbt", "gx".
        counts: Reconciliation counts, e.g. source_executions, reported, quarantined,
            not_reportable.
        submission: Where the file sits in its submission: sequence (1 for the period's first
            submission, then one per correction), part and part_count (a split submission),
            cancellations and new_reports in this file.

    Returns:
        A JSON-ready mapping; write it with `write_manifest`.

    Raises:
        ValueError: A run id is missing or empty.
    """
    missing = [key for key in RUN_ID_KEYS if not run_ids.get(key)]
    if missing:
        raise ValueError(f"run ids missing: {', '.join(missing)}")
    return {
        "manifest_version": MANIFEST_VERSION,
        "report_type": report_type,
        "schema_version": schema_version,
        "period_start": period_start.isoformat(),
        "period_end": period_end.isoformat(),
        "file_name": report_file.name,
        "record_count": record_count,
        "sha256": sha256_file(report_file),
        "bytes": report_file.stat().st_size,
        "run_ids": {key: str(run_ids[key]) for key in RUN_ID_KEYS},
        "counts": dict(counts),
        "submission": dict(submission or {"sequence": 1, "part": 1, "part_count": 1}),
        "generated_by": {"name": PACKAGE_NAME, "version": _package_version()},
    }


def dumps_manifest(manifest: Mapping[str, Any]) -> bytes:
    """Serialise canonically: sorted keys, two-space indent, UTF-8, trailing newline."""
    text = json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False)
    return (text + "\n").encode("utf-8")


def write_manifest(path: Path, manifest: Mapping[str, Any]) -> None:
    """Write the manifest atomically, so a reader never sees half a file.

    Args:
        path: Destination, conventionally the report file name plus ".manifest.json".
        manifest: From `build_manifest`.
    """
    tmp = path.with_name(path.name + ".part")
    try:
        tmp.write_bytes(dumps_manifest(manifest))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
