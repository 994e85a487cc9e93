"""The CSV account import, set-based: the file goes into a temporary table of text columns through COPY, one SQL
pass checks and converts every row, and only the rows that pass cannot vouch for are parsed again in Python
(import_rows._row_values, the rules and messages of record). Nothing holds the rows in memory.

Two ways in, both giving the rows exactly as Python's csv module (excel dialect) reads them:
- plain files (one-line records, well-formed quoting, no blank lines: what spreadsheets and CRMs export) are sent
  to COPY ... (FORMAT csv) as raw bytes, which PostgreSQL splits the same way, checked chunk by chunk;
- anything else (ragged rows, blank lines, quoted line breaks, stray quotes, odd line endings) is read by the csv
  module and re-written for COPY, with each record's line number: slower, same result.
"""

import csv
import io
import re
from dataclasses import dataclass
from itertools import islice
from operator import itemgetter
from pathlib import Path

import psycopg
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction

from accounts.services.import_rows import (
    _CHOICE_LOOKUP,
    CHOICES,
    COLUMNS,
    DEFAULTS,
    LATITUDE_NAMES,
    LONGITUDE_NAMES,
    MAX_REPORTED_ERRORS,
    PROGRESS_EVERY,
    Progress,
    RowError,
    _row_values,
    csv_location,
    default_sql,
)

CHUNK_BYTES = 1 << 16  # with the partial line before it, below the csv module's field limit: no field is longer
PARSED_BATCH_ROWS = 10_000
FLAGGED_BATCH_ROWS = 5_000
STAGING_TABLES = ("_import_raw", "_import_clean", "_import_fixed", "_import_assign")
# What Python's str.strip() removes; btrim() gets the same set so both sides trim a cell alike.
PYTHON_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# A well-formed quoted field: opens at the start of a field, doubles its inner quotes, closes before a delimiter or
# the end of a line. Where every quote of a chunk belongs to one, PostgreSQL and the csv module split it alike.
QUOTED_FIELD = re.compile(rb'(?:^|(?<=[,\r\n]))"(?:[^"]|"")*"(?=[,\r\n]|\Z)')
# Python's whitespace in UTF-8, and a byte classification that finds, in one pass, every place where a cell might
# begin or end with some: a delimiter next to a byte that starts (F), ends (L) or is (B) such a character.
WHITESPACE = (
    rb"(?:[\t\x0b\x0c\x1c-\x1f ]|\xc2[\x85\xa0]|\xe1\x9a\x80|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]|\xe2\x81\x9f"
    rb"|\xe3\x80\x80)"
)
EDGE_WHITESPACE = re.compile(rb'(?:^|[,\r\n"])' + WHITESPACE + rb"|" + WHITESPACE + rb'(?:[,\r\n"]|\Z)')
BYTE_CLASSES = bytes(
    ord("D")
    if byte in b',\r\n"'
    else ord("B")
    if byte in b"\t\x0b\x0c\x1c\x1d\x1e\x1f "
    else ord("F")
    if byte in b"\xc2\xe1\xe2\xe3"
    else ord("L")
    if 0x80 <= byte <= 0x8A or byte in b"\x9f\xa0\xa8\xa9\xaf"
    else ord(".")
    for byte in range(256)
)
EDGE_PAIRS = (b"DF", b"DB", b"LD", b"BD")
TEXT_SIZES = {"street": 200, "city": 100, "state": 100, "postal_code": 20, "industry": 64}
UPPER, LOWER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"
MONEY = r"^[0-9]{1,12}(\.[0-9]{1,2})?$"  # below 1e12, at most cents: no rounding to reproduce
COORDINATE = r"^-?[0-9]{1,3}(\.[0-9]+)?$"


class NotPlain(Exception):
    """The file needs the csv module to be read exactly as Python reads it."""


@dataclass
class Layout:
    """Where each column of the file is: normalised header name -> index of the last column with that name."""

    fieldnames: list[str]
    keys: dict[str, int]
    lon: int | None = None
    lat: int | None = None
    lon_name: str | None = None
    lat_name: str | None = None

    @classmethod
    def of(cls, fieldnames: list[str]) -> "Layout":
        keys = {name.strip().lower(): index for index, name in enumerate(fieldnames) if name}
        layout = cls(fieldnames, keys)
        lon_key = next((name for name in LONGITUDE_NAMES if name in keys), None)
        lat_key = next((name for name in LATITUDE_NAMES if name in keys), None)
        if lon_key and lat_key:
            layout.lon, layout.lat = keys[lon_key], keys[lat_key]
            layout.lon_name, layout.lat_name = fieldnames[layout.lon], fieldnames[layout.lat]
        return layout

    @property
    def present(self) -> set[str]:
        """The account columns the file sets (others keep their value on update, their default on insert)."""
        return (set(self.keys) & set(COLUMNS)) | ({"location"} if self.lon is not None else set())

    def used_indexes(self) -> list[int]:
        """The columns the import reads: account fields, coordinates and territory_code."""
        wanted = [index for key, index in self.keys.items() if key in COLUMNS or key == "territory_code"]
        return sorted({*wanted, *[i for i in (self.lon, self.lat) if i is not None]})


# ------------------------------------------------------------------------------------------------ reading the file
def _header(path: Path) -> tuple[list[str], int | None]:
    """The header's names and the byte offset where the data starts (None: the header is not one plain line)."""
    with open(path, "rb") as handle:
        first = handle.readline(CHUNK_BYTES)
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], None
    line = text[:-1] if text.endswith("\n") else text
    line = line[:-1] if line.endswith("\r") else line
    if not first.endswith(b"\n") and len(first) == CHUNK_BYTES or "\r" in line or "\n" in line:
        return [], None
    if '"' in line and b'"' in QUOTED_FIELD.sub(b"", line.encode()):
        return [], None
    return next(csv.reader([line]), []), len(first)


def _data_end(path: Path) -> int:
    """The file's size less the line breaks at its end (blank last lines, which the csv module skips)."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        handle.seek(max(0, size - 4096))
        tail = handle.read()
    return size - (len(tail) - len(tail.rstrip(b"\r\n")))


def _breaks(data: bytes) -> int:
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


class PlainReader:
    """The data as chunks of whole lines, each checked to read the same in PostgreSQL's COPY as in the csv module
    (raises NotPlain otherwise); notes whether any cell may begin or end with whitespace (`trim`)."""

    def __init__(self, path: Path, start: int, end: int):
        self.path, self.start, self.end = path, start, end
        self.trim = False
        self.position = start

    def chunks(self):
        """Yields (chunk, lines in it)."""
        limit = csv.field_size_limit()
        with open(self.path, "rb") as handle:
            handle.seek(self.start)
            pending, end = b"", self.end
            while self.position < end or pending:
                block = handle.read(min(CHUNK_BYTES, end - self.position)) if self.position < end else b""
                self.position += len(block)
                data = pending + block
                if self.position < end:
                    cut = data.rfind(b"\n") + 1
                    if not cut and len(data) <= limit:
                        pending = data
                        continue
                    data, pending = (data[:cut], data[cut:]) if cut else (data, b"")
                else:
                    pending = b""
                if not data:
                    break
                if len(data) > limit and max(map(len, data.split(b"\n"))) > limit:
                    raise NotPlain("a line longer than the csv module's field limit")
                yield self._checked(data)

    def _checked(self, data: bytes) -> tuple[bytes, int]:
        # Each test is a C-speed scan of the chunk; the cheaper single-byte ones spare the others where they can.
        carriage_returns = b"\r" in data
        if data[:1] in (b"\r", b"\n") or b"\n\n" in data or (carriage_returns and (b"\r\r" in data or b"\n\r" in data)):
            raise NotPlain("blank lines")
        if b"\\" in data and (data.startswith(b"\\.") or b"\n\\." in data):
            raise NotPlain("a line that COPY reads as its end marker")
        lines = (_breaks(data) if carriage_returns else data.count(b"\n")) + (0 if data.endswith((b"\n", b"\r")) else 1)
        if b'"' in data:
            unquoted = QUOTED_FIELD.sub(b"", data)
            if b'"' in unquoted:
                raise NotPlain("quotes inside unquoted fields")
            if _breaks(unquoted) != _breaks(data):
                raise NotPlain("line breaks inside quoted fields")
        if not self.trim:
            classes = data.translate(BYTE_CLASSES)
            pairs = EDGE_PAIRS if not data.isascii() else (b"DB", b"BD")  # F and L are bytes of non-ASCII characters
            if classes[:1] in (b"F", b"B") or classes[-1:] in (b"L", b"B") or any(pair in classes for pair in pairs):
                self.trim = EDGE_WHITESPACE.search(data) is not None
        return data, lines


def _copy_columns(columns: list[str], force_not_null: bool) -> str:
    names = ", ".join(columns)
    options = f", FORCE_NOT_NULL ({names})" if force_not_null else ""
    return f"COPY _import_raw ({names}) FROM STDIN (FORMAT csv{options})"


def _load_plain(cursor, path: Path, start: int, width: int, progress: Progress) -> tuple[int, bool]:
    """COPY the raw bytes; returns the number of records and whether cells may need trimming. Raises NotPlain."""
    end = _data_end(path)
    size = max(end, 1)
    reader = PlainReader(path, start, end)
    cursor.execute(
        f"CREATE TEMP TABLE _import_raw (n bigint GENERATED ALWAYS AS IDENTITY, line bigint, "
        f"{', '.join(f'c{i} text' for i in range(width))})"
    )
    sql = _copy_columns([f"c{i}" for i in range(width)], force_not_null=True)
    chunks = reader.chunks()
    lines = records = reported = 0
    finished = False
    while not finished:
        finished = True
        with cursor.copy(sql) as copy:
            for data, count in chunks:
                copy.write(data)
                lines += count
                if progress and lines - reported >= PROGRESS_EVERY:
                    finished = False
                    break
        records += cursor.rowcount
        if progress and not finished:
            reported = lines
            progress(40 * reader.position / size, f"Read {lines} rows")
    if records != lines:
        raise NotPlain("records spanning lines")
    return records, reader.trim


def _load_parsed(cursor, path: Path, progress: Progress) -> tuple[Layout, int]:
    """Read the file with the csv module (as csv.DictReader does: blank lines skipped, short rows padded) and COPY
    the columns the import uses, with each record's line number; returns the layout and the number of records."""
    size = max(path.stat().st_size, 1)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            fieldnames = next(reader, None)
            if not fieldnames:
                raise ValidationError("The CSV file is empty.")
            layout = Layout.of(fieldnames)
            indexes = layout.used_indexes()
            columns = [f"c{i}" for i in indexes]
            cursor.execute(
                f"CREATE TEMP TABLE _import_raw (n bigint GENERATED ALWAYS AS IDENTITY, line bigint"
                f"{''.join(f', {column} text' for column in columns)})"
            )
            width = len(fieldnames)
            padding = [""] * (max(indexes, default=0) + 1)
            pick = (
                itemgetter(*indexes)
                if len(indexes) > 1
                else ((lambda row: (row[indexes[0]],)) if indexes else (lambda row: ()))
            )

            def records():
                for row in reader:
                    if not row:
                        continue  # a blank line, which csv.DictReader skips
                    if len(row) < width:
                        row = row + padding[len(row) :]
                    yield reader.line_num, *pick(row)

            sql = _copy_columns(["line", *columns], force_not_null=False)
            rows = records()
            total = 0
            while True:
                buffer = io.StringIO()
                csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(
                    islice(rows, PARSED_BATCH_ROWS)
                )
                text = buffer.getvalue()
                if not text:
                    break
                with cursor.copy(sql) as copy:
                    copy.write(text.encode())
                total += cursor.rowcount
                if progress:
                    progress(40 * handle.buffer.tell() / size, f"Read {total} rows")
            return layout, total
    except UnicodeDecodeError:
        raise ValidationError("The file is not UTF-8 text; save it as CSV UTF-8 (or GeoJSON in UTF-8).") from None
    except csv.Error as exc:
        raise ValidationError(f"The file is not valid CSV: {exc}.") from None


@dataclass
class Staged:
    """A CSV file in _import_raw: its layout, its number of records, and whether cells may need trimming."""

    layout: Layout
    rows: int
    trim: bool = True


def _load(cursor, path: Path, progress: Progress) -> Staged:
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            if b"\x00" in block:  # UTF-16, a spreadsheet or an archive: not UTF-8 text
                raise ValidationError(
                    "The file is not UTF-8 text (it holds NUL bytes); save it as CSV UTF-8, or "
                    "give a GeoJSON file in UTF-8."
                )
    fieldnames, start = _header(path)
    if start is not None:
        if not fieldnames:
            raise ValidationError("The CSV file is empty.")
        try:
            with transaction.atomic():
                records, trim = _load_plain(cursor, path, start, len(fieldnames), progress)
            return Staged(Layout.of(fieldnames), records, trim)
        except (NotPlain, psycopg.Error, DatabaseError):
            pass  # read it again with the csv module
    _drop(cursor)
    return Staged(*_load_parsed(cursor, path, progress))


def _drop(cursor) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {', '.join(STAGING_TABLES)}")


def csv_stage(*, path: Path, progress: Progress) -> Staged:
    """Put a CSV file's records into _import_raw (text columns). Raises ValidationError for a file that cannot be
    read at all (not UTF-8, not CSV, empty)."""
    with connection.cursor() as cursor:
        _drop(cursor)
        return _load(cursor, path, progress)


def staging_drop() -> None:
    """Drop the staging tables (they live as long as the connection otherwise)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            _drop(cursor)
    except DatabaseError:
        pass  # the surrounding transaction failed; its rollback drops them


# ------------------------------------------------------------------------------------------------ the fast path
def fast_path_fits(staged: Staged) -> bool:
    """Whether csv_write_fast can take the file: territory codes need the checked path (they are looked up)."""
    return "territory_code" not in staged.layout.keys


def csv_write_fast(staged: Staged) -> tuple[list[int], int, int]:
    """Check, convert and upsert every staged row in one INSERT ... SELECT, trusting PostgreSQL's casts where they
    accept exactly what _row_values accepts and checking the typed values for the rest. The first row it cannot
    vouch for (or a second row with the same external_id) makes the statement fail: the caller rolls back and
    takes the checked path, which reports each bad row. Returns (changed account ids, created, updated)."""
    layout = staged.layout
    present = layout.present

    def cell(key: str) -> str:
        return f"c{layout.keys[key]}" if key in layout.keys else "''"

    def text(key: str) -> str:
        return f"btrim({cell(key)}, %(ws)s)" if staged.trim else cell(key)

    values = {"external_id": text("external_id"), "name": text("name")}
    checks = [
        "external_id <> ''",
        "(octet_length(external_id) <= 64 OR char_length(external_id) <= 64)",
        "name <> ''",
        "(octet_length(name) <= 200 OR char_length(name) <= 200)",
    ]
    for column, size in TEXT_SIZES.items():
        if column in present:
            values[column] = text(column)
            checks.append(f"(octet_length({column}) <= {size} OR char_length({column}) <= {size})")
    if "country" in present:
        values["country"] = (
            f"CASE WHEN {text('country')} = '' THEN 'US' WHEN {text('country')} IN "
            f"('US', 'CA', 'GB', 'DE', 'FR', 'MX') THEN {text('country')} "
            f"WHEN {text('country')} ~ '^[A-Za-z]{{1,2}}$' "
            f"THEN translate({text('country')}, '{LOWER}', '{UPPER}') END"
        )
        checks.append("country IS NOT NULL")
    for column in CHOICES:
        if column in present:
            stored = " ".join(f"WHEN '{value}' THEN '{value}'" for value in CHOICES[column].values)
            lookup = " ".join(f"WHEN '{key}' THEN '{value}'" for key, value in sorted(_CHOICE_LOOKUP[column].items()))
            values[column] = (
                f"CASE {text(column)} {stored} WHEN '' THEN '{DEFAULTS[column]}' ELSE CASE "
                f"WHEN octet_length({text(column)}) = char_length({text(column)}) THEN CASE "
                f"{_lower_ascii(text(column))} {lookup} END END END"
            )
            checks.append(f"{column} IS NOT NULL")
    if "products" in present:
        values["products"] = (
            "ARRAY(SELECT btrim(item, %(ws)s) FROM unnest(string_to_array("
            f"replace({cell('products')}, '|', ';'), ';')) item)"
        )
        checks.append("NOT EXISTS (SELECT FROM unnest(products) item WHERE char_length(item) > 64)")
    if "employees" in present:  # int4 input takes optional sign and digits, as int(float(...)) does
        values["employees"] = f"nullif({cell('employees')}, '')::integer"
        checks.append("coalesce(employees, 0) >= 0")
    for column in ("annual_revenue", "potential", "workload_hours"):
        if column in present:  # numeric input accepts a subset of Decimal's; at most cents, so no rounding
            values[column] = f"nullif(replace({cell(column)}, ',', ''), '')::numeric"
            checks.append(f"({column} IS NULL OR ({column} >= 0 AND {column} < 1e12 AND scale({column}) <= 2))")
    if layout.lon is not None:  # float8 input and float() read the same decimal strings to the same double
        values["lon"] = f"nullif(c{layout.lon}, '')::float8"
        values["lat"] = f"nullif(c{layout.lat}, '')::float8"
        # ... except hexadecimal ("0x1p3"), which strtod reads and float() refuses
        values["hex"] = " OR ".join(f"strpos(c{index}, '{x}') > 0" for index in (layout.lon, layout.lat) for x in "xX")
        checks.append("NOT hex")
        checks.append("(lon IS NULL) = (lat IS NULL)")
        checks.append("(lon IS NULL OR (lon BETWEEN -180 AND 180 AND lat BETWEEN -90 AND 90))")
    converted = {
        "products": "ARRAY(SELECT item FROM unnest(v.products) item WHERE item <> '')::varchar(64)[]",
        "annual_revenue": "coalesce(v.annual_revenue, 0)",
        "potential": "coalesce(v.potential, 0)",
        "workload_hours": "coalesce(v.workload_hours, 0)::float8",
        "location": (
            "CASE WHEN v.lon IS NOT NULL THEN ST_SetSRID(ST_MakePoint(v.lon, v.lat), 4326) END"
            if layout.lon is not None
            else "NULL"
        ),
    }
    columns = [c for c in COLUMNS if c in present or c in {"external_id", "name"}]
    select = ", ".join(
        (converted.get(column, f"v.{column}") if column in columns else default_sql(column)) for column in COLUMNS
    )
    updates = [column for column in columns if column != "external_id"]
    set_sql = ", ".join(f"{column} = EXCLUDED.{column}" for column in updates)
    differs = " OR ".join(f"accounts_account.{column} IS DISTINCT FROM EXCLUDED.{column}" for column in updates)
    insert = f"""
        WITH written AS (
        INSERT INTO accounts_account ({", ".join(COLUMNS)}, created_at, updated_at)
        SELECT {select}, now(), now()
        FROM (SELECT n, {", ".join(f"{sql} AS {name}" for name, sql in values.items())}
              FROM _import_raw OFFSET 0) v
        WHERE CASE WHEN {" AND ".join(checks)} THEN true ELSE ('row ' || v.n || ' needs checking')::boolean END
        /*upsert*/
        RETURNING id, (xmax = 0) AS inserted
        )
        SELECT coalesce(array_agg(id), '{{}}'), count(*) FILTER (WHERE inserted) FROM written
    """
    upsert = f"ON CONFLICT (external_id) DO UPDATE SET {set_sql}, updated_at = now() WHERE {differs}"
    params = {"ws": PYTHON_WHITESPACE}
    with connection.cursor() as cursor:
        # All new (the usual first import) takes a plain INSERT, cheaper than ON CONFLICT's speculative insertion.
        # A file of known accounts says so in its first rows; only those are probed (probing all 200k took 5% of
        # the import), and a known account further down fails the plain INSERT, which then runs as an upsert.
        cursor.execute(
            "SELECT EXISTS (SELECT FROM (SELECT * FROM _import_raw ORDER BY n LIMIT 1000) r"
            f" JOIN accounts_account a ON a.external_id = {values['external_id']})",
            params,
        )
        known_first = cursor.fetchone()[0]
        try:
            with transaction.atomic():
                cursor.execute(insert.replace("/*upsert*/", upsert if known_first else ""), params)
        except IntegrityError as error:
            if known_first or not isinstance(error.__cause__, psycopg.errors.UniqueViolation):
                raise
            # A known account after the first rows (or an external_id twice in the file, which the upsert refuses).
            cursor.execute(insert.replace("/*upsert*/", upsert), params)
        changed_ids, created = cursor.fetchone()
    return changed_ids, created, len(changed_ids) - created


# ------------------------------------------------------------------------------------------------ checking in SQL
def _lower_ascii(expression: str) -> str:
    return f"translate({expression}, '{UPPER}', '{LOWER}')"


def _clean_sql(layout: Layout) -> str:
    """One pass over _import_raw into _import_clean: each row's typed values and whether SQL vouches for them
    (ok). A row is ok only where the result is certainly what _row_values gives; others are checked in Python."""
    present = layout.present

    def cell(key: str) -> str:
        return f"coalesce(c{layout.keys[key]}, '')" if key in layout.keys else "''"

    def trimmed(expression: str) -> str:
        return f"btrim({expression}, %(ws)s)"

    first = [
        "n",
        "coalesce(line, n + 1) AS line",
        f"{trimmed(cell('external_id'))} AS external_id",
        f"{trimmed(cell('name'))} AS name",
    ]
    second = ["n", "line", "external_id", "name"]
    checks = ["char_length(external_id) BETWEEN 1 AND 64", "char_length(name) BETWEEN 1 AND 200"]
    final = ["n", "line", "external_id", "name"]
    for column, size in TEXT_SIZES.items():
        if column in present:
            first.append(f"{trimmed(cell(column))} AS {column}")
            second.append(column)
            checks.append(f"char_length({column}) <= {size}")
            final.append(column)
    if "country" in present:  # ASCII letters only: str.upper() and upper() differ beyond
        first.append(f"{trimmed(cell('country'))} AS country")
        second.append(
            "CASE WHEN country = '' THEN 'US' WHEN country ~ '^[A-Za-z]{1,2}$' THEN "
            f"translate(country, '{LOWER}', '{UPPER}') END AS country"
        )
        checks.append("country IS NOT NULL")
        final.append("country")
    for column in CHOICES:
        if column in present:
            first.append(f"{trimmed(cell(column))} AS {column}")
            lookup = sorted(_CHOICE_LOOKUP[column].items())
            cases = " ".join(f"WHEN '{text}' THEN '{stored}'" for text, stored in lookup)
            second.append(
                f"CASE WHEN {column} = '' THEN '{DEFAULTS[column]}' "
                f"WHEN octet_length({column}) = char_length({column}) "
                f"THEN CASE {_lower_ascii(column)} {cases} END END AS {column}"
            )
            checks.append(f"{column} IS NOT NULL")
            final.append(column)
    if "products" in present:
        first.append(
            f"ARRAY(SELECT btrim(item, %(ws)s) FROM unnest(string_to_array(replace({cell('products')}, "
            "'|', ';'), ';')) item) AS products"
        )
        second.append("products")
        checks.append("NOT EXISTS (SELECT FROM unnest(products) item WHERE char_length(item) > 64)")
        final.append("ARRAY(SELECT item FROM unnest(products) item WHERE item <> '')::varchar(64)[] AS products")
    if "employees" in present:
        first.append(f"{trimmed(cell('employees'))} AS employees")
        second.append(
            "CASE WHEN employees = '' THEN NULL WHEN employees ~ '^[0-9]{1,9}$' THEN employees::numeric "
            "ELSE -1 END AS employees"
        )
        checks.append("coalesce(employees, 0) >= 0")
        final.append("employees")
    for column in ("annual_revenue", "potential", "workload_hours"):
        if column in present:
            kind = "double precision" if column == "workload_hours" else "numeric"
            first.append(f"replace({trimmed(cell(column))}, ',', '') AS {column}")
            second.append(
                f"CASE WHEN {column} = '' THEN 0 WHEN {column} ~ '{MONEY}' THEN {column}::{kind} "
                f"ELSE -1 END AS {column}"
            )
            checks.append(f"{column} >= 0")
            final.append(column)
    if layout.lon is not None:
        first += [
            f"{trimmed(f'coalesce(c{layout.lon}, {chr(39) * 2})')} AS lon",
            f"{trimmed(f'coalesce(c{layout.lat}, {chr(39) * 2})')} AS lat",
        ]
        for name in ("lon", "lat"):
            second.append(
                f"CASE WHEN {name} = '' THEN NULL WHEN {name} ~ '{COORDINATE}' THEN {name}::float8 "
                f"ELSE 'NaN' END AS {name}"
            )
        checks.append("((lon IS NULL AND lat IS NULL) OR (abs(lon) <= 180 AND abs(lat) <= 90))")
        final.append(
            "CASE WHEN abs(lon) <= 180 AND abs(lat) <= 90 THEN ST_SetSRID(ST_MakePoint(lon, lat), 4326) END AS location"
        )
    elif "location" in present:  # a "location" column without coordinates sets none
        final.append("NULL::geometry(Point, 4326) AS location")
    if "territory_code" in layout.keys:
        first.append(f"{trimmed(cell('territory_code'))} AS territory_code")
        second.append("territory_code")
        final.append("territory_code")
    else:
        final.append("'' AS territory_code")
    return f"""
        CREATE TEMP TABLE _import_clean AS
        SELECT {", ".join(final)}, coalesce({" AND ".join(checks)}, false) AS ok, NULL::bigint AS territory_id
        FROM (SELECT {", ".join(second)} FROM (SELECT {", ".join(first)} FROM _import_raw OFFSET 0) t OFFSET 0) v
    """


# ------------------------------------------------------------------------------------------------ the checked path
@dataclass
class Checked:
    """The outcome of checking every staged row: bad rows counted, the first ones reported by line."""

    errors: int
    report: list[dict]


def csv_check(*, staged: Staged, scenario, progress: Progress) -> Checked:
    """Check every staged row into _import_clean (ok for the rows to write, territory_id set where the file names
    a territory); rows SQL cannot vouch for are parsed by _row_values, which gives the messages."""
    layout = staged.layout
    with connection.cursor() as cursor:
        cursor.execute(_clean_sql(layout), {"ws": PYTHON_WHITESPACE})
        cursor.execute("SELECT count(*) FILTER (WHERE NOT ok) FROM _import_clean")
        flagged = cursor.fetchone()[0]
        if progress:
            progress(45, f"Checked {staged.rows} rows")
        errors: list[tuple[int, int, str, str]] = []  # (n, line, column, message), the first ones by line
        count = 0
        if flagged:
            count += _check_flagged(cursor, layout, errors)
        count += _check_duplicates(cursor, errors)
        if "territory_code" in layout.keys:
            count += _check_territories(cursor, scenario, errors)
    errors.sort()
    report = [
        {"line": line, "column": column, "message": f"{column} {message}"}
        for _n, line, column, message in errors[:MAX_REPORTED_ERRORS]
    ]
    return Checked(errors=count, report=report)


def _check_flagged(cursor, layout: Layout, errors: list) -> int:
    """Rows SQL did not vouch for, parsed by _row_values: valid ones are written back to _import_clean, the others
    are errors with the message Python gives. Returns the number of bad rows."""
    present = layout.present
    keys = [key for key in layout.keys if key in COLUMNS]
    cells = [f"r.c{layout.keys[key]}" for key in keys]
    coordinates = [f"r.c{layout.lon}", f"r.c{layout.lat}"] if layout.lon is not None else []
    columns = ["external_id", "name", *[c for c in COLUMNS if c in present and c not in {"external_id", "name"}]]
    # Loose types: a value only the final INSERT refuses (as before) must not fail here, on a row that may be a
    # duplicate that is never written.
    loose = {"integer": "numeric", "varchar(64)[]": "text[]"}
    types = {c: loose.get(COLUMNS[c], "text" if COLUMNS[c].startswith("varchar(") else COLUMNS[c]) for c in columns}
    cursor.execute(f"CREATE TEMP TABLE _import_fixed (n bigint, {', '.join(f'{c} {types[c]}' for c in columns)})")
    bad = 0
    with transaction.atomic():
        flagged = connection.connection.cursor(name="import_flagged")
        flagged.execute(f"""
            SELECT c.n, c.line{"".join(f", {cell}" for cell in cells + coordinates)}
            FROM _import_raw r JOIN _import_clean c ON c.n = r.n WHERE NOT c.ok ORDER BY c.n
        """)
        while batch := flagged.fetchmany(FLAGGED_BATCH_ROWS):
            fixed = []
            for n, line, *values in batch:
                raw = dict(zip(keys, values[: len(keys)], strict=True))
                try:
                    location = (
                        csv_location(layout.lon_name, layout.lat_name, *values[len(keys) :]) if coordinates else None
                    )
                    row = _row_values(raw, present, location)
                    fixed.append([n, *[row.get(column) for column in columns]])
                except RowError as error:
                    bad += 1
                    if len(errors) < MAX_REPORTED_ERRORS:
                        errors.append((n, line, error.column, error.message))
            if fixed:
                with cursor.copy(f"COPY _import_fixed (n, {', '.join(columns)}) FROM STDIN") as copy:
                    for row in fixed:
                        copy.write_row(row)
        flagged.close()
        cursor.execute(f"""
            UPDATE _import_clean c SET ok = true, {", ".join(f"{column} = f.{column}" for column in columns)}
            FROM _import_fixed f WHERE c.n = f.n
        """)
    return bad


def _check_duplicates(cursor, errors: list) -> int:
    """A second row with the same external_id is an error naming the first one's line; the first is kept."""
    cursor.execute("SELECT EXISTS (SELECT FROM _import_clean WHERE ok GROUP BY external_id HAVING count(*) > 1)")
    if not cursor.fetchone()[0]:
        return 0
    cursor.execute("""
        WITH firsts AS (
            SELECT DISTINCT ON (external_id) external_id, n, line FROM _import_clean WHERE ok ORDER BY external_id, n
        )
        UPDATE _import_clean c SET ok = false FROM firsts f
        WHERE c.ok AND c.external_id = f.external_id AND c.n > f.n
        RETURNING c.n, c.line, c.external_id, f.line
    """)
    rows = cursor.fetchall()
    errors += [
        (n, line, "external_id", f"{external_id!r} appears again; first at line {first}")
        for n, line, external_id, first in sorted(rows)[:MAX_REPORTED_ERRORS]
    ]
    return len(rows)


def _check_territories(cursor, scenario, errors: list) -> int:
    """territory_code names a territory of the scenario the import assigns into."""
    if scenario is None:
        cursor.execute("""
            UPDATE _import_clean SET ok = false WHERE ok AND territory_code <> ''
            RETURNING n, line, territory_code
        """)
        rows = cursor.fetchall()
        errors += [
            (n, line, "territory_code", "needs a scenario to assign into")
            for n, line, _code in sorted(rows)[:MAX_REPORTED_ERRORS]
        ]
        return len(rows)
    cursor.execute(
        """
        UPDATE _import_clean c SET territory_id = t.id FROM territories_territory t
        WHERE c.ok AND c.territory_code <> '' AND t.scenario_id = %s AND t.code = c.territory_code
    """,
        [scenario.pk],
    )
    cursor.execute("""
        UPDATE _import_clean SET ok = false WHERE ok AND territory_code <> '' AND territory_id IS NULL
        RETURNING n, line, territory_code
    """)
    rows = cursor.fetchall()
    errors += [
        (n, line, "territory_code", f"no territory {code!r} in scenario {scenario.name!r}")
        for n, line, code in sorted(rows)[:MAX_REPORTED_ERRORS]
    ]
    return len(rows)


def csv_write_checked(*, layout: Layout, scenario) -> tuple[list[int], int, int, int]:
    """Upsert the ok rows of _import_clean by external id and record the territories the file gives; returns
    (changed account ids, created, updated, assigned). Runs inside the caller's transaction."""

    present = layout.present
    columns = [c for c in COLUMNS if c in present or c in {"external_id", "name"}]
    select = ", ".join(f"c.{column}" if column in columns else default_sql(column) for column in COLUMNS)
    updates = [column for column in columns if column != "external_id"]
    set_sql = ", ".join(f"{column} = EXCLUDED.{column}" for column in updates)
    differs = " OR ".join(f"accounts_account.{column} IS DISTINCT FROM EXCLUDED.{column}" for column in updates)
    with connection.cursor() as cursor:
        cursor.execute(f"""
            INSERT INTO accounts_account ({", ".join(COLUMNS)}, created_at, updated_at)
            SELECT {select}, now(), now() FROM _import_clean c WHERE c.ok
            ON CONFLICT (external_id) DO UPDATE SET {set_sql}, updated_at = now() WHERE {differs}
            RETURNING id, (xmax = 0)
        """)
        rows = cursor.fetchall()
        assigned = 0
        if scenario is not None:
            cursor.execute(
                "CREATE TEMP TABLE _import_assign AS SELECT external_id, territory_id FROM _import_clean "
                "WHERE ok AND territory_id IS NOT NULL"
            )
            assigned = assign_apply(cursor, scenario) if cursor.rowcount else 0
    created = sum(1 for _pk, inserted in rows if inserted)
    return [pk for pk, _ in rows], created, len(rows) - created, assigned


def assign_apply(cursor, scenario) -> int:
    """Make the pairs in _import_assign (external_id, territory_id) the accounts' current territories in the
    scenario: other current assignments of those accounts end, new ones start with source "import"."""
    cursor.execute(
        """
        UPDATE accounts_accountassignment c SET valid_to = now()
        FROM _import_assign i JOIN accounts_account a ON a.external_id = i.external_id
        WHERE c.account_id = a.id AND c.scenario_id = %s AND c.valid_to IS NULL
          AND (c.territory_id <> i.territory_id OR c.source <> 'import')
        """,
        [scenario.pk],
    )
    cursor.execute(
        """
        INSERT INTO accounts_accountassignment (scenario_id, account_id, territory_id, valid_from, source, reason)
        SELECT %s, a.id, i.territory_id, now(), 'import', 'Territory given in the import file'
        FROM _import_assign i JOIN accounts_account a ON a.external_id = i.external_id
        WHERE NOT EXISTS (SELECT 1 FROM accounts_accountassignment c WHERE c.scenario_id = %s
                          AND c.account_id = a.id AND c.territory_id = i.territory_id AND c.valid_to IS NULL)
        """,
        [scenario.pk, scenario.pk],
    )
    return cursor.rowcount
