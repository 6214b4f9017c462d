"""File names of submission files: named conventions, templates and their checks."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from regreport.config import Settings
from regreport.naming import (
    CONVENTIONS,
    DEFAULT_CONVENTION,
    NamingError,
    check_convention,
    check_file_name,
    file_name,
)

pytestmark = pytest.mark.unit

LEI = "529900T8BM49AURSDO55"


def _name(convention: str, **changes: Any) -> str:
    args: dict[str, Any] = {
        "sender_lei": LEI,
        "nca_country": "FR",
        "report_type": "mifir_rts22",
        "period_start": date(2026, 11, 26),
        "sequence": 1,
        "part": 2,
        "part_count": 3,
    }
    args.update(changes)
    return file_name(convention, **args)


def test_regreport_convention_is_the_default() -> None:
    assert Settings.from_env().file_naming == DEFAULT_CONVENTION == "regreport"
    # report type upper-cased, LEI, period start YYYYMMDD, sequence on 3, part on 2 digits.
    assert _name("regreport") == f"MIFIR_RTS22_{LEI}_20261126_S001_P02.xml"
    assert _name("regreport", sequence=12, part=10, part_count=10) == (
        f"MIFIR_RTS22_{LEI}_20261126_S012_P10.xml"
    )


def test_esma_convention() -> None:
    # Sender (LEI unless a code is given), DATTRA, recipient NCA, Key1 = sequence on six
    # digits, Key2 = part on two, YY = last two digits of the period's year.
    assert _name("esma", sequence=42) == f"{LEI}_DATTRA_FR_000042_02_26.xml"
    assert _name("esma", sender_code="QSUITE01", year=2027) == "QSUITE01_DATTRA_FR_000001_02_27.xml"


def test_named_conventions_refuse_overflowing_numbers() -> None:
    with pytest.raises(NamingError, match="overflows"):
        _name("esma", part=100, part_count=100)
    with pytest.raises(NamingError, match="overflows"):
        _name("esma", sequence=1_000_000)
    with pytest.raises(NamingError, match="overflows"):
        _name("regreport", sequence=1000)


def test_custom_template() -> None:
    template = "{recipient}-{sender}-{period_start:%Y-%m-%d}-{part}of{part_count}.xml"
    assert _name(template) == f"FR-{LEI}-2026-11-26-2of3.xml"
    assert _name("{report_type}_{yy}_{year}_{sequence:04d}.xml") == "MIFIR_RTS22_26_2026_0001.xml"


@pytest.mark.parametrize(
    ("convention", "message"),
    [
        ("nca_default", "unknown file naming convention"),
        ("{sender_lei}_{unknown}.xml", "is not one of"),
        ("{}.xml", "is not one of"),
        ("{sender_lei.__class__}.xml", "is not one of"),
        ("{sender_lei", "malformed"),
        ("{sender_lei}/{part}.xml", "not a safe file name"),
        ("../{sender_lei}.xml", "not a safe file name"),
        ("{sender_lei} {part}.xml", "not a safe file name"),
        (".{sender_lei}.xml", "not a safe file name"),
        ("{sender_lei!r}.xml", "not a safe file name"),
        ("{sequence:%Y}.xml", "cannot be applied"),
    ],
)
def test_bad_conventions_fail_with_a_clear_error(convention: str, message: str) -> None:
    with pytest.raises(NamingError, match=message):
        _name(convention)
    with pytest.raises(NamingError):
        check_convention(convention)


@pytest.mark.parametrize("convention", sorted(CONVENTIONS))
def test_named_conventions_pass_the_configuration_check(convention: str) -> None:
    check_convention(convention)


def test_values_with_unsafe_characters_are_refused() -> None:
    with pytest.raises(NamingError, match="not a safe file name"):
        _name("regreport", sender_lei="../../etc/passwd")
    with pytest.raises(NamingError, match="not a safe file name"):
        _name("esma", sender_code="A/B")


@pytest.mark.parametrize(
    ("sequence", "part", "part_count"), [(0, 1, 1), (1, 0, 1), (1, 2, 1), (1, 1, 0)]
)
def test_numbers_out_of_range(sequence: int, part: int, part_count: int) -> None:
    with pytest.raises(NamingError, match=">= 1"):
        _name("regreport", sequence=sequence, part=part, part_count=part_count)


def test_part_count_is_optional_unless_the_template_uses_it() -> None:
    """The named conventions do not need the number of parts; `{part_count}` does."""
    assert _name("regreport", part_count=None) == f"MIFIR_RTS22_{LEI}_20261126_S001_P02.xml"
    with pytest.raises(NamingError, match="not known"):
        _name("{part}of{part_count}.xml", part_count=None)


def test_check_file_name() -> None:
    assert check_file_name("A-b_1.xml") == "A-b_1.xml"
    for bad in ("", "-rf.xml", "a..b.xml", "é.xml", "a" * 256, "a\\b.xml"):
        with pytest.raises(NamingError):
            check_file_name(bad)
