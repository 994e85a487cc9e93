"""Account import (CSV, GeoJSON) with its per-row report, re-import by external id, and export."""

import csv
import io
import json
from decimal import Decimal

import pytest

from accounts.models import Account, AccountAssignment
from accounts.selectors import account_list_with_alignment
from accounts.services.exports import account_export_csv_rows, account_export_geojson_chunks
from accounts.services.imports import account_import
from tests.factories import AccountAssignmentFactory, RepAssignmentFactory, RepFactory, TerritoryFactory

pytestmark = pytest.mark.django_db

HEADER = "external_id,name,city,longitude,latitude,industry,segment,products,annual_revenue,tier\n"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_bad_rows_reject_the_whole_file_with_line_column_and_message(tmp_path):
    path = write(tmp_path, "a.csv", HEADER
                 + "E1,Acme,Austin,-97.7,30.3,software,enterprise,core;analytics,1200.50,A\n"
                 + "E2,,Dallas,-96.8,32.8,retail,mid_market,,10,B\n"
                 + "E3,Zed,Nowhere,-200,32.8,retail,mid_market,,10,B\n"
                 + "E4,Tiny,Waco,-97.1,31.5,retail,huge,,abc,B\n"
                 + "E1,Again,Austin,-97.7,30.3,software,enterprise,,5,A\n")
    result = account_import(path=path)
    assert result["committed"] is False
    assert Account.objects.count() == 0
    assert result["report"] == [
        {"line": 3, "column": "name", "message": "name is required"},
        {"line": 4, "column": "longitude", "message": "longitude -200 is outside -180..180"},
        {"line": 5, "column": "segment", "message": "segment 'huge' is not one of enterprise, mid_market, "
                                                    "small_business"},
        {"line": 6, "column": "external_id", "message": "external_id 'E1' appears again; first at line 2"},
    ]


def test_skip_bad_rows_then_reimport_updates_by_external_id(tmp_path):
    path = write(tmp_path, "a.csv", HEADER
                 + "E1,Acme,Austin,-97.7,30.3,software,enterprise,core;analytics,1200.50,A\n"
                 + "E2,,Dallas,-96.8,32.8,retail,mid_market,,10,B\n"
                 + "E3,Bolt,Dallas,-96.8,32.8,Retail,Mid-market,,10,b\n")
    result = account_import(path=path, skip_bad_rows=True)
    assert (result["created"], result["updated"], result["skipped"]) == (2, 0, 1)
    acme = Account.objects.get(external_id="E1")
    assert acme.products == ["core", "analytics"] and acme.annual_revenue == Decimal("1200.50")
    assert (acme.location.x, acme.location.y) == (-97.7, 30.3)
    bolt = Account.objects.get(external_id="E3")
    assert (bolt.industry, bolt.segment, bolt.tier) == ("Retail", "mid_market", "B")

    path = write(tmp_path, "b.csv", "external_id,name,tier\nE1,Acme Corp,B\nE3,Bolt,B\nE9,New,C\n")
    result = account_import(path=path)
    assert (result["created"], result["updated"], result["unchanged"]) == (1, 1, 1)
    acme.refresh_from_db()
    assert (acme.name, acme.tier, acme.city) == ("Acme Corp", "B", "Austin")  # absent columns are kept


def test_geojson_import_and_territory_codes(tmp_path):
    leaf = TerritoryFactory(code="TX")
    data = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-97.0, 31.0]},
         "properties": {"external_id": "G1", "name": "Geo One", "territory_code": "TX"}},
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
         "properties": {"external_id": "G2", "name": "Bad shape"}},
        {"type": "Feature", "geometry": None, "properties": {"external_id": "G3", "name": "Nowhere",
                                                             "territory_code": "ZZ"}},
    ]}
    path = write(tmp_path, "a.geojson", json.dumps(data))
    result = account_import(path=path, scenario=leaf.scenario, skip_bad_rows=True)
    assert [(r["line"], r["column"]) for r in result["report"]] == [(2, "geometry"), (3, "territory_code")]
    assert result["created"] == 1 and result["assigned"] == 1
    assignment = AccountAssignment.objects.get()
    assert (assignment.account.external_id, assignment.territory, assignment.source) == ("G1", leaf, "import")


def test_export_carries_territory_rep_and_reason(manager_user):
    leaf = TerritoryFactory(code="TX", name="Texas", scenario__status="active")
    RepAssignmentFactory(rep=RepFactory(name="Tex"), territory=leaf)
    assignment = AccountAssignmentFactory(territory=leaf, source="override", reason="Key account",
                                          account__external_id="X1", account__products=["core"])
    accounts = account_list_with_alignment(user=manager_user)
    rows = list(csv.DictReader(io.StringIO("".join(account_export_csv_rows(accounts=accounts)))))
    assert len(rows) == 1
    row = rows[0]
    assert (row["external_id"], row["territory_code"], row["rep"], row["assignment_source"]) == (
        "X1", "TX", "Tex", "override")
    assert row["assignment_reason"] == "Manual override (Key account)"
    assert (row["longitude"], row["products"]) == ("-99.5", "core")
    collection = json.loads("".join(account_export_geojson_chunks(accounts=accounts)))
    feature = collection["features"][0]
    assert feature["geometry"] == {"type": "Point", "coordinates": [-99.5, 40.5]}
    assert feature["properties"]["territory_name"] == "Texas"
    assert assignment.pk
