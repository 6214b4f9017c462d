"""docs/reporting/mifir/validation-rules.md stays in step with the rule catalogue.

The coverage table is hand-written; these checks make a new catalogue code, a renamed code or a
changed status fail CI until the page is updated, and keep its counts honest.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reporting" / "mifir" / "validation-rules.md"
CATALOGUE = ROOT / "plugins" / "regreport" / "rules" / "registry.json"
QUARANTINE_REASONS = ROOT / "dbt_project" / "seeds" / "mifir_quarantine_reasons.csv"

RR_CODE = re.compile(r"\bRR-[A-Z]+-\d{3}\b")
#: Code-column tokens that name a check outside the catalogue and the dbt reasons.
OTHER_CHECKS = frozenset({"XSD", "GX", "ledger"})
STATUSES = ("implemented", "not applicable", "not yet")
#: (table marker, column index of the status, column index of the codes).
TABLES = {"esma": (4, 5), "extra": (3, 4)}


def _doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _rows(table: str) -> list[list[str]]:
    """Data rows of one table, as stripped cells (header and separator skipped)."""
    body = _doc().split(f"<!-- table:{table} -->", 1)[1].split(f"<!-- /table:{table} -->", 1)[0]
    rows = []
    for line in body.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and re.fullmatch(r"E?\d+", cells[0]):
            rows.append(cells)
    return rows


def _counts_line(table: str) -> dict[str, int]:
    """The `implemented N · not applicable N · not yet N · total N` line at the top."""
    match = re.search(rf"<!-- counts:{table} -->(.*?)<!-- /counts -->", _doc())
    assert match, f"no counts line for table {table}"
    pairs = re.findall(r"(implemented|not applicable|not yet|total) (\d+)", match.group(1))
    return {key: int(n) for key, n in pairs}


def _catalogue_codes() -> set[str]:
    return {rule["code"] for rule in json.loads(CATALOGUE.read_text(encoding="utf-8"))}


def _quarantine_reasons() -> set[str]:
    with QUARANTINE_REASONS.open(encoding="utf-8", newline="") as fh:
        return {row["reason_code"] for row in csv.DictReader(fh)}


def test_every_rr_code_in_the_doc_is_in_the_catalogue() -> None:
    unknown = set(RR_CODE.findall(_doc())) - _catalogue_codes()
    assert not unknown, f"codes named in {DOC.name} but not in registry.json: {sorted(unknown)}"


def test_every_catalogue_code_is_in_the_doc() -> None:
    missing = _catalogue_codes() - set(RR_CODE.findall(_doc()))
    assert not missing, f"catalogue codes without a row in {DOC.name}: {sorted(missing)}"


@pytest.mark.parametrize("table", sorted(TABLES))
def test_counts_at_the_top_match_the_rows(table: str) -> None:
    status_col, _ = TABLES[table]
    rows = _rows(table)
    actual = Counter(row[status_col] for row in rows)
    stated = _counts_line(table)
    assert set(actual) <= set(STATUSES), f"unknown status in {table}: {set(actual)}"
    expected = {status: actual.get(status, 0) for status in STATUSES if status in stated}
    expected["total"] = len(rows)
    assert stated == expected


@pytest.mark.parametrize("table", sorted(TABLES))
def test_code_column_names_only_known_checks(table: str) -> None:
    status_col, codes_col = TABLES[table]
    catalogue, reasons = _catalogue_codes(), _quarantine_reasons()
    for row in _rows(table):
        tokens = re.findall(r"`([^`]+)`", row[codes_col])
        if row[status_col] == "implemented":
            assert tokens, f"row {row[0]} of {table} is implemented but names no check"
        else:
            assert not tokens, f"row {row[0]} of {table} is '{row[status_col]}' but names a check"
        for token in tokens:
            known = token in catalogue or token in reasons or token in OTHER_CHECKS
            assert known, f"row {row[0]} of {table}: unknown check {token!r}"


@pytest.mark.parametrize("table", sorted(TABLES))
def test_rows_are_numbered_in_order(table: str) -> None:
    numbers = [int(row[0].lstrip("E")) for row in _rows(table)]
    assert numbers == list(range(1, len(numbers) + 1))
