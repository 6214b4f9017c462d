from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import pytest

from regreport.manifest import build_manifest, dumps_manifest, sha256_file, write_manifest

pytestmark = pytest.mark.unit

# SHA-256 of b"abc" from FIPS 180-2, appendix B.1, not computed by the code under test.
ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_sha256_of_known_bytes(tmp_path: Path) -> None:
    path = tmp_path / "abc.bin"
    path.write_bytes(b"abc")
    assert sha256_file(path) == ABC_SHA256


def test_sha256_across_chunk_boundaries(tmp_path: Path) -> None:
    data = bytes(range(256)) * 1000
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    assert sha256_file(path, chunk_size=7) == hashlib.sha256(data).hexdigest()


def _manifest(report: Path) -> dict[str, object]:
    return build_manifest(
        report_type="mifir_rts22",
        schema_version="1.1.0",
        period_start=date(2026, 11, 26),
        period_end=date(2026, 11, 27),
        report_file=report,
        record_count=2,
        run_ids={"extract": "manual__2026-11-27", "dbt": "inv-1", "gx": "val-1"},
        counts={"source_executions": 3, "reported": 2, "quarantined": 0, "not_reportable": 1},
    )


def test_manifest_fields(tmp_path: Path) -> None:
    report = tmp_path / "report.xml"
    report.write_bytes(b"abc")
    manifest = _manifest(report)
    assert manifest["file_name"] == "report.xml"
    assert manifest["sha256"] == ABC_SHA256
    assert manifest["bytes"] == 3
    assert manifest["period_start"] == "2026-11-26"
    assert manifest["run_ids"] == {"extract": "manual__2026-11-27", "dbt": "inv-1", "gx": "val-1"}
    assert manifest["generated_by"]["name"] == "qsuite-regreport"  # type: ignore[index]


def test_manifest_bytes_are_canonical_and_stable(tmp_path: Path) -> None:
    report = tmp_path / "report.xml"
    report.write_bytes(b"abc")
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    write_manifest(first, _manifest(report))
    write_manifest(second, _manifest(report))
    raw = first.read_bytes()
    assert raw == second.read_bytes()
    assert raw.endswith(b"}\n")
    parsed = json.loads(raw)
    assert list(parsed) == sorted(parsed)
    expected = json.dumps(parsed, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert raw == expected.encode("utf-8")
    assert b'\n  "bytes": 3,\n' in raw
    assert dumps_manifest(parsed) == raw
    assert not list(tmp_path.glob("*.part"))


def test_manifest_requires_every_run_id(tmp_path: Path) -> None:
    report = tmp_path / "report.xml"
    report.write_bytes(b"abc")
    with pytest.raises(ValueError, match="gx"):
        build_manifest(
            report_type="mifir_rts22",
            schema_version="1.1.0",
            period_start=date(2026, 11, 26),
            period_end=date(2026, 11, 27),
            report_file=report,
            record_count=2,
            run_ids={"extract": "e", "dbt": "d"},
            counts={},
        )
