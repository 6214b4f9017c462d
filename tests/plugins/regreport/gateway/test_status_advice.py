"""The auth.031 writer: every status shape validates against ESMA's schema, envelope included."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from regreport.gateway.status_advice import (
    AdviceHeader,
    RecordStatus,
    Rule,
    StatusAdvice,
    build_document,
    load_status_advice_schema,
    render_status_advice,
)

pytestmark = pytest.mark.unit

HEADER = AdviceHeader("FR", "529900T8BM49AURSDO55", "FDBK-1", datetime(2026, 11, 27, tzinfo=UTC))


@pytest.mark.parametrize(
    "advice",
    [
        StatusAdvice("ACPT", "ID-1", total=3, counts={"ACPT": 3}),
        StatusAdvice(
            "PART",
            "ID-2",
            total=3,
            counts={"ACPT": 1, "PDNG": 1, "RJCT": 1},
            records=(
                RecordStatus("TX1", "PDNG", (Rule("CON-411", "Pending instrument"),)),
                RecordStatus("TX2", "RJCT", (Rule("CON-023", "Duplicate " * 60),)),
            ),
        ),
        StatusAdvice("CRPT", rules=(Rule("FIL-102", "not XML <&>"),)),
        StatusAdvice("INCF", rules=(Rule("FIL-101", "bad name"),)),
        StatusAdvice("RJCT", "X" * 50, rules=(Rule("FIL-105", "XSD"),), total=0, counts={}),
    ],
    ids=["acpt", "part", "crpt", "incf", "rjct-empty"],
)
def test_advice_is_schema_valid(advice: StatusAdvice, schemas_dir: Path) -> None:
    schema = load_status_advice_schema(schemas_dir)
    data = render_status_advice(advice, HEADER)
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<BizData')
    tree = etree.fromstring(data)
    assert schema.validate(tree), schema.error_log
    # The bare Document is valid on its own too (what a tool extracting the payload sees).
    assert schema.validate(build_document(advice)), schema.error_log
    hdr = tree.find(".//{*}AppHdr")
    assert hdr.findtext("{*}MsgDefIdr") == "auth.031.001.01"
    assert hdr.findtext("{*}CreDt") == "2026-11-27T00:00:00Z"


def test_rendering_is_deterministic() -> None:
    advice = StatusAdvice("ACPT", "ID-1", total=1, counts={"ACPT": 1})
    assert render_status_advice(advice, HEADER) == render_status_advice(advice, HEADER)


def test_missing_schema_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"auth\.031"):
        load_status_advice_schema(tmp_path)
