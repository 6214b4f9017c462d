"""LEI, ISIN and RTS 22 national identifier checks against published examples."""

from __future__ import annotations

import random
from datetime import date

import pytest

from regreport.identifiers import (
    CONCAT_PATTERN,
    NATIONAL_ID_PATTERN,
    concat_national_id,
    is_valid_cfi,
    is_valid_concat,
    is_valid_isin,
    is_valid_lei,
    isin_country_known,
    isin_with_check_digit,
    italian_fiscal_code,
    lei_with_check_digits,
    spanish_dni,
)

pytestmark = pytest.mark.unit

REAL_LEIS = ["529900T8BM49AURSDO55", "5493001KJTIIGC8Y1R12", "969500HMVSZ0TCV65D58"]
REAL_ISINS = ["US0378331005", "DE0007164600", "NL0010273215", "GB0002634946", "IE00B4L5Y983"]


@pytest.mark.parametrize("lei", REAL_LEIS)
def test_real_leis_are_valid_and_recomputed(lei: str) -> None:
    assert is_valid_lei(lei)
    assert lei_with_check_digits(lei[:18]) == lei


@pytest.mark.parametrize("isin", REAL_ISINS)
def test_real_isins_are_valid_and_recomputed(isin: str) -> None:
    assert is_valid_isin(isin)
    assert isin_with_check_digit(isin[:11]) == isin


def _alter(code: str, position: int) -> str:
    """Change one character to another of the same class (digit stays digit, letter letter)."""
    char = code[position]
    if char.isdigit():
        replacement = str((int(char) + 1) % 10)
    else:
        replacement = "B" if char == "A" else chr(ord(char) - 1)
    return code[:position] + replacement + code[position + 1 :]


@pytest.mark.parametrize("lei", REAL_LEIS)
def test_any_single_character_change_breaks_a_lei(lei: str) -> None:
    # MOD 97-10 detects every same-class single substitution (the change is k * 10^n, 0<k<97).
    for position in range(len(lei)):
        assert not is_valid_lei(_alter(lei, position)), position


@pytest.mark.parametrize("isin", REAL_ISINS)
def test_any_single_digit_change_breaks_an_isin(isin: str) -> None:
    # Luhn detects every single-digit substitution; letters expand to two digits, so some
    # letter substitutions go unnoticed by design of ISO 6166 and are not asserted here.
    for position in range(2, len(isin)):
        if isin[position].isdigit():
            assert not is_valid_isin(_alter(isin, position)), position


@pytest.mark.parametrize(
    "bad", [None, "", "529900T8BM49AURSDO5", "529900t8bm49aursdo55", "529900T8BM49AURSDO5X"]
)
def test_malformed_leis_are_rejected(bad: str | None) -> None:
    assert not is_valid_lei(bad)


@pytest.mark.parametrize("bad", [None, "", "US037833100", "us0378331005", "1S0378331005"])
def test_malformed_isins_are_rejected(bad: str | None) -> None:
    assert not is_valid_isin(bad)


def test_swapped_isin_digits_are_caught() -> None:
    # Luhn catches adjacent transpositions of distinct digits (except 0/9).
    assert not is_valid_isin("US0378313005")


def test_generated_identifiers_validate() -> None:
    rng = random.Random("identifiers")  # noqa: S311 - test data, not secrets
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    for _ in range(500):
        lei = lei_with_check_digits("".join(rng.choices(alphabet, k=18)))
        isin = isin_with_check_digit(
            "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ", k=2))
            + "".join(rng.choices(alphabet, k=9))
        )
        assert is_valid_lei(lei)
        assert is_valid_isin(isin)


def test_construction_is_the_textbook_algorithm() -> None:
    # The generator's identifiers must stay byte-identical now that python-stdnum computes the
    # digits: recompute them here by hand (ISO 7064 MOD 97-10; Luhn over A=10..Z=35).
    rng = random.Random("byte-identical")  # noqa: S311 - test data, not secrets
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    for _ in range(2_000):
        prefix = "".join(rng.choices(alphabet, k=18))
        expanded = "".join(str(int(ch, 36)) for ch in prefix + "00")
        assert lei_with_check_digits(prefix) == f"{prefix}{98 - int(expanded) % 97:02d}"
        prefix = "".join(rng.choices(alphabet[:26], k=2)) + "".join(rng.choices(alphabet, k=9))
        digits = "".join(str(int(ch, 36)) for ch in prefix)
        total = sum(
            (2 * int(d)) - 9 * (2 * int(d) > 9) if i % 2 == 0 else int(d)
            for i, d in enumerate(reversed(digits))
        )
        assert isin_with_check_digit(prefix) == f"{prefix}{(10 - total % 10) % 10}"


@pytest.mark.parametrize(
    ("isin", "known"),
    [
        ("US0378331005", True),
        ("XS0000000009", True),  # international securities
        ("EU000A1G0BN7", True),
        ("ZZ0378331005", False),
        ("UK0378331005", False),  # GB is the ISO 3166-1 code
        ("ZZ0378331006", False),  # a wrong check digit does not hide the prefix
    ],
)
def test_isin_country_known(isin: str, known: bool) -> None:
    assert isin_country_known(isin) is known


@pytest.mark.parametrize("prefix", ["", "ABC", "529900T8BM49AURSD!", "529900t8bm49aursdo"])
def test_bad_lei_prefix_raises(prefix: str) -> None:
    with pytest.raises(ValueError, match="LEI prefix"):
        lei_with_check_digits(prefix)


def test_bad_isin_prefix_raises() -> None:
    with pytest.raises(ValueError, match="ISIN prefix"):
        isin_with_check_digit("U1037833100")


@pytest.mark.parametrize(
    ("nationality", "born", "first", "surname", "expected"),
    [
        ("FR", date(1980, 2, 3), "Jean-Pierre", "de la Fontaine", "FR19800203JEANPFONTA"),
        ("NL", date(1990, 12, 31), "Zoë", "van der Berg", "NL19901231ZOE##BERG#"),
        ("IE", date(1970, 1, 1), "Seán", "O'Brien", "IE19700101SEAN#BRIEN"),
        ("DE", date(1970, 1, 1), "Jürgen", "Groß", "DE19700101JURGEGROSS"),
        ("FR", date(1970, 1, 1), "Li", "Wu", "FR19700101LI###WU###"),
        ("GB", date(1985, 6, 15), "John Ronald", "Smith", "GB19850615JOHN#SMITH"),
        ("FR", date(1975, 3, 9), "François", "d'Arcy", "FR19750309FRANCARCY#"),
    ],
)
def test_concat_follows_rts22_article_6(
    nationality: str, born: date, first: str, surname: str, expected: str
) -> None:
    code = concat_national_id(nationality, born, first, surname)
    assert code == expected
    assert CONCAT_PATTERN.fullmatch(code)
    assert NATIONAL_ID_PATTERN.fullmatch(code)
    assert is_valid_concat(code)


def test_is_valid_concat_rejects_wrong_shapes() -> None:
    assert not is_valid_concat(None)
    assert not is_valid_concat("FR1980020JEANPFONTA")
    assert not is_valid_concat("FR19800203#EANPFONTA")


def test_italian_fiscal_code_matches_the_textbook_example() -> None:
    # Mario Rossi, born 1 January 1980 in Rome (H501): the common published example.
    code = italian_fiscal_code(
        "Mario", "Rossi", date(1980, 1, 1), female=False, municipality="H501"
    )
    assert code == "RSSMRA80A01H501U"


def test_italian_fiscal_code_adds_40_to_a_womans_birth_day() -> None:
    code = italian_fiscal_code(
        "Giulia", "Bianchi", date(1990, 5, 17), female=True, municipality="F205"
    )
    assert code[9:11] == "57"
    assert code[8] == "E"  # May
    assert NATIONAL_ID_PATTERN.fullmatch("IT" + code)


def test_spanish_dni_letter() -> None:
    assert spanish_dni(12345678) == "12345678Z"
    assert spanish_dni(0) == "00000000T"
    with pytest.raises(ValueError, match="8 digits"):
        spanish_dni(100_000_000)


@pytest.mark.parametrize(
    ("cfi", "instrument_type"),
    [
        ("ESVUFR", "SHARE"),  # voting, free, fully paid, registered share
        ("CEOGEU", "ETF"),
        ("DBFTFB", "BOND"),  # fixed rate, government guarantee, fixed maturity, bearer
        ("OCESPS", "OPTION"),  # call, European, stock, physical, standardised
        ("OPASCS", "OPTION"),
        ("FFSCSX", "FUTURE"),  # financial, single stock, cash, standardised
        ("IFXXXP", "FX_SPOT"),
    ],
)
def test_cfi_fits_its_instrument_type(cfi: str, instrument_type: str) -> None:
    assert is_valid_cfi(cfi)
    assert is_valid_cfi(cfi, instrument_type)


@pytest.mark.parametrize(
    ("cfi", "instrument_type"),
    [
        ("OCESPS", "SHARE"),  # a valid CFI of another type
        ("ESVUFR", "BOND"),
        ("ESVUFR", "SWAPTION"),  # unknown type
        ("ESVUF", None),  # five letters
        ("ESVUF1", None),
        ("esvufr", None),
        ("ZSVUFR", None),  # no category Z
        ("ESVUFQ", None),  # no form Q: the ISO 10962 tables (python-stdnum), not just the shape
        ("OZASPS", "OPTION"),  # options have no group Z
        (None, None),
    ],
)
def test_bad_cfis_are_rejected(cfi: str | None, instrument_type: str | None) -> None:
    assert not is_valid_cfi(cfi, instrument_type)
