"""Check digits and formats of the identifiers a MiFIR transaction report carries.

The synthetic data generator needs identifiers that pass the same checks the regulator runs, and
the reporting pipeline needs those checks to reject bad reference data before it reaches a report.
Both use this module, so there is one definition of "valid":

- LEI (ISO 17442): 18 alphanumerics plus two ISO 7064 MOD 97-10 check digits.
- ISIN (ISO 6166): country code, 9-character NSIN, one Luhn check digit computed over the
  letter-expanded digits (A=10 ... Z=35).
- CFI (ISO 10962): six letters, the first two the category and group; checked against the
  standard's category, group and attribute tables and for the category/group an instrument
  type must have.
- National client identifiers for natural persons (RTS 22 Art. 6 and Annex II): the CONCAT code
  and the NIDN/CCPT identifiers, which ESMA's schema constrains to ``[A-Z]{2}[A-Z0-9]{1,33}``.

The check digits and the CFI tables come from python-stdnum (`stdnum.iso7064.mod_97_10`, the
algorithm `stdnum.lei` applies; `stdnum.isin`; `stdnum.cfi`), a maintained library, rather than
hand-written code. This module adds the strict report formats (stdnum accepts lowercase and
separators, the auth.016 patterns do not) and builds synthetic identifiers; stdnum computes the
same digits the former hand-written code did, so generated identifiers are byte-identical.

Pure functions only; no I/O, no Airflow, so the rules can be unit-tested and reused anywhere.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import TYPE_CHECKING

import stdnum.cfi
import stdnum.isin
from stdnum.exceptions import InvalidComponent, ValidationError
from stdnum.iso7064 import mod_97_10

if TYPE_CHECKING:
    from datetime import date

LEI_PATTERN = re.compile(r"[A-Z0-9]{18}[0-9]{2}")
ISIN_PATTERN = re.compile(r"[A-Z]{2}[A-Z0-9]{9}[0-9]")
#: RTS 22 Art. 6 CONCAT: country, birth date, 5 letters of first name, 5 of surname, '#'-padded.
CONCAT_PATTERN = re.compile(r"[A-Z]{2}[0-9]{8}[A-Z][A-Z#]{4}[A-Z][A-Z#]{4}")
#: ESMA auth.016 pattern for a person's national identifier (NIDN, CCPT and CONCAT alike).
NATIONAL_ID_PATTERN = re.compile(r"[A-Z]{2}[A-Z0-9#]{1,33}")
CFI_PATTERN = re.compile(r"[A-Z]{6}")
#: ISO 10962 (2019) categories: equities, collective investment vehicles, debt, entitlements,
#: listed options, futures, swaps, non-listed options, spots, forwards, strategies, financing,
#: referential instruments, others.
CFI_CATEGORIES = frozenset("ECDROFSHIJKLTM")
#: The CFI category + group prefix each QSuite instrument type must carry.
CFI_PREFIX_BY_TYPE = {
    "SHARE": "ES",  # equities, common/ordinary shares
    "ETF": "CE",  # collective investment vehicles, exchange-traded funds
    "BOND": "DB",  # debt instruments, bonds
    "OPTION": "O",  # listed options (group: C call, P put)
    "FUTURE": "F",  # futures (group: F financial, C commodities)
    "FX_SPOT": "IF",  # spot, foreign exchange
}
#: Spanish DNI/NIE control letters, indexed by the number modulo 23.
DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"

# Name prefixes RTS 22 Art. 6(4) excludes from CONCAT, longest first so "van der" wins over "van".
_CONCAT_PREFIXES = sorted(
    (
        "am",
        "auf",
        "auf dem",
        "aus der",
        "d",
        "da",
        "de",
        "de l",
        "del",
        "de la",
        "de le",
        "di",
        "do",
        "dos",
        "du",
        "im",
        "la",
        "le",
        "mac",
        "mc",
        "mhac",
        "mhic",
        "mhic giolla",
        "mic",
        "ni",
        "nic",
        "o",
        "ua",
        "ui",
        "van",
        "van de",
        "van den",
        "van der",
        "vom",
        "von",
        "von dem",
        "von den",
        "von der",
    ),  # fmt: skip
    key=len,
    reverse=True,
)
# Letters NFKD does not decompose into ASCII; transliterated as ESMA's guidelines show.
_TRANSLITERATION = str.maketrans(
    {
        "ß": "ss",
        "Æ": "AE",
        "æ": "ae",
        "Ø": "O",
        "ø": "o",
        "Œ": "OE",
        "œ": "oe",
        "Ł": "L",
        "ł": "l",
        "Đ": "D",
        "đ": "d",
        "Þ": "TH",
        "þ": "th",
    }  # fmt: skip
)


def lei_with_check_digits(prefix18: str) -> str:
    """Complete an 18-character LEI prefix with its ISO 7064 MOD 97-10 check digits.

    Args:
        prefix18: the LOU prefix, reserved characters and entity part, uppercase alphanumerics.

    Returns:
        The 20-character LEI.

    Raises:
        ValueError: if the prefix is not 18 uppercase alphanumerics; a silently padded or
            truncated prefix would yield an LEI that validates but identifies nobody.
    """
    if not re.fullmatch(r"[A-Z0-9]{18}", prefix18):
        raise ValueError(f"LEI prefix must be 18 characters [A-Z0-9], got {prefix18!r}")
    return prefix18 + mod_97_10.calc_check_digits(prefix18)


def is_valid_lei(lei: str | None) -> bool:
    """Return whether `lei` has the ISO 17442 format and correct MOD 97-10 check digits."""
    if lei is None or not LEI_PATTERN.fullmatch(lei):
        return False
    # stdnum.lei.validate is compact() (strip separators, uppercase) + mod_97_10.validate: the
    # format is already strict here, so the check-digit step alone, at half the cost.
    return mod_97_10.is_valid(lei)


def isin_with_check_digit(prefix11: str) -> str:
    """Complete an 11-character ISIN prefix (country + NSIN) with its Luhn check digit.

    Args:
        prefix11: two-letter country code followed by the 9-character NSIN.

    Returns:
        The 12-character ISIN.

    Raises:
        ValueError: if the prefix does not have the ISIN shape.
    """
    if not re.fullmatch(r"[A-Z]{2}[A-Z0-9]{9}", prefix11):
        raise ValueError(f"ISIN prefix must match [A-Z]{{2}}[A-Z0-9]{{9}}, got {prefix11!r}")
    return prefix11 + stdnum.isin.calc_check_digit(prefix11)


def is_valid_isin(isin: str | None) -> bool:
    """Return whether `isin` has the ISO 6166 format and a correct Luhn check digit.

    The country prefix is not judged here (see `isin_country_known`): synthetic test ISINs may
    use any two letters.
    """
    if isin is None or not ISIN_PATTERN.fullmatch(isin):
        return False
    return stdnum.isin.calc_check_digit(isin[:11]) == isin[11]


def isin_country_known(isin: str) -> bool:
    """Return whether a well-formed ISIN starts with a prefix ISO 6166 allocates.

    That is an ISO 3166-1 alpha-2 country or one of the ISIN-specific prefixes (``XS``
    international securities, ``EU``, the substitute-agency ``XA``-``XD``, ``XK``...), as
    python-stdnum lists them.
    """
    try:
        stdnum.isin.validate(isin)
    except InvalidComponent:
        return False
    except ValidationError:
        return True  # a bad check digit or form is another rule's finding
    return True


@lru_cache(maxsize=4_096)
def cfi_defined(cfi: str) -> bool:
    """Return whether `cfi` is a code ISO 10962 defines: category, group, attribute values.

    python-stdnum's 2021 tables. Cached: stdnum walks its tables on every call (~25 us, a
    hundred times a regular expression), and real data carries few distinct CFIs.
    """
    return stdnum.cfi.is_valid(cfi)


def is_valid_cfi(cfi: str | None, instrument_type: str | None = None) -> bool:
    """Return whether `cfi` is a valid ISO 10962 code (python-stdnum's 2021 tables).

    With `instrument_type` (a key of CFI_PREFIX_BY_TYPE), also whether its category and group
    fit the type: an option classified as an equity would pass the code check alone.
    """
    if cfi is None or not CFI_PATTERN.fullmatch(cfi) or not cfi_defined(cfi):
        return False
    if instrument_type is None:
        return True
    prefix = CFI_PREFIX_BY_TYPE.get(instrument_type)
    return prefix is not None and cfi.startswith(prefix)


def _ascii_upper_letters(name: str) -> str:
    """Strip accents and everything that is not a letter, then uppercase (RTS 22 Art. 6(3))."""
    decomposed = unicodedata.normalize("NFKD", name.translate(_TRANSLITERATION))
    return "".join(ch for ch in decomposed if "A" <= ch.upper() <= "Z" and ch.isascii()).upper()


def _strip_name_prefixes(name: str) -> str:
    """Drop leading prefixes such as "van der" or "d'" that RTS 22 Art. 6(4) excludes."""
    work = " ".join(name.replace("’", "'").split())
    changed = True
    while changed:
        changed = False
        folded = unicodedata.normalize("NFKD", work).encode("ascii", "ignore").decode().lower()
        for prefix in _CONCAT_PREFIXES:
            if folded.startswith(prefix) and folded[len(prefix) : len(prefix) + 1] in (" ", "'"):
                rest = work[len(prefix) + 1 :].lstrip()
                if rest:  # a name that is only a prefix keeps it
                    work, changed = rest, True
                break
    return work


def concat_name_part(name: str) -> str:
    """First five letters of a name for CONCAT, prefixes removed, padded with '#'."""
    return _ascii_upper_letters(_strip_name_prefixes(name))[:5].ljust(5, "#")


def concat_national_id(nationality: str, birth_date: date, first_name: str, surname: str) -> str:
    """Build the RTS 22 Art. 6 CONCAT identifier of a natural person.

    Used where the person's country has no higher-priority identifier in RTS 22 Annex II (for
    example FR and DE), so that the same person gets the same code from every firm.

    Args:
        nationality: ISO 3166 alpha-2 country of nationality.
        birth_date: date of birth.
        first_name: first name(s); only the first first name is used.
        surname: surname(s), prefixes included as written.

    Returns:
        The 20-character CONCAT code, e.g. ``FR19800101JEANPDUPON``.
    """
    given = first_name.split()[0] if first_name.split() else first_name
    return (
        nationality.upper()
        + birth_date.strftime("%Y%m%d")
        + concat_name_part(given)
        + concat_name_part(surname)
    )


def is_valid_concat(code: str | None) -> bool:
    """Return whether `code` has the RTS 22 CONCAT shape (it cannot be checked further)."""
    return code is not None and CONCAT_PATTERN.fullmatch(code) is not None


def spanish_dni(number: int) -> str:
    """Spanish DNI: eight digits and the control letter (number modulo 23), without country."""
    if not 0 <= number < 100_000_000:
        raise ValueError(f"DNI number must have at most 8 digits, got {number}")
    return f"{number:08d}{DNI_LETTERS[number % 23]}"


_CF_MONTHS = "ABCDEHLMPRST"
_CF_ODD_LETTERS = (1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22)
_CF_ODD_LETTERS += (25, 24, 23)
#: Values of characters in odd (1st, 3rd, ...) positions; digits count as the letters A-J.
_CF_ODD = dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", _CF_ODD_LETTERS, strict=True)) | dict(
    zip("0123456789", _CF_ODD_LETTERS[:10], strict=True)
)


def _cf_letters(name: str, *, given_name: bool) -> str:
    letters = _ascii_upper_letters(name)
    consonants = [c for c in letters if c not in "AEIOU"]
    vowels = [c for c in letters if c in "AEIOU"]
    if given_name and len(consonants) >= 4:
        consonants = [consonants[0], consonants[2], consonants[3]]
    return ("".join(consonants + vowels) + "XXX")[:3]


def italian_fiscal_code(
    first_name: str, surname: str, birth_date: date, *, female: bool, municipality: str
) -> str:
    """Italian codice fiscale (16 characters, without country prefix), check character included.

    RTS 22 Annex II makes the fiscal code the Italian NIDN; building it by the real algorithm
    keeps synthetic Italian clients indistinguishable in shape from real ones.

    Args:
        first_name: given name.
        surname: family name.
        birth_date: date of birth.
        female: women have 40 added to the birth day.
        municipality: cadastral (Belfiore) code of the birthplace, e.g. ``H501`` for Rome.

    Returns:
        The fiscal code, e.g. ``RSSMRA80A01H501U``.
    """
    day = birth_date.day + (40 if female else 0)
    body = (
        _cf_letters(surname, given_name=False)
        + _cf_letters(first_name, given_name=True)
        + f"{birth_date.year % 100:02d}"
        + _CF_MONTHS[birth_date.month - 1]
        + f"{day:02d}"
        + municipality
    )
    total = sum(
        _CF_ODD[ch] if index % 2 == 0 else ord(ch) - ord("A") if ch.isalpha() else int(ch)
        for index, ch in enumerate(body)
    )
    return body + chr(ord("A") + total % 26)
