"""Bad files for the three importers (accounts, geo units, opportunities): each gets a clear message and changes
nothing, or, when skipping bad rows was asked for, saves exactly the good rows. A hypothesis fuzz finds no
exception but the documented ValidationError.

Importers are called as the jobs call them (a path or a file object); the size limit is checked where files
arrive, at the API, before any job is queued.
"""

import io
import json
import string

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Account
from accounts.services.imports import account_import
from core.models import Job
from performance.models import Opportunity
from performance.services.opportunities import opportunity_import
from territories.models import GeoUnit
from territories.services.geo_units import geo_unit_import
from tests.factories import AccountFactory

ACCOUNTS_CSV = ("external_id,name,potential,latitude,longitude\n"
                "A-1,Café Alpha,1000,30.3,-97.7\nA-2,Beta,2000,30.4,-97.6\n")


def _file(tmp_path, content: bytes | str, suffix: str = ".csv"):
    path = tmp_path / f"upload{suffix}"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return str(path)


def _accounts(tmp_path, content, suffix=".csv", **options):
    return account_import(path=_file(tmp_path, content, suffix), reallocate=False, **options)


def _snapshot():
    return (sorted(Account.objects.values_list("external_id", "name", "potential")),
            sorted(GeoUnit.objects.values_list("code", flat=True)),
            sorted(Opportunity.objects.values_list("external_id", "amount")))


@pytest.fixture
def existing(db):
    AccountFactory(external_id="KEEP-1", name="Kept")
    return _snapshot()


# --- accounts -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["latin-1", "utf-16"])
def test_account_csv_in_another_encoding_is_refused_with_a_clear_message(existing, tmp_path, encoding):
    with pytest.raises(ValidationError, match="UTF-8"):
        _accounts(tmp_path, ACCOUNTS_CSV.encode(encoding))
    assert _snapshot() == existing


def test_account_csv_with_utf8_bom_is_accepted(existing, tmp_path):
    summary = _accounts(tmp_path, b"\xef\xbb\xbf" + ACCOUNTS_CSV.encode())
    assert (summary["committed"], summary["created"]) == (True, 2)
    assert Account.objects.get(external_id="A-1").name == "Café Alpha"


@pytest.mark.parametrize("content", [bytes(range(256)) * 8, b"\x00\x01\x02PK\x03\x04" * 100, b"\x89PNG\r\n\x1a\n\x00"])
def test_account_binary_file_is_refused(existing, tmp_path, content):
    with pytest.raises(ValidationError) as error:
        _accounts(tmp_path, content)
    assert "UTF-8" in str(error.value) or "CSV" in str(error.value)
    assert _snapshot() == existing


def test_account_csv_without_the_required_columns_saves_nothing(existing, tmp_path):
    summary = _accounts(tmp_path, "name,potential\nAlpha,1000\nBeta,2000\n")
    assert summary["committed"] is False
    assert "nothing was saved" in summary["message"]
    assert summary["report"][0] == {"line": 2, "column": "external_id", "message": "external_id is required"}
    assert _snapshot() == existing


def test_account_bad_rows_are_reported_and_nothing_is_saved(existing, tmp_path):
    content = ("external_id,name,potential,latitude,longitude\n"
               "A-1,Alpha,1000,30.3,-97.7\n"
               "A-1,Alpha again,1000,30.3,-97.7\n"      # duplicate external id
               "A-3,Gamma,lots,30.3,-97.7\n"            # non-numeric
               "A-4,Delta,1000,95,-97.7\n"              # latitude beyond the pole
               "A-5,Echo,1000,30.3,-197.7\n"            # longitude off the globe
               "A-6,Foxtrot,-5,30.3,-97.7\n"            # negative money
               "A-7,Golf,1000,30.3,\n"                  # one coordinate only
               "A-8,Hotel,NaN,30.3,-97.7\n"
               "A-9,India,1e400,30.3,-97.7\n"
               "A-10,Juliet,1000,30.3,-97.7\n")
    summary = _accounts(tmp_path, content)
    assert summary["committed"] is False and summary["errors"] == 8
    assert [(row["line"], row["column"]) for row in summary["report"]] == [
        (3, "external_id"), (4, "potential"), (5, "latitude"), (6, "longitude"), (7, "potential"),
        (8, "longitude"), (9, "potential"), (10, "potential")]
    assert "'A-1' appears again; first at line 2" in summary["report"][0]["message"]
    assert "'lots' is not a number" in summary["report"][1]["message"]
    assert _snapshot() == existing

    skipped = _accounts(tmp_path, content, skip_bad_rows=True)
    assert (skipped["committed"], skipped["created"], skipped["skipped"]) == (True, 2, 8)
    assert sorted(Account.objects.values_list("external_id", flat=True)) == ["A-1", "A-10", "KEEP-1"]
    assert Account.objects.get(external_id="A-1").name == "Alpha"  # the first of the duplicates


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not valid JSON"),
    ('{"type": "Feature"}', "FeatureCollection"),
    ("[1, 2, 3]", "FeatureCollection"),
    ('{"type": "FeatureCollection", "features": 5}', "FeatureCollection"),
])
def test_account_geojson_that_is_not_a_feature_collection_is_refused(existing, tmp_path, content, message):
    with pytest.raises(ValidationError, match=message):
        _accounts(tmp_path, content, suffix=".geojson")
    assert _snapshot() == existing


def test_account_geojson_bad_features_are_reported(existing, tmp_path):
    features = [
        {"type": "Feature", "properties": {"external_id": "G-1", "name": "Good"},
         "geometry": {"type": "Point", "coordinates": [-97.7, 30.3]}},
        {"type": "Feature", "properties": {"external_id": "G-2", "name": "Polygon"},
         "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}},
        {"type": "Feature", "properties": {"external_id": "G-3", "name": "Far"},
         "geometry": {"type": "Point", "coordinates": [1e9, 30]}},
        {"type": "Feature", "properties": {"external_id": "G-4", "name": "Text"},
         "geometry": {"type": "Point", "coordinates": ["x", "y"]}},
        None,
        {"type": "Feature", "properties": {"name": "No id"}, "geometry": None},
    ]
    content = json.dumps({"type": "FeatureCollection", "features": features})
    summary = _accounts(tmp_path, content, suffix=".geojson")
    assert summary["committed"] is False
    assert [row["line"] for row in summary["report"]] == [2, 3, 4, 5, 6]
    assert _snapshot() == existing
    assert _accounts(tmp_path, content, suffix=".geojson", skip_bad_rows=True)["created"] == 1
    assert Account.objects.filter(external_id="G-1").exists()


# --- geo units ----------------------------------------------------------------------------------------------------

def _feature(code, coordinates, kind="Polygon"):
    return {"type": "Feature", "properties": {"code": code, "name": f"Unit {code}"},
            "geometry": {"type": kind, "coordinates": coordinates}}


def _units(tmp_path, features, **options):
    content = json.dumps({"type": "FeatureCollection", "features": features})
    return geo_unit_import(path=_file(tmp_path, content, ".geojson"), layer_name="Bad input", code_field="code",
                           **options)


SQUARE = [[[-98, 30], [-97, 30], [-97, 31], [-98, 31], [-98, 30]]]
BOWTIE = [[[-98, 30], [-97, 31], [-97, 30], [-98, 31], [-98, 30]]]


def test_geo_unit_bad_features_reject_the_file(existing, tmp_path):
    features = [
        _feature("OK", SQUARE),
        _feature("OK", SQUARE),                                                      # duplicate code
        _feature("BOWTIE", BOWTIE),                                                  # self-intersecting
        _feature("HUGE", [[[-1e9, -1e9], [1e9, -1e9], [1e9, 1e9], [-1e9, 1e9], [-1e9, -1e9]]]),
        _feature("LINE", [[-98, 30], [-97, 31]], kind="LineString"),
        _feature("", SQUARE),
    ]
    summary = _units(tmp_path, features, repair=False, skip_bad_features=False)
    assert summary["committed"] is False and "nothing was saved" in summary["message"]
    statuses = [(entry["code"], entry["status"]) for entry in summary["report"]]
    assert statuses == [("OK", "ok"), ("OK", "error"), ("BOWTIE", "error"), ("HUGE", "error"), ("LINE", "error"),
                        ("", "error")]
    messages = [entry["messages"][0] for entry in summary["report"][1:]]
    assert "Duplicate code" in messages[0] and "Self-intersection" in messages[1]
    assert "outside" in messages[2].lower() or "range" in messages[2].lower()
    assert "polygon" in messages[3].lower() and "empty" in messages[4]
    assert _snapshot() == existing

    kept = _units(tmp_path, features, repair=True, skip_bad_features=True)
    assert (kept["committed"], kept["created"], kept["repaired"]) == (True, 2, 1)
    assert sorted(GeoUnit.objects.values_list("code", flat=True)) == ["BOWTIE", "OK"]


@pytest.mark.parametrize("content", [b"\x00\x01binary\xff\xfe" * 50, b"{\"type\": \"Feat",
                                     "not json at all".encode("utf-16")])
def test_geo_unit_unreadable_file_is_refused(existing, tmp_path, content):
    with pytest.raises(ValidationError, match="Could not read|no layer|not"):
        geo_unit_import(path=_file(tmp_path, content, ".geojson"), layer_name="Bad", code_field="code")
    assert _snapshot() == existing


def test_geo_unit_missing_code_field_is_named(existing, tmp_path):
    with pytest.raises(ValidationError, match='No field "geoid"'):
        geo_unit_import(path=_file(tmp_path, json.dumps({"type": "FeatureCollection",
                                                          "features": [_feature("A", SQUARE)]}), ".geojson"),
                        layer_name="Bad", code_field="geoid")
    assert _snapshot() == existing


# --- opportunities ------------------------------------------------------------------------------------------------

OPPORTUNITIES_CSV = ("external_id,account_external_id,name,stage,amount,close_date\n"
                     "O-1,KEEP-1,Renewal café,prospecting,1000,2026-12-01\n")


@pytest.mark.parametrize("content", [OPPORTUNITIES_CSV.encode("latin-1"), OPPORTUNITIES_CSV.encode("utf-16"),
                                     bytes(range(256)) * 4])
def test_opportunity_file_in_another_encoding_or_binary_is_refused(existing, content):
    summary = opportunity_import(file=io.BytesIO(content))
    assert summary["committed"] is False and ("UTF-8" in summary["message"] or "CSV" in summary["message"])
    assert _snapshot() == existing


def test_opportunity_bad_rows(existing):
    content = (OPPORTUNITIES_CSV
               + "O-1,KEEP-1,Again,prospecting,1000,2026-12-01\n"
               + "O-3,KEEP-1,Words,prospecting,a lot,2026-12-01\n"
               + "O-4,NOPE,Unknown account,prospecting,10,2026-12-01\n"
               + "O-5,KEEP-1,Bad date,prospecting,10,2026-13-45\n"
               + "O-6,KEEP-1,Good,won,10,2026-12-01\n")
    summary = opportunity_import(file=io.BytesIO(content.encode()))
    assert summary["committed"] is False and summary["errors"] == 4
    assert [row["line"] for row in summary["report"]] == [3, 4, 5, 6]
    assert _snapshot() == existing
    skipped = opportunity_import(file=io.BytesIO(content.encode()), skip_bad_rows=True, refresh_kpis=False)
    assert (skipped["committed"], skipped["created"]) == (True, 2)
    assert sorted(Opportunity.objects.values_list("external_id", flat=True)) == ["O-1", "O-6"]


def test_opportunity_file_without_required_columns_is_named(existing):
    summary = opportunity_import(file=io.BytesIO(b"external_id,name\nO-1,x\n"))
    assert summary["committed"] is False and "lacks the column(s)" in summary["message"]
    assert _snapshot() == existing


# --- files over the limit, at the API -----------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "name", "fields"), [
    ("/api/v1/accounts/import/", "big.csv", {}),
    ("/api/v1/geo-units/import/", "big.geojson", {"layer_name": "Big", "code_field": "code"}),
    ("/api/v1/opportunities/import/", "big.csv", {}),
])
def test_files_over_the_limit_are_refused_before_anything_runs(existing, api_client, manager_user, settings_override,
                                                               url, name, fields):
    settings_override.IMPORT_MAX_BYTES = 1024
    api_client.force_authenticate(manager_user)
    content = ACCOUNTS_CSV.encode() + b"Z-1,Padding,1,30,-97\n" * 100
    response = api_client.post(url, {"file": SimpleUploadedFile(name, content), **fields}, format="multipart")
    assert response.status_code == 400
    assert "larger than" in json.dumps(response.json()) and "1 KB allowed" in json.dumps(response.json())
    assert Job.objects.count() == 0
    assert _snapshot() == existing


@pytest.fixture
def settings_override(settings):
    return settings


# --- fuzz ---------------------------------------------------------------------------------------------------------

CSV_ALPHABET = string.ascii_letters + string.digits + ",;\"'\n\r\t .-+eE_é\x00\\"
cells = st.one_of(st.text(CSV_ALPHABET, max_size=12), st.floats(allow_nan=True).map(str),
                  st.integers(min_value=-10**30, max_value=10**30).map(str))
header_names = st.sampled_from(["external_id", "name", "potential", "annual_revenue", "employees", "latitude",
                                "longitude", "tier", "segment", "status", "products", "country", "workload_hours",
                                "territory_code", "x", ""])
csv_files = st.one_of(
    st.binary(max_size=400),
    st.builds(lambda header, rows: ",".join(header) + "\n" + "\n".join(",".join(row) for row in rows),
              st.lists(header_names, min_size=1, max_size=8), st.lists(st.lists(cells, max_size=8), max_size=6)),
)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@FUZZ
@given(content=csv_files)
def test_fuzz_account_csv_import_raises_only_validation_errors(db, tmp_path_factory, content):
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.csv"
    path.write_bytes(content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content)
    try:
        summary = account_import(path=str(path), reallocate=False)
    except ValidationError:
        return
    assert summary["committed"] in (True, False) and summary["message"]


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.floats(allow_nan=False), st.integers(), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=12,
)
features = st.fixed_dictionaries({
    "type": st.just("Feature"),
    "properties": st.one_of(json_values, st.fixed_dictionaries({"external_id": json_values, "name": json_values})),
    "geometry": st.one_of(json_values, st.fixed_dictionaries({"type": st.sampled_from(["Point", "Polygon", "x"]),
                                                              "coordinates": json_values})),
})


@FUZZ
@given(collection=st.one_of(json_values, st.fixed_dictionaries({"type": st.just("FeatureCollection"),
                                                                "features": st.lists(features, max_size=5)})))
def test_fuzz_account_geojson_import_raises_only_validation_errors(db, tmp_path_factory, collection):
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.geojson"
    path.write_text(json.dumps(collection))
    try:
        account_import(path=str(path), reallocate=False)
    except ValidationError:
        return


opportunity_headers = st.sampled_from(["external_id", "account_external_id", "name", "stage", "amount", "close_date",
                                       "product", "created_date", "rep_email", ""])


@FUZZ
@given(content=st.one_of(
    st.binary(max_size=400),
    st.builds(lambda header, rows: (",".join(header) + "\n" + "\n".join(",".join(row) for row in rows)).encode(
        "utf-8", "surrogatepass"),
        st.lists(opportunity_headers, min_size=1, max_size=8), st.lists(st.lists(cells, max_size=8), max_size=6))))
def test_fuzz_opportunity_import_raises_only_validation_errors(db, content):
    try:
        summary = opportunity_import(file=io.BytesIO(content), refresh_kpis=False)
    except ValidationError:
        return
    assert summary["committed"] in (True, False)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(collection=st.fixed_dictionaries({
    "type": st.just("FeatureCollection"),
    "features": st.lists(st.fixed_dictionaries({
        "type": st.just("Feature"), "properties": st.fixed_dictionaries({"code": st.text(max_size=4)}),
        "geometry": st.fixed_dictionaries({
            "type": st.sampled_from(["Polygon", "MultiPolygon", "Point", "LineString"]),
            "coordinates": st.lists(st.lists(st.lists(st.floats(-400, 400, allow_nan=False), min_size=2, max_size=2),
                                             max_size=6), max_size=2)})}), max_size=4)}))
def test_fuzz_geo_unit_import_raises_only_validation_errors(db, tmp_path_factory, collection):
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.geojson"
    path.write_text(json.dumps(collection))
    try:
        geo_unit_import(path=str(path), layer_name="Fuzz", code_field="code")
    except ValidationError:
        return
