"""The set-based CSV import: rows read and checked in SQL give the values, lines, messages and counts of the
per-row rules (import_rows._row_values), whichever way the file is read (raw COPY or the csv module) and whichever
path writes it (one statement when all rows pass, the checked path otherwise)."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from accounts.models import Account
from accounts.services import import_csv
from accounts.services.imports import account_import
from core.models import Job
from tests.factories import AccountFactory, ScenarioFactory, TerritoryFactory, square

pytestmark = pytest.mark.django_db


def write(tmp_path, text: str | bytes, name: str = "a.csv") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(path)


@pytest.fixture
def paths(monkeypatch):
    """Which reader and which writer an import used."""
    used = []
    for name in ("_load_plain", "_load_parsed", "csv_write_fast", "csv_check"):
        real = getattr(import_csv, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            used.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(import_csv, name, spy)
    return used


def test_values_are_those_of_the_row_rules(tmp_path, paths):
    path = write(
        tmp_path,
        "external_id,name,city,country,segment,tier,status,employees,annual_revenue,potential,workload_hours,"
        "longitude,latitude,products\r\n"
        'E1,"Acme, Inc.",Austin,us,Mid-market,b,PROSPECT,+5,"1,200.50",0.125,1e1,-97.7,30.3,core;analytics\r\n'
        "E2,\u3000Bolt\u00a0,Dallas ,,enterprise,,,12.0,,5.,,-0,3e1,a| b |\r\n",
    )
    result = account_import(path=path, reallocate=False)
    assert (result["created"], result["errors"], result["committed"]) == (2, 0, True)
    assert paths == ["_load_plain", "csv_write_fast", "csv_check"]  # 0.125 and 12.0 need the row rules
    acme = Account.objects.get(external_id="E1")
    assert (acme.name, acme.country, acme.segment, acme.tier, acme.status) == (
        "Acme, Inc.",
        "US",
        "mid_market",
        "B",
        "prospect",
    )
    assert (acme.employees, acme.annual_revenue, acme.potential, acme.workload_hours) == (
        5,
        Decimal("1200.50"),
        Decimal("0.12"),
        10.0,
    )  # Decimal rounds half to even
    assert (acme.location.x, acme.location.y, acme.products) == (-97.7, 30.3, ["core", "analytics"])
    bolt = Account.objects.get(external_id="E2")
    assert (bolt.name, bolt.city, bolt.country, bolt.tier, bolt.status) == ("Bolt", "Dallas", "US", "C", "customer")
    assert (bolt.employees, bolt.annual_revenue, bolt.potential, bolt.products) == (12, 0, Decimal("5"), ["a", "b"])
    assert (bolt.location.x, bolt.location.y) == (0.0, 30.0)


def test_a_clean_file_is_written_in_one_statement(tmp_path, paths):
    path = write(tmp_path, "external_id,name,potential,longitude,latitude\nE1,Acme,10.5,-97.7,30.3\nE2,Bolt,,,\n")
    result = account_import(path=path, reallocate=False)
    assert (result["rows"], result["created"], result["updated"], result["unchanged"]) == (2, 2, 0, 0)
    assert paths == ["_load_plain", "csv_write_fast"]
    assert Account.objects.get(external_id="E2").location is None


def test_bad_rows_are_reported_with_their_line_and_column(tmp_path, paths):
    path = write(
        tmp_path,
        "external_id,name,employees,longitude,latitude,tier\n"
        "E1,Acme,5,-97.7,30.3,A\n"
        "E2,Bolt,99999999999,-97.7,30.3,A\n"
        "E3,Cog,5,0x10,30.3,A\n"
        "E4,Dot,5,-97.7,,A\n"
        "E5,Eel,5,-97.7,30.3,İ\n"
        "E1,Again,5,-97.7,30.3,A\n",
    )
    result = account_import(path=path, reallocate=False)
    assert result["committed"] is False and Account.objects.count() == 0
    assert result["report"] == [
        {"line": 3, "column": "employees", "message": "employees '99999999999' is out of range"},
        {"line": 4, "column": "longitude", "message": "longitude '0x10' is not a number"},
        {"line": 5, "column": "latitude", "message": "latitude is empty while the other coordinate is given"},
        {"line": 6, "column": "tier", "message": "tier 'İ' is not one of A, B, C, D"},
        {"line": 7, "column": "external_id", "message": "external_id 'E1' appears again; first at line 2"},
    ]
    assert paths == ["_load_plain", "csv_write_fast", "csv_check"]


def test_lines_count_records_spanning_lines_blank_lines_and_short_rows(tmp_path, paths):
    path = write(
        tmp_path,
        'external_id,name,street,tier\nE1,Acme,"1 Main St\nSuite 2",A\n\nE2,Bolt\nE3,,x,A\n\\.\nE4,Dot,,Z\n',
    )
    result = account_import(path=path, reallocate=False, skip_bad_rows=True)
    assert [(row["line"], row["column"]) for row in result["report"]] == [(6, "name"), (7, "name"), (8, "tier")]
    assert (result["rows"], result["created"], result["skipped"]) == (5, 2, 3)
    assert paths[:2] == ["_load_plain", "_load_parsed"]  # the quoted line break needs the csv module
    assert Account.objects.get(external_id="E1").street == "1 Main St\nSuite 2"
    assert Account.objects.get(external_id="E2").tier == "C"  # the short row keeps the default


def test_skip_mode_counts_and_reimport_updates(tmp_path):
    AccountFactory(external_id="OLD", name="Old", tier="A", city="Reno")
    path = write(tmp_path, "external_id,name,tier\nOLD,Old,B\nN1,New,C\nN1,Twice,D\nN2,,C\n")
    result = account_import(path=path, reallocate=False, skip_bad_rows=True)
    assert (result["created"], result["updated"], result["unchanged"], result["skipped"]) == (1, 1, 0, 2)
    assert Account.objects.get(external_id="N1").name == "New"  # the first of the duplicates
    old = Account.objects.get(external_id="OLD")
    assert (old.tier, old.city) == ("B", "Reno")  # columns the file lacks are kept

    again = account_import(path=write(tmp_path, "external_id,name,tier\nOLD,Old,B\nN1,New,D\n"), reallocate=False)
    assert (again["created"], again["updated"], again["unchanged"], again["skipped"]) == (0, 1, 1, 0)
    assert again["message"] == "0 accounts created, 1 updated, 1 unchanged, 0 skipped."


def test_progress_is_reported_while_reading_and_writing(tmp_path):
    rows = "".join(f"P{i},Account {i},{i % 90}.5,{i % 80}.25\n" for i in range(25_000))
    path = write(tmp_path, "external_id,name,longitude,latitude\n" + rows)
    calls = []
    result = account_import(path=path, reallocate=False, progress=lambda value, message: calls.append((value, message)))
    assert result["created"] == 25_000
    messages = [message for _value, message in calls]
    assert messages[-1] == "Writing accounts"
    counts = [int(message.split()[1]) for message in messages[:-1]]  # "Read N rows", at least every 10,000
    assert messages[:-1] == [f"Read {count} rows" for count in counts]
    assert len(counts) == 3 and 10_000 <= counts[0] < 20_000 <= counts[1] < 25_000 == counts[2]
    values = [value for value, _message in calls]
    assert values == sorted(values) and 10 < values[0] < values[1] < 40 and values[-2:] == [50, 55]


def test_reallocation_and_kpi_refresh_follow_a_fast_write(tmp_path):
    active = ScenarioFactory(status="active")
    TerritoryFactory(scenario=active, code="W", boundary=square(0, 0))

    def kpi_jobs():
        return [job.params for job in Job.objects.filter(kind="kpi_recompute").order_by("pk")]

    result = account_import(path=write(tmp_path, "external_id,name,longitude,latitude\nK1,Kay,0.5,0.5\nK2,Far,9,9\n"))
    assert result["reallocation"]["scenario_id"] == active.pk and result["reallocation"]["changed"] == 1
    assert kpi_jobs() == [{"scenario_id": active.pk, "months": 1}]  # queued by the run that placed K1

    # New accounts in no territory change no KPI: nothing is queued (a 200k-row import sent 200k ids for nothing).
    account_import(path=write(tmp_path, "external_id,name\nK3,Nowhere\n"), reallocate=False)
    assert len(kpi_jobs()) == 1

    # An account that changes may be in a territory: its KPIs are refreshed.
    account_import(path=write(tmp_path, "external_id,name,potential\nK1,Kay,5000\n"), reallocate=False)
    assert kpi_jobs()[1]["account_ids"] == [Account.objects.get(external_id="K1").pk]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"external_id,name\n" + b"E1,Acme\n" * 10_000 + b"E2,\x00Nul\n", "NUL"),
        (b"external_id,name\nE1," + b"x" * 140_000 + b"\n", "not valid CSV: field larger than field limit"),
        (b"external_id,name\nE1,Caf\xe9\n", "not UTF-8"),
        (b"", "empty"),
        (b"\n\nexternal_id,name\n", "empty"),
    ],
)
def test_unreadable_files_are_refused_whole(tmp_path, content, message):
    with pytest.raises(ValidationError, match=message):
        account_import(path=write(tmp_path, content), reallocate=False)
    assert Account.objects.count() == 0


def test_staging_tables_are_dropped(tmp_path):
    account_import(path=write(tmp_path, "external_id,name\nE1,Acme\nE1,Again\n"), reallocate=False)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_class WHERE relname LIKE '\\_import\\_%%' AND relpersistence = 't'")
        assert cursor.fetchone()[0] == 0


def test_progress_while_the_csv_module_reads(tmp_path, paths):
    rows = "".join(f"P{i},Account {i}\n" + ("\n" if i == 5 else "") for i in range(25_000))  # a blank line
    calls = []
    result = account_import(
        path=write(tmp_path, "external_id,name\n" + rows),
        reallocate=False,
        progress=lambda value, message: calls.append((round(value), message)),
    )
    assert result["created"] == 25_000 and paths[:2] == ["_load_plain", "_load_parsed"]
    assert [message for _value, message in calls] == [
        "Read 10000 rows",
        "Read 20000 rows",
        "Read 25000 rows",
        "Read 25000 rows",
        "Writing accounts",
    ]
    values = [value for value, _message in calls]  # the share of the file read (as far as it was buffered)
    assert 10 <= values[0] < values[1] < values[2] <= 40 and values[3:] == [50, 55]


def test_a_known_account_after_the_first_rows_is_updated_by_the_fast_write(tmp_path, paths):
    # Only the first 1,000 rows are probed for known accounts: one further down makes the plain INSERT fail and
    # the same statement run as an upsert, still in one pass.
    AccountFactory(external_id="N1200", name="Old name")
    rows = "".join(f"N{i},Account {i}\n" for i in range(1500))
    result = account_import(path=write(tmp_path, "external_id,name\n" + rows), reallocate=False)
    assert (result["created"], result["updated"], result["errors"]) == (1499, 1, 0)
    assert paths == ["_load_plain", "csv_write_fast"]
    assert Account.objects.get(external_id="N1200").name == "Account 1200"
    assert Account.objects.filter(external_id__startswith="N").count() == 1500


def test_a_repeated_external_id_deep_in_a_new_file_is_reported(tmp_path, paths):
    rows = "".join(f"R{i},Account {i}\n" for i in range(1500)) + "R7,Again\n"
    result = account_import(path=write(tmp_path, "external_id,name\n" + rows), reallocate=False)
    assert result["committed"] is False
    assert paths == ["_load_plain", "csv_write_fast", "csv_check"]
    assert any(error["line"] == 1502 and "R7" in error["message"] for error in result["report"])
    assert not Account.objects.filter(external_id__startswith="R").exists()
