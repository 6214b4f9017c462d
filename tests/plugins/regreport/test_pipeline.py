from __future__ import annotations

from datetime import date

import pytest

from regreport.pipeline import archive_key, redact, report_file_name

pytestmark = pytest.mark.unit


def test_redact_hides_quoted_values_only() -> None:
    message = (
        "Element '{urn:iso:std:iso:20022:tech:xsd:auth.016.001.01}Id': [facet 'pattern'] "
        "The value 'FR19800517MARIE#DUPON' is not accepted by the pattern '[A-Z]{2}'."
    )
    out = redact(message)
    assert "MARIE" not in out
    assert "}Id'" in out
    assert "[facet 'pattern']" in out


def test_file_name_and_archive_key() -> None:
    name = report_file_name("969500QSUITE04921638", date(2026, 11, 26))
    assert name == "MIFIR_RTS22_969500QSUITE04921638_20261126_001.xml"
    built = {
        "report_type": "mifir_rts22",
        "period_start": "2026-11-26T00:00:00+00:00",
        "sha256": "ab" * 32,
        "file_name": name,
    }
    assert archive_key(built) == f"mifir_rts22/2026/11/26/{'ab' * 32}/{name}"
