"""The committed Great Expectations configuration is complete and consistent.

Reads the JSON and YAML under `expectations/gx/` directly, and loads them once through a GX
File Data Context on a copy of the folder (so nothing here can write into the repository).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from regreport import gx as regreport_gx

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
GX_DIR = REPO / "expectations" / "gx"
REPORTS_YML = REPO / "dbt_project" / "models" / "reports" / "_reports.yml"

SUITE_FILES = sorted((GX_DIR / "expectations").glob("*.json"))
VALIDATION_FILES = sorted((GX_DIR / "validation_definitions").glob("*.json"))
CHECKPOINT_FILES = sorted((GX_DIR / "checkpoints").glob("*.json"))


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _suites() -> dict[str, dict[str, Any]]:
    return {data["name"]: data for data in map(_load, SUITE_FILES)}


def _validations() -> dict[str, dict[str, Any]]:
    return {data["name"]: data for data in map(_load, VALIDATION_FILES)}


def _datasources() -> dict[str, Any]:
    config = yaml.safe_load((GX_DIR / "great_expectations.yml").read_text())
    return config["fluent_datasources"]


def _contract_columns() -> dict[str, list[str]]:
    """Columns of every report model (models/reports/**/*.yml)."""
    models = [
        model
        for path in sorted(REPORTS_YML.parent.rglob("*.yml"))
        for model in yaml.safe_load(path.read_text()).get("models", [])
    ]
    return {m["name"]: [c["name"] for c in m["columns"]] for m in models}


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A File Data Context over a copy of the committed `gx/` (without `uncommitted/`)."""
    import great_expectations as gx

    root = tmp_path_factory.mktemp("gx")
    shutil.copytree(GX_DIR, root / "gx", ignore=shutil.ignore_patterns("uncommitted"))
    return gx.get_context(mode="file", project_root_dir=str(root))


def test_there_is_configuration_to_check() -> None:
    # Guards the parametrized tests below against an empty glob (they would pass vacuously).
    assert "rpt__mifir_rts22_transactions" in [p.stem for p in SUITE_FILES]
    assert "rpt__mifir_rts22_transactions__daily" in [p.stem for p in VALIDATION_FILES]
    assert "mifir_transactions_daily__report" in [p.stem for p in CHECKPOINT_FILES]


@pytest.mark.parametrize("path", SUITE_FILES, ids=lambda p: p.stem)
def test_suite_parses(path: Path) -> None:
    from great_expectations import ExpectationSuite
    from great_expectations.expectations.expectation import Expectation

    data = _load(path)
    assert data["name"] == path.stem
    suite = ExpectationSuite(**data)
    assert suite.name == path.stem
    assert suite.id == data["id"]
    assert len(suite.expectations) == len(data["expectations"]) > 0
    for expectation, raw in zip(suite.expectations, data["expectations"], strict=True):
        assert isinstance(expectation, Expectation)
        assert expectation.expectation_type == raw["type"]
        assert expectation.id == raw["id"]


@pytest.mark.parametrize("path", SUITE_FILES, ids=lambda p: p.stem)
def test_every_expectation_has_rule_code_and_legal_ref(path: Path) -> None:
    codes = []
    for expectation in _load(path)["expectations"]:
        meta = expectation.get("meta") or {}
        code, ref = meta.get("rule_code"), meta.get("legal_ref")
        assert isinstance(code, str), expectation
        assert code.strip(), expectation
        assert isinstance(ref, str), expectation
        assert ref.strip(), expectation
        # RTS 22 rule codes name the Annex I field; the legal reference must cite that field.
        match = re.fullmatch(r"RTS22-F(\d{2})-[A-Z]+", code)
        if code.startswith("RTS22-"):
            assert match, code
            assert re.search(rf"\bfield {int(match.group(1))}\b", ref), (code, ref)
        codes.append(code)
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    assert duplicates == []


def test_rule_codes_unique_across_suites() -> None:
    codes = [
        e["meta"]["rule_code"]
        for data in map(_load, SUITE_FILES)
        for e in data["expectations"]
        if "rule_code" in (e.get("meta") or {})
    ]
    assert len(codes) == len(set(codes))


def test_suite_columns_are_report_contract_columns() -> None:
    # A column typo in a suite would fail at run time only, on the day a report is due.
    contract = _contract_columns()
    for vd in _validations().values():
        asset = _datasources()[vd["data"]["datasource"]["name"]]["assets"][
            vd["data"]["asset"]["name"]
        ]
        columns = contract[asset["table_name"]]
        suite = _suites()[vd["suite"]["name"]]
        for expectation in suite["expectations"]:
            column = expectation["kwargs"].get("column")
            if column is not None:
                assert column in columns, (suite["name"], column)


@pytest.mark.parametrize("path", VALIDATION_FILES, ids=lambda p: p.stem)
def test_validation_definition_references_exist(path: Path) -> None:
    vd = _load(path)
    assert vd["name"] == path.stem
    suite = _suites().get(vd["suite"]["name"])
    assert suite is not None, vd["suite"]
    assert suite["id"] == vd["suite"]["id"]

    data = vd["data"]
    datasource = _datasources().get(data["datasource"]["name"])
    assert datasource is not None, data["datasource"]
    assert datasource["id"] == data["datasource"]["id"]
    asset = datasource["assets"].get(data["asset"]["name"])
    assert asset is not None, data["asset"]
    assert asset["id"] == data["asset"]["id"]
    batch_definition = asset["batch_definitions"].get(data["batch_definition"]["name"])
    assert batch_definition is not None, data["batch_definition"]
    assert batch_definition["id"] == data["batch_definition"]["id"]


@pytest.mark.parametrize("path", CHECKPOINT_FILES, ids=lambda p: p.stem)
def test_checkpoint_references_exist(path: Path) -> None:
    checkpoint = _load(path)
    assert checkpoint["name"] == path.stem
    assert checkpoint["validation_definitions"], checkpoint
    validations = _validations()
    for ref in checkpoint["validation_definitions"]:
        assert ref["name"] in validations, ref
        assert validations[ref["name"]]["id"] == ref["id"]


def test_checkpoints_match_the_code() -> None:
    committed = {p.stem for p in CHECKPOINT_FILES}
    assert set(regreport_gx.CHECKPOINTS) == committed
    datasource = _datasources()[regreport_gx.DATASOURCE]
    for name, check in regreport_gx.CHECKPOINTS.items():
        checkpoint = _load(GX_DIR / "checkpoints" / f"{name}.json")
        assert [v["name"] for v in checkpoint["validation_definitions"]] == [
            check.validation_definition
        ]
        vd = _validations()[check.validation_definition]
        assert vd["suite"]["name"] == check.suite
        assert vd["data"]["asset"]["name"] == check.asset
        assert vd["data"]["batch_definition"]["name"] == check.batch_definition
        asset = datasource["assets"][check.asset]
        assert (asset["schema_name"], asset["table_name"]) == (check.schema, check.table)
        partitioner = asset["batch_definitions"][check.batch_definition]["partitioner"]
        assert partitioner["column_name"] == check.period_column
        assert partitioner["method_name"] == "partition_on_year_and_month_and_day"
    # The DSN never lives in the committed file, only the config variable.
    assert datasource["connection_string"] == "${" + regreport_gx.WAREHOUSE_URL_VARIABLE + "}"


def test_context_loads_everything(context: Any) -> None:
    for name, data in _suites().items():
        suite = context.suites.get(name)
        assert len(suite.expectations) == len(data["expectations"])
    for name, data in _validations().items():
        vd = context.validation_definitions.get(name)
        assert vd.suite.name == data["suite"]["name"]
        assert vd.batch_definition.name == data["data"]["batch_definition"]["name"]
    for path in CHECKPOINT_FILES:
        checkpoint = context.checkpoints.get(path.stem)
        assert [v.name for v in checkpoint.validation_definitions] == [
            v["name"] for v in _load(path)["validation_definitions"]
        ]


def _condition_columns(condition: Any) -> set[str]:
    """Column names a serialised GX 1.x row condition refers to (and/or groups included)."""
    if not isinstance(condition, dict):
        return set()
    names = {condition["column"]["name"]} if "column" in condition else set()
    for part in condition.get("conditions", []):
        names |= _condition_columns(part)
    return names


def test_row_conditions_use_contract_columns() -> None:
    # GX 1.x Condition objects (not the deprecated string parser) render to SQL on Postgres.
    columns = _contract_columns()["rpt_mifir_rts22_transactions"]
    conditioned = 0
    for expectation in _suites()["rpt__mifir_rts22_transactions"]["expectations"]:
        condition = expectation["kwargs"].get("row_condition")
        if condition is None:
            continue
        conditioned += 1
        assert isinstance(condition, dict), expectation["meta"]["rule_code"]
        assert "condition_parser" not in expectation["kwargs"]
        assert _condition_columns(condition) <= set(columns), expectation["meta"]["rule_code"]
        assert _condition_columns(condition), expectation["meta"]["rule_code"]
    assert conditioned > 0


def test_tx_id_uniqueness_stays_in_the_suite() -> None:
    # The pipeline relies on GX to block a duplicate transaction reference (ESMA CON-023).
    unique = [
        e
        for e in _suites()["rpt__mifir_rts22_transactions"]["expectations"]
        if e["type"] == "expect_column_values_to_be_unique"
    ]
    assert [(e["kwargs"], e["meta"]["rule_code"]) for e in unique] == [
        ({"column": "tx_id"}, "RTS22-F02-UNIQUE")
    ]
