"""Names of submission files, per a configurable convention.

NCAs and ESMA's exchange formats expect file names that carry who sends the file, to whom,
and which file of which submission it is; a file with the wrong name is rejected before its
content is read (status advice `INCF`, "incorrect filename"). The convention differs between
authorities and between direct and ARM submissions, so it is configuration
(`Settings.file_naming`): a named convention from `CONVENTIONS` or a `str.format` template.

Every name is checked before a file is written: it must be a bare file name made of
portable characters (POSIX portable filename set: letters, digits, ".", "_", "-"), so that a
template can neither escape the output folder nor produce a name an NCA portal refuses.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import date

#: Named conventions. `regreport` is the platform's own; `esma` follows the pattern of ESMA's
#: reporting instructions (see `_ESMA_TEMPLATE`).
DEFAULT_CONVENTION = "regreport"

_REGREPORT_TEMPLATE = (
    "{report_type}_{sender_lei}_{period_start:%Y%m%d}_S{sequence:03d}_P{part:02d}.xml"
)
# ESMA pattern <Sender>_DATTRA_<Recipient>_<Key1>_<Key2>_<YY>.xml: Key1 a six-digit
# sequence, Key2 the two-digit part number, YY the year. Recalled from ESMA's MiFIR
# transaction reporting instructions (ESMA/2016/1521, file naming section): verify against
# the receiving NCA's own instructions before production use; many NCAs define their own.
_ESMA_TEMPLATE = "{sender}_DATTRA_{recipient}_{sequence:06d}_{part:02d}_{yy}.xml"

CONVENTIONS: dict[str, str] = {
    "regreport": _REGREPORT_TEMPLATE,
    "esma": _ESMA_TEMPLATE,
}

#: What a named convention's output must look like: an overflowing number (part 100 in a
#: two-digit field) is an error, not a silently longer name.
_SHAPES: dict[str, re.Pattern[str]] = {
    "regreport": re.compile(r"[A-Z0-9_]+_[A-Z0-9]{20}_\d{8}_S\d{3}_P\d{2}\.xml"),
    "esma": re.compile(r"[A-Z0-9]+_DATTRA_[A-Z]{2}_\d{6}_\d{2}_\d{2}\.xml"),
}

#: Fields a template may use.
FIELDS = (
    "sender_lei",
    "sender_code",
    "sender",
    "nca_country",
    "recipient",
    "report_type",
    "period_start",
    "sequence",
    "part",
    "part_count",
    "year",
    "yy",
)

_PORTABLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_MAX_NAME = 255


class NamingError(ValueError):
    """A convention is unknown or malformed, or it gives a name that is not a safe file name."""


@dataclass(frozen=True)
class _Fields:
    sender_lei: str
    sender_code: str
    sender: str
    nca_country: str
    recipient: str
    report_type: str
    period_start: date
    sequence: int
    part: int
    part_count: int
    year: int
    yy: str


def file_name(
    convention: str,
    *,
    sender_lei: str,
    nca_country: str,
    report_type: str,
    period_start: date,
    sequence: int,
    part: int,
    part_count: int | None = None,
    sender_code: str | None = None,
    year: int | None = None,
) -> str:
    """Name one file of a submission.

    Args:
        convention: A key of `CONVENTIONS` ("regreport", "esma") or a `str.format` template
            with named fields from `FIELDS`, e.g. "{sender_lei}_{period_start:%Y%m%d}_{part}.xml".
        sender_lei: LEI of the submitting entity.
        nca_country: ISO 3166 alpha-2 code of the receiving NCA (`recipient` in templates).
        report_type: e.g. "mifir_rts22"; upper-cased in names ("MIFIR_RTS22").
        period_start: First day of the reporting period.
        sequence: 1-based submission number. The "esma" convention writes it as Key1, which
            the authority expects to be unique per sender and year: pass a yearly counter.
        part: 1-based file number within the submission.
        part_count: Number of files in the submission, when known (`render_auth016_parts`
            knows it when it names the files); a template using `{part_count}` needs it.
        sender_code: Code the NCA assigned to the sender, when it is not the LEI (`sender`
            in templates is this code, else the LEI).
        year: Year in the name (`year`, and `yy` its last two digits); defaults to the year
            of `period_start`.

    Returns:
        A bare file name, e.g. "MIFIR_RTS22_529900T8BM49AURSDO55_20261126_S001_P01.xml".

    Raises:
        NamingError: Unknown convention, unknown template field, numbers out of range, or a
            name that is not a portable, bare file name.
    """
    if sequence < 1 or part < 1 or (part_count is not None and not 1 <= part <= part_count):
        raise NamingError(
            f"sequence, part and part_count must be >= 1 and part <= part_count "
            f"(got {sequence}, {part}, {part_count})"
        )
    year = period_start.year if year is None else year
    fields = _Fields(
        sender_lei=sender_lei,
        sender_code=sender_code or sender_lei,
        sender=sender_code or sender_lei,
        nca_country=nca_country,
        recipient=nca_country,
        report_type=report_type.upper(),
        period_start=period_start,
        sequence=sequence,
        part=part,
        part_count=0 if part_count is None else part_count,
        year=year,
        yy=f"{year % 100:02d}",
    )
    template = CONVENTIONS.get(convention)
    if template is None:
        if "part_count" in _check_template(convention) and part_count is None:
            raise NamingError(
                f"file naming template {convention!r} uses {{part_count}}, which is not known"
            )
        template = convention
    try:
        name = template.format(**fields.__dict__)
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        raise NamingError(f"file naming template {convention!r} cannot be applied: {exc}") from None
    check_file_name(name)
    shape = _SHAPES.get(convention)
    if shape is not None and not shape.fullmatch(name):
        raise NamingError(
            f"convention {convention!r} cannot name part {part} of submission {sequence}: "
            f"{name!r} overflows its fields or does not fit its pattern"
        )
    return name


def _check_template(template: str) -> list[str]:
    """Refuse a convention that is neither a known name nor a template with known fields.

    Returns:
        The fields the template uses.
    """
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise NamingError(f"file naming template {template!r} is malformed: {exc}") from None
    names = [field for _, field, _, _ in parsed if field is not None]
    if not names:
        known = ", ".join(sorted(CONVENTIONS))
        raise NamingError(
            f"unknown file naming convention {template!r}: use one of {known} "
            "or a template with {fields}"
        )
    for field in names:
        root = re.split(r"[.\[]", field, maxsplit=1)[0]
        if root != field or root not in FIELDS:
            raise NamingError(
                f"file naming template {template!r}: field {{{field}}} is not one of "
                + ", ".join(FIELDS)
            )
    return names


def check_file_name(name: str) -> str:
    """Return `name` if it is a bare, portable file name, else raise `NamingError`.

    Portable: POSIX portable filename characters only, not starting with "." or "-" (hidden
    files, command-line options), at most 255 characters; so no path separator, no "..".
    """
    if not name or len(name) > _MAX_NAME or not _PORTABLE.fullmatch(name) or ".." in name:
        raise NamingError(
            f"{name!r} is not a safe file name: use letters, digits, '.', '_' and '-' only, "
            "start with a letter or digit, no '..', at most 255 characters"
        )
    return name


def check_convention(convention: str) -> None:
    """Fail early (at configuration time) on a convention that cannot name a file.

    Applies the convention to sample values; raises `NamingError` as `file_name` would.
    """
    file_name(
        convention,
        sender_lei="529900T8BM49AURSDO55",
        nca_country="FR",
        report_type="mifir_rts22",
        period_start=date(2026, 1, 2),
        sequence=1,
        part=1,
        part_count=1,
    )
