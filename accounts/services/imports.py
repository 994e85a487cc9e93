"""Account import from CSV or GeoJSON: per-row report, all-or-nothing unless bad rows are skipped, upsert by
external id through COPY into a temporary table and one INSERT ... ON CONFLICT."""

import csv
import json
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import connection, transaction

from accounts.models import Account
from territories.models import Scenario, Territory

Progress = Callable[[float, str], None] | None
PROGRESS_EVERY = 10_000
MAX_REPORTED_ERRORS = 1_000

# column -> (sql type, parser name); the order is the temporary table's.
COLUMNS = {
    "external_id": "varchar(64)", "name": "varchar(200)", "street": "varchar(200)", "city": "varchar(100)",
    "state": "varchar(100)", "postal_code": "varchar(20)", "country": "varchar(2)", "location": "geometry(Point,4326)",
    "industry": "varchar(64)", "segment": "varchar(16)", "customer_type": "varchar(3)", "products": "varchar(64)[]",
    "employees": "integer", "annual_revenue": "numeric(14,2)", "potential": "numeric(14,2)", "tier": "varchar(1)",
    "status": "varchar(16)", "workload_hours": "double precision",
}
DEFAULTS = {
    "street": "", "city": "", "state": "", "postal_code": "", "country": "US", "location": None, "industry": "",
    "segment": "", "customer_type": "b2b", "products": [], "employees": None, "annual_revenue": Decimal(0),
    "potential": Decimal(0), "tier": "C", "status": "customer", "workload_hours": 0.0,
}
LONGITUDE_NAMES = ("longitude", "lon", "lng", "x")
LATITUDE_NAMES = ("latitude", "lat", "y")
CHOICES = {
    "segment": Account.Segment, "customer_type": Account.CustomerType, "tier": Account.Tier,
    "status": Account.Status,
}


class RowError(Exception):
    def __init__(self, column: str, message: str):
        super().__init__(message)
        self.column, self.message = column, message


def _text(column: str, value, max_length: int, required: bool = False) -> str:
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise RowError(column, "is required")
    if len(text) > max_length:
        raise RowError(column, f"is longer than {max_length} characters")
    return text


# column -> {stored value or label, lower-cased: stored value}; built once (enum .choices is rebuilt on every access)
_CHOICE_LOOKUP = {
    column: {**{str(label).lower(): stored for stored, label in choices.choices},
             **{stored.lower(): stored for stored in choices.values}}
    for column, choices in CHOICES.items()
}


def _choice(column: str, value) -> str:
    text = "" if value is None else str(value).strip()
    if not text:
        return DEFAULTS[column]
    stored = _CHOICE_LOOKUP[column].get(text.lower())
    if stored is None:
        raise RowError(column, f"{text!r} is not one of {', '.join(CHOICES[column].values)}")
    return stored


def _decimal(column: str, value) -> Decimal | None:
    text = "" if value is None else str(value).strip().replace(",", "")
    if not text:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise RowError(column, f"{text!r} is not a number") from None
    if not number.is_finite() or abs(number) >= Decimal("1e12"):
        raise RowError(column, f"{text!r} is out of range")
    if number < 0:
        raise RowError(column, "cannot be negative")
    return number.quantize(Decimal("0.01"))


def _coordinate(column: str, value, limit: float) -> float | None:
    text = "" if value is None else str(value).strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        raise RowError(column, f"{text!r} is not a number") from None
    if not -limit <= number <= limit:
        raise RowError(column, f"{number:g} is outside -{limit:g}..{limit:g}")
    return number


def _row_values(raw: dict, present: set[str], location: tuple[float, float] | None) -> dict:
    """Parse one input row into typed values; raises RowError naming the column."""
    values = {
        "external_id": _text("external_id", raw.get("external_id"), 64, required=True),
        "name": _text("name", raw.get("name"), 200, required=True),
    }
    for column, size in (("street", 200), ("city", 100), ("state", 100), ("postal_code", 20), ("industry", 64)):
        if column in present:
            values[column] = _text(column, raw.get(column), size)
    if "country" in present:
        country = _text("country", raw.get("country"), 2).upper() or "US"
        values["country"] = country
    for column in CHOICES:
        if column in present:
            values[column] = _choice(column, raw.get(column))
    if "products" in present:
        products = raw.get("products")
        items = products if isinstance(products, list) else str(products or "").replace("|", ";").split(";")
        values["products"] = [_text("products", item, 64) for item in items if str(item).strip()]
    if "employees" in present:
        text = str(raw.get("employees") or "").strip()
        if text:
            try:
                values["employees"] = int(float(text))
            except ValueError:
                raise RowError("employees", f"{text!r} is not a whole number") from None
            if values["employees"] < 0:
                raise RowError("employees", "cannot be negative")
        else:
            values["employees"] = None
    for column in ("annual_revenue", "potential"):
        if column in present:
            values[column] = _decimal(column, raw.get(column)) or Decimal(0)
    if "workload_hours" in present:
        number = _decimal("workload_hours", raw.get("workload_hours"))
        values["workload_hours"] = float(number) if number is not None else 0.0
    if location is not None or "location" in present:
        values["location"] = f"SRID=4326;POINT({location[0]!r} {location[1]!r})" if location else None
    return values


def _csv_rows(path: Path) -> Iterator[tuple[int, dict, tuple | None, list[RowError]]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames:
            raise ValidationError("The CSV file is empty.")
        names = {name.strip().lower(): name for name in reader.fieldnames if name}
        lon_name = next((names[n] for n in LONGITUDE_NAMES if n in names), None)
        lat_name = next((names[n] for n in LATITUDE_NAMES if n in names), None)
        keys = [(name, name.strip().lower()) for name in reader.fieldnames if name]  # normalised once, not per row
        for raw in reader:
            row = {key: raw[name] for name, key in keys}
            errors, location = [], None
            if lon_name and lat_name:
                try:
                    lon = _coordinate(lon_name, raw.get(lon_name), 180)
                    lat = _coordinate(lat_name, raw.get(lat_name), 90)
                    if (lon is None) != (lat is None):
                        raise RowError(lon_name if lon is None else lat_name, "is empty while the other coordinate "
                                       "is given")
                    location = (lon, lat) if lon is not None else None
                except RowError as error:
                    errors.append(error)
            yield reader.line_num, row, location, errors


def _geojson_rows(path: Path) -> Iterator[tuple[int, dict, tuple | None, list[RowError]]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError(f"The file is not valid JSON: {exc}") from None
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list):
        raise ValidationError("The GeoJSON must be a FeatureCollection.")
    for index, feature in enumerate(features, start=1):
        errors, location = [], None
        # A feature, its properties and its geometry are objects; anything else is a bad row, not a crash.
        feature = feature if isinstance(feature, dict) else {}
        properties = feature.get("properties")
        properties = {str(k).lower(): v for k, v in properties.items()} if isinstance(properties, dict) else {}
        geometry = feature.get("geometry")
        if geometry is not None and not isinstance(geometry, dict):
            errors.append(RowError("geometry", "must be a GeoJSON Point object"))
        elif geometry:
            coordinates = geometry.get("coordinates")
            if geometry.get("type") != "Point" or not isinstance(coordinates, list) or len(coordinates) < 2:
                errors.append(RowError("geometry", "must be a Point with longitude and latitude"))
            else:
                try:
                    location = (_coordinate("geometry", coordinates[0], 180), _coordinate("geometry", coordinates[1],
                                                                                          90))
                except RowError as error:
                    errors.append(error)
        yield index, properties, location, errors


def _readable(rows: Iterator) -> Iterator:
    """Turn decoding and CSV syntax errors, raised while rows are read, into a message for whoever chose the file."""
    try:
        yield from rows
    except UnicodeDecodeError:
        raise ValidationError("The file is not UTF-8 text; save it as CSV UTF-8 (or GeoJSON in UTF-8).") from None
    except csv.Error as exc:
        raise ValidationError(f"The file is not valid CSV: {exc}.") from None


def account_import(
    *, path: str, file_format: str | None = None, skip_bad_rows: bool = False, scenario: Scenario | None = None,
    reallocate: bool = True, progress: Progress = None,
) -> dict:
    """Import accounts; the report lists every bad row as (line, column, message).

    Rows are matched to existing accounts by external_id and updated (only the columns the file has). A
    territory_code column assigns the account in `scenario` (source "import"). After the import, changed
    accounts are re-allocated incrementally in the active scenario when `reallocate` is true.
    """
    file_path = Path(path)
    file_format = (file_format or file_path.suffix.lstrip(".")).lower()
    if file_format not in {"csv", "geojson", "json"}:
        raise ValidationError("Give a .csv or .geojson file.")
    reader = _csv_rows if file_format == "csv" else _geojson_rows
    with open(file_path, "rb") as handle:
        if b"\x00" in handle.read(65536):  # UTF-16, a spreadsheet or an archive: not UTF-8 text
            raise ValidationError("The file is not UTF-8 text (it holds NUL bytes); save it as CSV UTF-8, or give "
                                  "a GeoJSON file in UTF-8.")
    codes = {}
    if scenario is not None:
        if scenario.status == Scenario.Status.ARCHIVED:
            raise ValidationError(f'Scenario "{scenario.name}" is archived; clone it to import assignments.')
        codes = dict(Territory.objects.filter(scenario=scenario).values_list("code", "pk"))

    errors, valid, seen, present, lines = [], [], {}, None, 0
    for line, raw, location, row_errors in _readable(reader(file_path)):
        lines += 1
        if present is None:
            present = (set(raw) & set(COLUMNS)) | ({"location"} if location is not None else set())
            if file_format == "csv":
                with open(file_path, encoding="utf-8-sig") as handle:
                    header = {name.strip().lower() for name in next(csv.reader(handle))}
                present |= {"location"} if header & set(LONGITUDE_NAMES) and header & set(LATITUDE_NAMES) else set()
        try:
            if row_errors:
                raise row_errors[0]
            values = _row_values(raw, present, location)
            external_id = values["external_id"]
            if external_id in seen:
                raise RowError("external_id", f"{external_id!r} appears again; first at line {seen[external_id]}")
            seen[external_id] = line
            territory_code = str(raw.get("territory_code") or "").strip()
            if territory_code and scenario is None:
                raise RowError("territory_code", "needs a scenario to assign into")
            if territory_code and territory_code not in codes:
                raise RowError("territory_code", f"no territory {territory_code!r} in scenario {scenario.name!r}")
            valid.append((values, codes.get(territory_code)))
        except RowError as error:
            if len(errors) < MAX_REPORTED_ERRORS:
                errors.append({"line": line, "column": error.column, "message": f"{error.column} {error.message}"})
            else:
                errors.append(None)
        if progress and lines % PROGRESS_EVERY == 0:
            progress(min(50.0, lines / 20_000), f"Checked {lines} rows")
    bad_rows = len(errors)
    report = [error for error in errors if error is not None]
    summary = {"rows": lines, "errors": bad_rows, "report": report, "created": 0, "updated": 0,
               "unchanged": 0, "skipped": 0, "committed": False}
    if bad_rows and not skip_bad_rows:
        summary["skipped"] = lines
        summary["message"] = (f"Import rejected: {bad_rows} of {lines} rows have errors; nothing was saved. "
                              "Fix them, or import again skipping bad rows.")
        return summary
    columns = ["external_id", "name", *[c for c in COLUMNS if c in (present or set()) and c not in
                                       {"external_id", "name"}]]
    with transaction.atomic():
        if progress:
            progress(55, "Writing accounts")
        changed_ids, created, updated = _upsert(columns, valid)
        assigned = _assign(scenario, valid) if scenario is not None else 0
    summary.update(committed=True, created=created, updated=updated, unchanged=len(valid) - created - updated,
                   skipped=bad_rows, assigned=assigned)
    summary["message"] = (f"{created} accounts created, {updated} updated, {summary['unchanged']} unchanged, "
                          f"{bad_rows} skipped.")
    if reallocate and changed_ids and not assigned:  # assignments given in the file are not second-guessed
        summary["reallocation"] = _reallocate(changed_ids, progress)
    _after_write(changed_ids)
    return summary


def _after_write(changed_ids: list[int]) -> None:
    if changed_ids:
        from performance.services.kpis import kpi_refresh_for_accounts

        kpi_refresh_for_accounts(account_ids=changed_ids, reason="accounts imported")


def _item_location(item: dict) -> tuple[tuple[float, float] | None, bool]:
    """An item's location from a GeoJSON Point in `location` or from longitude/latitude; (point, given)."""
    if "location" in item:
        geometry = item["location"]
        if geometry is None:
            return None, True
        if not isinstance(geometry, dict) or geometry.get("type") != "Point":
            raise RowError("location", "must be a GeoJSON Point, e.g. {\"type\": \"Point\", \"coordinates\": "
                                       "[-97.74, 30.27]}, or null")
        coordinates = geometry.get("coordinates")
        if not isinstance(coordinates, list) or len(coordinates) < 2:
            raise RowError("location", "must have coordinates [longitude, latitude]")
        return (_coordinate("location", coordinates[0], 180), _coordinate("location", coordinates[1], 90)), True
    if "longitude" in item or "latitude" in item:
        lon = _coordinate("longitude", item.get("longitude"), 180)
        lat = _coordinate("latitude", item.get("latitude"), 90)
        if (lon is None) != (lat is None):
            raise RowError("longitude" if lon is None else "latitude", "is empty while the other coordinate is given")
        return ((lon, lat) if lon is not None else None), True
    return None, False


def account_upsert(*, items: list, skip_invalid: bool = False, reallocate: bool = True) -> dict:
    """Create or update accounts given as objects (the bulk API), by external id, with the parsing and the write
    of the file import; each item updates only the fields it has. The report lists (index, field, message) per bad
    item; with any, nothing is saved unless `skip_invalid`. Changed accounts are re-allocated like an import's."""
    errors, groups, seen = [], {}, {}
    for index, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise RowError("item", "must be an object with external_id and name")
            item = {str(key).lower(): value for key, value in item.items()}
            location, location_given = _item_location(item)
            present = (set(item) & set(COLUMNS)) | ({"location"} if location_given else set())
            values = _row_values(item, present, location)
            if values["external_id"] in seen:
                raise RowError("external_id", f"{values['external_id']!r} appears again; first at item "
                                              f"{seen[values['external_id']]}")
            seen[values["external_id"]] = index
            columns = ("external_id", "name", *[c for c in COLUMNS if c in values and c not in {"external_id", "name"}])
            groups.setdefault(columns, []).append((values, None))
        except RowError as error:
            errors.append({"index": index, "field": error.column, "message": f"{error.column} {error.message}"})
    valid = sum(len(group) for group in groups.values())
    summary = {"items": len(items), "errors": len(errors), "report": errors[:MAX_REPORTED_ERRORS], "created": 0,
               "updated": 0, "unchanged": 0, "skipped": 0, "committed": False}
    if errors and not skip_invalid:
        summary.update(skipped=len(items), message=f"Rejected: {len(errors)} of {len(items)} items have errors; "
                                                   "nothing was saved. Fix them, or send again with skip_invalid.")
        return summary
    changed_ids, created, updated = [], 0, 0
    with transaction.atomic():
        for columns, group in groups.items():  # items with the same fields are written in one statement
            group_changed, group_created, group_updated = _upsert(list(columns), group)
            changed_ids += group_changed
            created, updated = created + group_created, updated + group_updated
    summary.update(committed=True, created=created, updated=updated, unchanged=valid - created - updated,
                   skipped=len(errors),
                   message=f"{created} accounts created, {updated} updated, {valid - created - updated} unchanged, "
                           f"{len(errors)} skipped.")
    if reallocate and changed_ids:
        summary["reallocation"] = _reallocate(changed_ids, None)
    _after_write(changed_ids)
    return summary


def _upsert(columns: list[str], valid: list[tuple[dict, int | None]]) -> tuple[list[int], int, int]:
    definitions = ", ".join(f"{column} {COLUMNS[column]}" for column in columns)
    insert_columns = list(COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS _import_account")
        cursor.execute(f"CREATE TEMP TABLE _import_account ({definitions}) ON COMMIT DROP")
        with cursor.copy(f"COPY _import_account ({', '.join(columns)}) FROM STDIN") as copy:
            for values, _territory in valid:
                copy.write_row([values.get(column) for column in columns])
        select = ", ".join(
            f"i.{column}" if column in columns else _default_sql(column) for column in insert_columns
        )
        updates = [column for column in columns if column != "external_id"]
        set_sql = ", ".join(f"{column} = EXCLUDED.{column}" for column in updates)
        differs = " OR ".join(f"accounts_account.{column} IS DISTINCT FROM EXCLUDED.{column}" for column in updates)
        cursor.execute(
            f"""
            WITH written AS (
                INSERT INTO accounts_account ({", ".join(insert_columns)}, created_at, updated_at)
                SELECT {select}, now(), now() FROM _import_account i
                ON CONFLICT (external_id) DO UPDATE SET {set_sql}, updated_at = now() WHERE {differs}
                RETURNING id, (xmax = 0) AS inserted
            )
            SELECT id, inserted FROM written
            """
        )
        rows = cursor.fetchall()
        cursor.execute("DROP TABLE _import_account")
    created = sum(1 for _pk, inserted in rows if inserted)
    return [pk for pk, _ in rows], created, len(rows) - created


def _default_sql(column: str) -> str:
    value = DEFAULTS[column]
    if value is None:
        return "NULL"
    if column == "products":
        return "'{}'::varchar[]"
    if isinstance(value, str):
        return f"'{value}'"
    return str(value)


def _assign(scenario: Scenario, valid: list[tuple[dict, int | None]]) -> int:
    """Assignments given in the file (territory_code), recorded with source "import"; set-based."""
    pairs = [(values["external_id"], territory_id) for values, territory_id in valid if territory_id]
    if not pairs:
        return 0
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS _import_assign")
        cursor.execute("CREATE TEMP TABLE _import_assign (external_id varchar(64), territory_id bigint) ON COMMIT DROP")
        with cursor.copy("COPY _import_assign FROM STDIN") as copy:
            for pair in pairs:
                copy.write_row(pair)
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


def _reallocate(account_ids: list[int], progress: Progress) -> dict | None:
    """Run the rules again for the accounts the import changed, in the active scenario."""
    from accounts.services.allocation import allocation_run
    from territories.selectors import scenario_active

    active = scenario_active()
    if active is None:
        return None
    if progress:
        progress(80, "Re-allocating changed accounts")
    run = allocation_run(scenario=active, account_ids=account_ids)
    return {"run_id": run.pk, "scenario_id": active.pk, "changed": run.summary.get("changed", 0)}
