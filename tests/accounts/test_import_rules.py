"""Property: the set-based CSV import gives what the per-row rules give. The reference here reads the file with
csv.DictReader, applies import_rows._row_values row by row (duplicates, territory codes) and writes the good rows
with the same upsert as the GeoJSON path; both run on the same data in rolled-back transactions, and the
summaries and the resulting accounts must be equal."""

import csv

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Account, AccountAssignment
from accounts.services import imports
from accounts.services.import_rows import COLUMNS, LATITUDE_NAMES, LONGITUDE_NAMES, RowError, _row_values, csv_location
from territories.models import Territory
from tests.factories import AccountFactory, TerritoryFactory

pytestmark = pytest.mark.django_db
RULES = settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def reference_import(*, path: str, skip_bad_rows: bool, scenario) -> dict:
    """The per-row import as it was: every row parsed in Python, then one upsert of the good ones."""
    codes = dict(Territory.objects.filter(scenario=scenario).values_list("code", "pk")) if scenario else {}
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames:
                raise ValidationError("The CSV file is empty.")
            names = {name.strip().lower(): name for name in reader.fieldnames if name}
            lon_name = next((names[n] for n in LONGITUDE_NAMES if n in names), None)
            lat_name = next((names[n] for n in LATITUDE_NAMES if n in names), None)
            present = (set(names) & set(COLUMNS)) | ({"location"} if lon_name and lat_name else set())
            errors, valid, seen, lines = [], [], {}, 0
            for raw in reader:
                lines += 1
                row = {name.strip().lower(): value for name, value in raw.items() if name}
                line = reader.line_num
                try:
                    location = csv_location(lon_name, lat_name, raw.get(lon_name), raw.get(lat_name))
                    values = _row_values(row, present, location)
                    if values["external_id"] in seen:
                        raise RowError(
                            "external_id",
                            f"{values['external_id']!r} appears again; first at line {seen[values['external_id']]}",
                        )
                    seen[values["external_id"]] = line
                    code = str(row.get("territory_code") or "").strip()
                    if code and scenario is None:
                        raise RowError("territory_code", "needs a scenario to assign into")
                    if code and code not in codes:
                        raise RowError("territory_code", f"no territory {code!r} in scenario {scenario.name!r}")
                    valid.append((values, codes.get(code)))
                except RowError as error:
                    errors.append({"line": line, "column": error.column, "message": f"{error.column} {error.message}"})
    except UnicodeDecodeError:
        raise ValidationError("The file is not UTF-8 text; save it as CSV UTF-8 (or GeoJSON in UTF-8).") from None
    except csv.Error as exc:
        raise ValidationError(f"The file is not valid CSV: {exc}.") from None
    summary = imports._checked_summary(
        rows=lines, bad_rows=len(errors), report=errors[:1000], skip_bad_rows=skip_bad_rows
    )
    if not summary["committed"]:
        return summary
    columns = ["external_id", "name", *[c for c in COLUMNS if c in present and c not in {"external_id", "name"}]]
    changed_ids, created, updated = imports._upsert(columns, valid)
    assigned = imports._assign(scenario, valid) if scenario is not None else 0
    return imports._written_summary(
        summary,
        valid=len(valid),
        changed_ids=changed_ids,
        created=created,
        updated=updated,
        assigned=assigned,
        reallocate=False,
        progress=None,
    )


class Rollback(Exception):
    pass


def outcome(function, **options) -> dict:
    """What an import returns or raises, and the accounts and assignments it leaves; then rolled back."""
    result = {}
    try:
        with transaction.atomic():
            try:
                result["summary"] = function(**options)
            except ValidationError as error:
                result["error"] = error.messages
            fields = [f.name for f in Account._meta.fields if f.name not in {"id", "created_at", "updated_at"}]
            result["accounts"] = [
                tuple(
                    value.ewkt if field == "location" and value else value
                    for field, value in zip(fields, (getattr(account, f) for f in fields), strict=True)
                )
                for account in Account.objects.order_by("external_id")
            ]
            result["assignments"] = sorted(
                AccountAssignment.objects.filter(valid_to=None).values_list(
                    "account__external_id", "territory__code", "source"
                )
            )
            raise Rollback
    except Rollback:
        pass
    return result


COLUMN_VALUES = {
    "external_id": ["E0", "E1", "E2", " E5", "", "x" * 65, "KEEP"],
    "name": ["Acme", " Acme\u3000", '"Acme, Inc."', '"Say ""hi"""', "", "Café", "y" * 201],
    "potential": ["10", "1,000.5", "0.125", "", "-1", "abc", "1e3", " 7 ", "+5", ".5", "NaN", "1e12", "\u300010"],
    "employees": ["", "5", "5.0", "-2", "x", "+5", "99999999999", "inf"],
    "longitude": ["-97.7", "", "180.5", "0x10", " 1.5", "-0", "1e-400"],
    "Latitude": ["30.3", "", "95", "3e1", "nan"],
    "tier": ["", "a", "B", "E", " c ", "İ"],
    "segment": ["", "Mid-market", "enterprise", "huge", "SMALL BUSINESS"],
    "country": ["", "us", "DE", "USA", "é"],
    "products": ["", "core;analytics", "a| b |", "z" * 65],
    "workload_hours": ["", "1.5", "0.333", "1e1"],
    "territory_code": ["", "T1", "ZZ", " T1 "],
    "street": ["", "1 Main St", '"Line 1\nLine 2"'],
    "notes": ["", "\\.", 'say "hi"'],
}


@st.composite
def csv_files(draw) -> bytes:
    header = draw(st.lists(st.sampled_from(list(COLUMN_VALUES)), min_size=1, max_size=7, unique=True))
    if draw(st.booleans()):
        header = ["external_id", "name", *[name for name in header if name not in {"external_id", "name"}]]
    lines = [",".join(header)]
    for index in range(draw(st.integers(0, 6))):
        odd = draw(st.sampled_from([*header, None]))  # at most one odd cell, so that it decides the row
        cells = {name: COLUMN_VALUES[name][0] for name in header} | {"external_id": f"E{index}"}
        if odd:
            cells[odd] = draw(st.sampled_from(COLUMN_VALUES[odd]))
        lines.append(",".join(cells[name] for name in header))
        if draw(st.integers(0, 9)) == 0:
            lines.append(draw(st.sampled_from(["", "E9", "E8,Ragged,1,2,3,4,5,6,7,8,9"])))
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    text = ending.join(lines) + draw(st.sampled_from(["", ending, ending * 2]))
    return (b"\xef\xbb\xbf" if draw(st.integers(0, 9)) == 0 else b"") + text.encode()


@pytest.fixture
def world(db):
    AccountFactory(external_id="KEEP", name="Kept", tier="A")
    AccountFactory(external_id="E2", name="Two", potential=10)
    return TerritoryFactory(code="T1").scenario


@RULES
@given(content=csv_files(), skip_bad_rows=st.booleans(), with_scenario=st.booleans())
def test_the_set_based_import_gives_what_the_row_rules_give(
    world, tmp_path_factory, content, skip_bad_rows, with_scenario
):
    path = tmp_path_factory.mktemp("rules") / "accounts.csv"
    path.write_bytes(content)
    options = {"path": str(path), "skip_bad_rows": skip_bad_rows, "scenario": world if with_scenario else None}
    expected = outcome(reference_import, **options)
    assert outcome(imports.account_import, reallocate=False, **options) == expected
