"""Account import from CSV or GeoJSON: per-row report, all-or-nothing unless bad rows are skipped, upsert by
external id through COPY into a temporary table and one INSERT ... ON CONFLICT."""

import csv
import json
from collections.abc import Iterator
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction

from accounts.services import import_csv
from accounts.services.import_rows import (
    COLUMNS,
    MAX_REPORTED_ERRORS,
    PROGRESS_EVERY,
    Progress,
    RowError,
    _coordinate,
    _row_values,
    default_sql,
)
from territories.models import Scenario, Territory


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
                    location = (
                        _coordinate("geometry", coordinates[0], 180),
                        _coordinate("geometry", coordinates[1], 90),
                    )
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
    *,
    path: str,
    file_format: str | None = None,
    skip_bad_rows: bool = False,
    scenario: Scenario | None = None,
    reallocate: bool = True,
    progress: Progress = None,
) -> dict:
    """Import accounts; the report lists every bad row as (line, column, message).

    Rows are matched to existing accounts by external_id and updated (only the columns the file has). A
    territory_code column assigns the account in `scenario` (source "import"). After the import, changed
    accounts are re-allocated incrementally in the active scenario when `reallocate` is true. CSV files are
    checked and written set-based (import_csv); GeoJSON features are parsed here, one by one.
    """
    file_path = Path(path)
    file_format = (file_format or file_path.suffix.lstrip(".")).lower()
    if file_format not in {"csv", "geojson", "json"}:
        raise ValidationError("Give a .csv or .geojson file.")
    with open(file_path, "rb") as handle:
        if b"\x00" in handle.read(65536):  # UTF-16, a spreadsheet or an archive: not UTF-8 text
            raise ValidationError(
                "The file is not UTF-8 text (it holds NUL bytes); save it as CSV UTF-8, or give "
                "a GeoJSON file in UTF-8."
            )
    if scenario is not None and scenario.status == Scenario.Status.ARCHIVED:
        raise ValidationError(f'Scenario "{scenario.name}" is archived; clone it to import assignments.')
    if file_format == "csv":
        return _csv_import(
            path=file_path, skip_bad_rows=skip_bad_rows, scenario=scenario, reallocate=reallocate, progress=progress
        )
    return _geojson_import(
        path=file_path, skip_bad_rows=skip_bad_rows, scenario=scenario, reallocate=reallocate, progress=progress
    )


def _csv_import(
    *, path: Path, skip_bad_rows: bool, scenario: Scenario | None, reallocate: bool, progress: Progress
) -> dict:
    """Stage the file; write it in one statement when every row passes, else check each row and report."""
    try:
        staged = import_csv.csv_stage(path=path, progress=progress)
        if progress:
            progress(50, f"Read {staged.rows} rows")
            progress(55, "Writing accounts")
        written = None
        if import_csv.fast_path_fits(staged):
            try:
                with transaction.atomic():
                    written = (*import_csv.csv_write_fast(staged), 0)
            except DatabaseError:
                pass  # a row to report, or a repeated external_id: the checked path says which
        if written is None:
            checked = import_csv.csv_check(staged=staged, scenario=scenario, progress=progress)
            summary = _checked_summary(
                rows=staged.rows, bad_rows=checked.errors, report=checked.report, skip_bad_rows=skip_bad_rows
            )
            if not summary["committed"]:
                return summary
            with transaction.atomic():
                written = import_csv.csv_write_checked(layout=staged.layout, scenario=scenario)
        else:
            summary = _checked_summary(rows=staged.rows, bad_rows=0, report=[], skip_bad_rows=skip_bad_rows)
    finally:
        import_csv.staging_drop()
    changed_ids, created, updated, assigned = written
    return _written_summary(
        summary,
        valid=staged.rows - summary["errors"],
        changed_ids=changed_ids,
        created=created,
        updated=updated,
        assigned=assigned,
        reallocate=reallocate,
        progress=progress,
    )


def _geojson_import(
    *, path: Path, skip_bad_rows: bool, scenario: Scenario | None, reallocate: bool, progress: Progress
) -> dict:
    codes = dict(Territory.objects.filter(scenario=scenario).values_list("code", "pk")) if scenario else {}
    errors, valid, seen, present, lines = [], [], {}, None, 0
    for line, raw, location, row_errors in _readable(_geojson_rows(path)):
        lines += 1
        if present is None:
            present = (set(raw) & set(COLUMNS)) | ({"location"} if location is not None else set())
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
    summary = _checked_summary(
        rows=lines, bad_rows=len(errors), report=[error for error in errors if error], skip_bad_rows=skip_bad_rows
    )
    if not summary["committed"]:
        return summary
    columns = [
        "external_id",
        "name",
        *[c for c in COLUMNS if c in (present or set()) and c not in {"external_id", "name"}],
    ]
    with transaction.atomic():
        if progress:
            progress(55, "Writing accounts")
        changed_ids, created, updated = _upsert(columns, valid)
        assigned = _assign(scenario, valid) if scenario is not None else 0
    return _written_summary(
        summary,
        valid=len(valid),
        changed_ids=changed_ids,
        created=created,
        updated=updated,
        assigned=assigned,
        reallocate=reallocate,
        progress=progress,
    )


def _checked_summary(*, rows: int, bad_rows: int, report: list[dict], skip_bad_rows: bool) -> dict:
    """The summary after checking; committed stays False (and the message says why) when bad rows reject the file."""
    summary = {
        "rows": rows,
        "errors": bad_rows,
        "report": report,
        "created": 0,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "committed": not bad_rows or skip_bad_rows,
    }
    if not summary["committed"]:
        summary["skipped"] = rows
        summary["message"] = (
            f"Import rejected: {bad_rows} of {rows} rows have errors; nothing was saved. "
            "Fix them, or import again skipping bad rows."
        )
    return summary


def _written_summary(
    summary: dict,
    *,
    valid: int,
    changed_ids: list[int],
    created: int,
    updated: int,
    assigned: int,
    reallocate: bool,
    progress: Progress,
) -> dict:
    """The summary after writing; then the changed accounts are re-allocated and their KPIs refreshed."""
    bad_rows = summary["errors"]
    summary.update(
        committed=True,
        created=created,
        updated=updated,
        unchanged=valid - created - updated,
        skipped=bad_rows,
        assigned=assigned,
    )
    summary["message"] = (
        f"{created} accounts created, {updated} updated, {summary['unchanged']} unchanged, {bad_rows} skipped."
    )
    if reallocate and changed_ids and not assigned:  # assignments given in the file are not second-guessed
        summary["reallocation"] = _reallocate(changed_ids, progress)
    # KPIs are sums over territories' accounts. Accounts that are all new and placed by no assignment column are in
    # no territory yet (a re-allocation that places them queues its own refresh), so there is nothing to refresh.
    if updated or assigned:
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
            raise RowError(
                "location", 'must be a GeoJSON Point, e.g. {"type": "Point", "coordinates": [-97.74, 30.27]}, or null'
            )
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
                raise RowError(
                    "external_id",
                    f"{values['external_id']!r} appears again; first at item {seen[values['external_id']]}",
                )
            seen[values["external_id"]] = index
            columns = ("external_id", "name", *[c for c in COLUMNS if c in values and c not in {"external_id", "name"}])
            groups.setdefault(columns, []).append((values, None))
        except RowError as error:
            errors.append({"index": index, "field": error.column, "message": f"{error.column} {error.message}"})
    valid = sum(len(group) for group in groups.values())
    summary = {
        "items": len(items),
        "errors": len(errors),
        "report": errors[:MAX_REPORTED_ERRORS],
        "created": 0,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "committed": False,
    }
    if errors and not skip_invalid:
        summary.update(
            skipped=len(items),
            message=f"Rejected: {len(errors)} of {len(items)} items have errors; "
            "nothing was saved. Fix them, or send again with skip_invalid.",
        )
        return summary
    changed_ids, created, updated = [], 0, 0
    with transaction.atomic():
        for columns, group in groups.items():  # items with the same fields are written in one statement
            group_changed, group_created, group_updated = _upsert(list(columns), group)
            changed_ids += group_changed
            created, updated = created + group_created, updated + group_updated
    summary.update(
        committed=True,
        created=created,
        updated=updated,
        unchanged=valid - created - updated,
        skipped=len(errors),
        message=f"{created} accounts created, {updated} updated, {valid - created - updated} unchanged, "
        f"{len(errors)} skipped.",
    )
    if reallocate and changed_ids:
        summary["reallocation"] = _reallocate(changed_ids, None)
    if updated:  # new accounts are in no territory until a re-allocation places them (which refreshes KPIs itself)
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
        select = ", ".join(f"i.{column}" if column in columns else default_sql(column) for column in insert_columns)
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
        return import_csv.assign_apply(cursor, scenario)


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
