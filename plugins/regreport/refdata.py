"""Run-time reference data: FIRDS instruments and GLEIF LEIs, kept in the warehouse.

The reference-data rules (`regreport.rules.refdata`, family ``REF``) ask two questions no
record can answer alone: was the instrument admitted to trading on the trade date (ESMA's
FIRDS), and was each LEI registered and in good standing on it (GLEIF). The answers live in
schema ``refdata`` of the warehouse, loaded from files the user downloads; nothing here
downloads anything (see docs/reporting/mifir/reference-data.md).

Tables:

- ``refdata.firds_instruments``: one row per (ISIN, trading venue), as FIRDS publishes them.
- ``refdata.gleif_lei``: one row per LEI, the GLEIF Level 1 golden copy's registration data.
- ``refdata.loads``: per table, when it was loaded, from which files and as of which day.

Loaders read either the real files or a simple CSV with this module's column names
(`FIRDS_COLUMNS`, `GLEIF_COLUMNS`, used by the synthetic demo tables and the tests):

- `load_firds`: ESMA FIRDS full files (``FULINS_<CFI>_<yyyymmdd>_<n>of<m>.xml``, auth.017,
  zipped or not), streamed with ``iterparse`` so a multi-gigabyte file takes constant memory.
- `load_gleif`: the GLEIF LEI-CDF golden copy CSV (zipped or not), streamed row by row.

A load replaces the whole table in one transaction (truncate + COPY), so the gate never sees
a half-loaded table and a reload is idempotent. A table that was never loaded (empty) means
"cannot tell": its rules do not fire, and the gate says so once.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from psycopg import sql

if TYPE_CHECKING:
    import psycopg

    from regreport.config import Settings

log = logging.getLogger(__name__)

SCHEMA = "refdata"
FIRDS_TABLE = "firds_instruments"
GLEIF_TABLE = "gleif_lei"

#: Columns of ``refdata.firds_instruments`` and of the simple FIRDS CSV, in order.
FIRDS_COLUMNS = (
    "isin",
    "full_name",
    "cfi",
    "currency",
    "venue",
    "first_trade_date",
    "termination_date",
    "underlying_isin",
    "underlying_index",
    "expiry_date",
)
#: Columns of ``refdata.gleif_lei`` and of the simple GLEIF CSV, in order.
GLEIF_COLUMNS = (
    "lei",
    "registration_status",
    "entity_status",
    "initial_registration_date",
    "last_update_date",
    "next_renewal_date",
    "entity_expiration_date",
)
_DATE_COLUMNS = frozenset(
    {
        "first_trade_date",
        "termination_date",
        "expiry_date",
        "initial_registration_date",
        "last_update_date",
        "next_renewal_date",
        "entity_expiration_date",
    }
)
#: GLEIF golden copy (LEI-CDF 3.1 CSV) column -> our column.
GLEIF_GOLDEN_COPY = {
    "LEI": "lei",
    "Registration.RegistrationStatus": "registration_status",
    "Entity.EntityStatus": "entity_status",
    "Registration.InitialRegistrationDate": "initial_registration_date",
    "Registration.LastUpdateDate": "last_update_date",
    "Registration.NextRenewalDate": "next_renewal_date",
    "Entity.EntityExpirationDate": "entity_expiration_date",
}
#: FIRDS auth.017 ``RefData`` child paths (namespace-free) -> our column. The venue window is
#: per record: an ISIN admitted on several venues has one ``RefData`` per venue.
FIRDS_PATHS = {
    "isin": "FinInstrmGnlAttrbts/Id",
    "full_name": "FinInstrmGnlAttrbts/FullNm",
    "cfi": "FinInstrmGnlAttrbts/ClssfctnTp",
    "currency": "FinInstrmGnlAttrbts/NtnlCcy",
    "venue": "TradgVnRltdAttrbts/Id",
    "first_trade_date": "TradgVnRltdAttrbts/FrstTradDt",
    "termination_date": "TradgVnRltdAttrbts/TermntnDt",
    "underlying_isin": "DerivInstrmAttrbts/UndrlygInstrm/Sngl/ISIN",
    "underlying_index": "DerivInstrmAttrbts/UndrlygInstrm/Sngl/Indx/ISIN",
    "expiry_date": "DerivInstrmAttrbts/XpryDt",
}

DDL = """
create schema if not exists refdata;
create table if not exists refdata.firds_instruments (
    isin text not null,
    full_name text,
    cfi text,
    currency text,
    venue text not null default '',
    first_trade_date date,
    termination_date date,
    underlying_isin text,
    underlying_index text,
    expiry_date date,
    primary key (isin, venue)
);
create table if not exists refdata.gleif_lei (
    lei text primary key,
    registration_status text not null,
    entity_status text,
    initial_registration_date date,
    last_update_date date,
    next_renewal_date date,
    entity_expiration_date date
);
create table if not exists refdata.loads (
    table_name text primary key,
    source text not null,
    as_of date,
    row_count bigint not null,
    loaded_at timestamptz not null default now()
);
"""


def ensure_schema(conn: psycopg.Connection[Any]) -> None:
    """Create the ``refdata`` tables if missing (the admin's `regreport db setup` does it)."""
    from regreport import ddl

    ddl.ensure(conn, "refdata", DDL)


# -- lookups the rules read ---------------------------------------------------------------------


@dataclass(frozen=True)
class FirdsEntry:
    """What FIRDS says about one ISIN, over all the venues it is admitted on.

    Attributes:
        isin: the instrument.
        cfi: ISO 10962 classification (the same on every venue; the first one read wins).
        currency: notional currency.
        windows: (first trade date, termination date) per venue; None is open-ended.
        underlying_isin: derivatives: the single underlying instrument, if any.
        expiry_date: derivatives: the expiry date.
    """

    isin: str
    cfi: str | None
    currency: str | None
    windows: tuple[tuple[date | None, date | None], ...]
    underlying_isin: str | None = None
    expiry_date: date | None = None

    def valid_on(self, day: date) -> bool:
        """Whether some venue had the instrument admitted on `day` (termination day included)."""
        return any(
            (first is None or first <= day) and (end is None or day <= end)
            for first, end in self.windows
        )


#: Statuses of an LEI whose holder may report (fields 4 and 6).
ENTITY_OK_STATUSES = frozenset({"ISSUED", "PENDING_TRANSFER", "PENDING_ARCHIVAL"})
#: ... of a counterparty's or client's LEI: a lapsed LEI still identifies the entity.
PARTY_OK_STATUSES = ENTITY_OK_STATUSES | {"LAPSED"}
#: Statuses that end an LEI's life; the change is dated by `LeiEntry.ended_on`.
ENDED_STATUSES = frozenset({"RETIRED", "MERGED", "DUPLICATE", "ANNULLED"})


@dataclass(frozen=True)
class LeiEntry:
    """The GLEIF registration data of one LEI (Level 1, golden copy)."""

    lei: str
    registration_status: str
    entity_status: str | None = None
    initial_registration_date: date | None = None
    last_update_date: date | None = None
    next_renewal_date: date | None = None
    entity_expiration_date: date | None = None

    def registered_by(self, day: date) -> bool:
        """Whether the LEI had been issued on or before `day`."""
        return self.initial_registration_date is None or self.initial_registration_date <= day

    @property
    def ended_on(self) -> date | None:
        """The first day the LEI is known to be retired, merged, duplicate or inactive.

        The golden copy has no status history: the entity's expiration date dates the end when
        given, else the record's last update (when the status last changed, at the latest).
        """
        return self.entity_expiration_date or self.last_update_date

    def issued_on(self, day: date) -> bool:
        """Whether the LEI was ISSUED (or pending a transfer) on `day`.

        LAPSED counts when its renewal date is on or after `day`: it lapsed after the trade
        (a rerun of an old day must not fail because of today's status). An ended status counts
        when it was reached after `day`, except ANNULLED (the LEI was never valid).
        """
        status = self.registration_status
        if not self.registered_by(day):
            return False
        if status in ENTITY_OK_STATUSES:
            return True
        if status == "LAPSED":
            return self.next_renewal_date is not None and day <= self.next_renewal_date
        return status in ENDED_STATUSES and self._ended_after(day)

    def usable_for_party_on(self, day: date) -> bool:
        """Whether a client's or counterparty's LEI was usable on `day` (LAPSED is accepted).

        Retired, merged, duplicate, annulled or an inactive entity are refused when that was
        the case on or before `day`.
        """
        if not self.registered_by(day):
            return False
        inactive = self.entity_status == "INACTIVE"
        if self.registration_status in PARTY_OK_STATUSES and not inactive:
            return True
        if self.registration_status not in PARTY_OK_STATUSES | ENDED_STATUSES:
            return False  # e.g. PENDING_VALIDATION, CANCELLED: never issued
        return self._ended_after(day)

    def _ended_after(self, day: date) -> bool:
        if self.registration_status == "ANNULLED":
            return False
        ended = self.ended_on
        return ended is not None and day < ended


# -- reading files ------------------------------------------------------------------------------


def _date(text: str | None) -> date | None:
    """A date from ``yyyy-mm-dd`` or an ISO 8601 date-time (its date part); None when blank."""
    text = (text or "").strip()
    return date.fromisoformat(text[:10]) if text else None


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


@contextmanager
def _open_binary(path: Path, suffix: str) -> Iterator[IO[bytes]]:
    """The file, or the first member ending in `suffix` of a zip archive (streamed)."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(suffix)]
            if not names:
                raise ValueError(f"{path.name}: no {suffix} file in the archive")
            with archive.open(names[0]) as member:
                yield member
    else:
        with path.open("rb") as handle:
            yield handle


def _is_xml(path: Path) -> bool:
    if path.suffix.lower() == ".xml":
        return True
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return any(n.lower().endswith(".xml") for n in archive.namelist())
    return False


def _csv_rows(path: Path, mapping: Mapping[str, str] | None = None) -> Iterator[dict[str, Any]]:
    """Rows of a CSV as our column names; `mapping` renames the golden copy's columns."""
    with _open_binary(path, ".csv") as raw:
        reader = csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8-sig", newline=""))
        header = list(reader.fieldnames or ())
        if mapping is not None and "Registration.RegistrationStatus" in header:
            rename = {theirs: ours for theirs, ours in mapping.items() if theirs in header}
        else:
            rename = {name: name for name in header}
        for row in reader:
            yield {ours: row.get(theirs) for theirs, ours in rename.items()}


def firds_xml_rows(source: IO[bytes]) -> Iterator[dict[str, Any]]:
    """Stream the ``RefData`` records of a FIRDS full file (auth.017) as column dicts.

    Element paths relied on (namespace-free, under ``BizData/Pyld/Document/
    FinInstrmRptgRefDataRpt/RefData``): see `FIRDS_PATHS`. Each record is cleared once read,
    together with the siblings before it, so memory stays flat whatever the file size. The
    parser resolves no entities and opens no network connection.
    """
    from lxml import etree

    context = etree.iterparse(
        source,
        events=("end",),
        tag="{*}RefData",
        resolve_entities=False,
        no_network=True,
        huge_tree=True,
    )
    for _, elem in context:
        row: dict[str, Any] = {}
        for column, path in FIRDS_PATHS.items():
            found = elem.find("/".join(f"{{*}}{part}" for part in path.split("/")))
            row[column] = None if found is None else found.text
        yield row
        elem.clear()
        parent = elem.getparent()
        while parent is not None and elem.getprevious() is not None:
            del parent[0]


def _firds_rows(path: Path) -> Iterator[dict[str, Any]]:
    if _is_xml(path):
        with _open_binary(path, ".xml") as source:
            yield from firds_xml_rows(source)
    else:
        yield from _csv_rows(path)


def _typed(row: Mapping[str, Any], columns: Sequence[str]) -> tuple[Any, ...]:
    out: list[Any] = []
    for name in columns:
        value = row.get(name)
        if name in _DATE_COLUMNS:
            out.append(_date(value))
        elif name == "venue":
            out.append((value or "").strip())
        else:
            text = _text(value)
            out.append(text.upper() if text and name != "full_name" else text)
    return tuple(out)


_AS_OF = re.compile(r"(?<!\d)(20\d{2})-?(\d{2})-?(\d{2})(?!\d)")


def as_of_from_name(name: str) -> date | None:
    """The publication day in a file name, or None.

    E.g. ``FULINS_E_20250830_01of02.xml``, ``20250901-0000-gleif-goldencopy-lei2-golden-copy.csv``.
    """
    found = _AS_OF.search(name)
    if found is None:
        return None
    try:
        return date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        return None


# -- loading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadResult:
    """What one load put in a table."""

    table: str
    rows: int
    as_of: date | None
    source: str


def _paths(path: Path | str | Sequence[Path | str]) -> list[Path]:
    if isinstance(path, str | Path):
        return [Path(path)]
    return [Path(p) for p in path]


def _replace(
    conn: psycopg.Connection[Any],
    table: str,
    columns: Sequence[str],
    key: Sequence[str],
    rows: Iterable[tuple[Any, ...]],
    paths: Sequence[Path],
    as_of: date | None,
) -> LoadResult:
    """Truncate `table` and COPY `rows` in, in one transaction; duplicates keep the first."""
    target = sql.Identifier(SCHEMA, table)
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    with conn.transaction():
        ensure_schema(conn)
        conn.execute("drop table if exists _refdata_load")
        conn.execute(
            sql.SQL(
                "create temporary table _refdata_load (like {} including defaults) on commit drop"
            ).format(target)
        )
        for name in key:
            conn.execute(
                sql.SQL("alter table _refdata_load alter column {} drop not null").format(
                    sql.Identifier(name)
                )
            )
        with conn.cursor().copy(
            sql.SQL("copy _refdata_load ({}) from stdin").format(names)
        ) as copy:
            for row in rows:
                copy.write_row(row)
        conn.execute(sql.SQL("truncate {}").format(target))
        keys = sql.SQL(", ").join(map(sql.Identifier, key))
        cursor = conn.execute(
            sql.SQL(
                "insert into {target} ({names}) select distinct on ({keys}) {names}"
                " from _refdata_load where {first} is not null order by {keys}"
            ).format(target=target, names=names, keys=keys, first=sql.Identifier(key[0]))
        )
        count = cursor.rowcount
        source = ", ".join(p.name for p in paths)
        as_of = as_of or max((d for p in paths if (d := as_of_from_name(p.name))), default=None)
        conn.execute(
            "insert into refdata.loads (table_name, source, as_of, row_count) values"
            " (%s, %s, %s, %s) on conflict (table_name) do update set source = excluded.source,"
            " as_of = excluded.as_of, row_count = excluded.row_count, loaded_at = now()",
            (table, source, as_of, count),
        )
    result = LoadResult(table=f"{SCHEMA}.{table}", rows=count, as_of=as_of, source=source)
    log.info("refdata: loaded %s rows into %s from %s", count, result.table, source)
    return result


def load_firds(
    conn: psycopg.Connection[Any],
    path: Path | str | Sequence[Path | str],
    as_of: date | None = None,
) -> LoadResult:
    """Replace ``refdata.firds_instruments`` with the records of one or more FIRDS files.

    Args:
        conn: the warehouse, as a role that may write schema ``refdata`` (the admin).
        path: FULINS XML files (or their zips), or simple CSVs with `FIRDS_COLUMNS`; load all
            the parts of one publication together, since a load replaces the table.
        as_of: publication day; default: the latest date found in the file names.

    Returns:
        Rows loaded (one per ISIN and venue), as-of day and source file names.
    """
    paths = _paths(path)
    rows = (_typed(r, FIRDS_COLUMNS) for p in paths for r in _firds_rows(p))
    return _replace(conn, FIRDS_TABLE, FIRDS_COLUMNS, ("isin", "venue"), rows, paths, as_of)


def load_gleif(
    conn: psycopg.Connection[Any],
    path: Path | str | Sequence[Path | str],
    as_of: date | None = None,
) -> LoadResult:
    """Replace ``refdata.gleif_lei`` with a GLEIF golden copy CSV or a simple CSV.

    The golden copy is recognised by its header (``LEI``, ``Registration.RegistrationStatus``,
    ... see `GLEIF_GOLDEN_COPY`); otherwise the file must have `GLEIF_COLUMNS`.
    """
    paths = _paths(path)
    rows = (_typed(r, GLEIF_COLUMNS) for p in paths for r in _csv_rows(p, GLEIF_GOLDEN_COPY))
    return _replace(conn, GLEIF_TABLE, GLEIF_COLUMNS, ("lei",), rows, paths, as_of)


def status(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """Per reference table: rows, as-of day, source files and load time (empty: never loaded)."""
    if not _table_exists(conn, "loads"):
        return []
    rows = conn.execute(
        "select table_name, row_count, as_of, source, loaded_at from refdata.loads"
        " order by table_name"
    ).fetchall()
    keys = ("table", "rows", "as_of", "source", "loaded_at")
    return [dict(zip(keys, row, strict=True)) for row in rows]


# -- what the rule gate reads -------------------------------------------------------------------


def _table_exists(conn: psycopg.Connection[Any], table: str) -> bool:
    """Catalogue lookup that needs no privilege on the schema (unlike a select would)."""
    row = conn.execute(
        "select exists (select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = %s and c.relname = %s)",
        (SCHEMA, table),
    ).fetchone()
    return bool(row and row[0])


def is_loaded(conn: psycopg.Connection[Any], table: str) -> bool:
    """Whether `table` (``firds_instruments`` or ``gleif_lei``) exists and holds rows."""
    if not _table_exists(conn, table):
        return False
    query = sql.SQL("select exists (select 1 from {})").format(sql.Identifier(SCHEMA, table))
    row = conn.execute(query).fetchone()
    return bool(row and row[0])


def firds_lookup(
    conn: psycopg.Connection[Any], isins: sql.Composable, params: Mapping[str, Any]
) -> dict[str, FirdsEntry]:
    """FIRDS entries of the ISINs that the query `isins` (one text column) returns.

    One query, joined on the ISIN index: only the run's instruments are read, never the table.
    """
    query = sql.SQL(
        "select {cols} from refdata.firds_instruments f where f.isin in ({isins})"
        " order by f.isin, f.venue"
    ).format(cols=sql.SQL(", ").join(sql.Identifier("f", c) for c in FIRDS_COLUMNS), isins=isins)
    grouped: dict[str, list[tuple[Any, ...]]] = {}
    for row in conn.execute(query, params):
        grouped.setdefault(row[0], []).append(row)
    index = {name: i for i, name in enumerate(FIRDS_COLUMNS)}
    out: dict[str, FirdsEntry] = {}
    for isin, rows in grouped.items():
        first = rows[0]
        out[isin] = FirdsEntry(
            isin=isin,
            cfi=first[index["cfi"]],
            currency=first[index["currency"]],
            windows=tuple(
                (r[index["first_trade_date"]], r[index["termination_date"]]) for r in rows
            ),
            underlying_isin=next(
                (r[index["underlying_isin"]] for r in rows if r[index["underlying_isin"]]), None
            ),
            expiry_date=first[index["expiry_date"]],
        )
    return out


def gleif_lookup(
    conn: psycopg.Connection[Any], leis: sql.Composable, params: Mapping[str, Any]
) -> dict[str, LeiEntry]:
    """GLEIF entries of the LEIs that the query `leis` (one text column) returns (one query)."""
    query = sql.SQL("select {cols} from refdata.gleif_lei g where g.lei in ({leis})").format(
        cols=sql.SQL(", ").join(sql.Identifier("g", c) for c in GLEIF_COLUMNS), leis=leis
    )
    return {row[0]: LeiEntry(*row) for row in conn.execute(query, params)}


# -- synthetic tables for the demo and tests ----------------------------------------------------

#: Fixed dates of the synthetic tables: long before and after any demonstrated trade date.
SYNTHETIC_FIRST_TRADE = date(2010, 1, 4)
SYNTHETIC_LEI_REGISTERED = date(2013, 1, 15)
SYNTHETIC_LEI_UPDATED = date(2025, 1, 15)
SYNTHETIC_LEI_RENEWAL = date(2099, 1, 15)
SYNTHETIC_FIRDS_NAME = "synthetic_firds.csv"
SYNTHETIC_GLEIF_NAME = "synthetic_gleif.csv"

_SOURCE_LEIS = """
    select lei from qsuite.firm
    union select lei from qsuite.accounts
    union select poa_lei from qsuite.accounts
    union select ccp_lei from qsuite.venues
    union select counterparty_lei from qsuite.executions
    union select transmitted_by_lei from qsuite.orders
"""


def write_synthetic(source: psycopg.Connection[Any], out_dir: Path) -> tuple[Path, Path]:
    """Write FIRDS and GLEIF CSVs consistent with the QSuite source database.

    Every instrument the source marks `in_firds` (with an ISIN) is admitted on its primary
    venue from 2010 and never terminated before its expiry or maturity; every LEI the source
    holds (firm, accounts, powers of attorney, CCPs, off-venue counterparties, transmitting
    firms) is ISSUED since 2013. So the generated world raises no REF finding; planted
    defects in the source (an unknown ISIN, a new LEI) do. Deterministic: same source, same
    bytes.

    Returns:
        The FIRDS and the GLEIF file written.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    instruments = source.execute(
        "select isin, full_name, cfi, currency, primary_mic, underlying_isin, expiry_date,"
        " maturity_date from qsuite.instruments where in_firds and isin is not null"
        " order by isin"
    ).fetchall()
    leis = [
        row[0]
        for row in source.execute(
            f"select lei from ({_SOURCE_LEIS}) l where lei is not null order by lei"
        )  # fmt: skip
    ]
    firds_path = out_dir / SYNTHETIC_FIRDS_NAME
    with firds_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(FIRDS_COLUMNS)
        for isin, name, cfi, ccy, mic, underlying, expiry, maturity in instruments:
            end = expiry or maturity
            writer.writerow(
                (isin, name, cfi, ccy, mic, SYNTHETIC_FIRST_TRADE.isoformat(),
                 end.isoformat() if end else "", underlying or "", "",
                 expiry.isoformat() if expiry else "")
            )  # fmt: skip
    gleif_path = out_dir / SYNTHETIC_GLEIF_NAME
    with gleif_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(GLEIF_COLUMNS)
        for lei in leis:
            writer.writerow(
                (lei, "ISSUED", "ACTIVE", SYNTHETIC_LEI_REGISTERED.isoformat(),
                 SYNTHETIC_LEI_UPDATED.isoformat(), SYNTHETIC_LEI_RENEWAL.isoformat(), "")
            )  # fmt: skip
    return firds_path, gleif_path


def load_synthetic(settings: Settings) -> tuple[LoadResult, LoadResult]:
    """Write the synthetic FIRDS/GLEIF tables from the source and load them into the warehouse.

    For the demo and `regreport run` on generated data: call it after the source is generated
    (next to `_publish_reference_data` in the CLI). Files go to ``<home>/refdata/``.
    """
    import psycopg

    out_dir = settings.home / "refdata"
    with psycopg.connect(settings.source_dsn) as source:
        firds_path, gleif_path = write_synthetic(source, out_dir)
    with psycopg.connect(settings.warehouse_dsn) as conn:
        firds = load_firds(conn, firds_path)
        gleif = load_gleif(conn, gleif_path)
    return firds, gleif
