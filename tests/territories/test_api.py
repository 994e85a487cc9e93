"""The territories API: lifecycle commands, GeoJSON territories with bbox, rules, permissions, query budgets."""

import pytest

from territories.models import Scenario, Territory
from tests.api.jobs import job_run_now
from tests.factories import ScenarioFactory, TerritoryFactory, square

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager_api(api_client, manager_user):
    api_client.force_authenticate(manager_user)
    return api_client


def test_scenario_lifecycle_through_the_api(manager_api):
    created = manager_api.post("/api/v1/scenarios/", {"name": "FY27"}, format="json")
    assert created.status_code == 201, created.content
    scenario_id = created.json()["id"]
    TerritoryFactory(scenario_id=scenario_id, code="N")
    clone = manager_api.post(f"/api/v1/scenarios/{scenario_id}/clone/", {"name": "FY27 b"}, format="json")
    assert clone.status_code == 201 and clone.json()["cloned_from"] == scenario_id
    assert job_run_now(manager_api.post(f"/api/v1/scenarios/{scenario_id}/activate/")).status == "succeeded"
    assert manager_api.post(f"/api/v1/scenarios/{scenario_id}/activate/").status_code == 400  # already active
    job = job_run_now(manager_api.post(f"/api/v1/scenarios/{clone.json()['id']}/activate/"))
    assert (job.status, job.result["previous_active"]) == ("succeeded", scenario_id)
    second = manager_api.get(f"/api/v1/scenarios/{clone.json()['id']}/").json()
    assert (second["status"], second["previous_active"]) == ("active", scenario_id)
    compared = manager_api.post(f"/api/v1/scenarios/{scenario_id}/compare/", {"other": second["id"]}, format="json")
    assert compared.status_code == 200 and compared.json()["totals"]["accounts_moved"] == 0
    rolled = job_run_now(manager_api.post(f"/api/v1/scenarios/{second['id']}/rollback/"))
    assert (rolled.status, rolled.result["scenario"]) == ("succeeded", scenario_id)
    assert Scenario.objects.get(pk=scenario_id).status == "active"
    refused = manager_api.post("/api/v1/territories/", {
        "type": "Feature", "geometry": None,
        "properties": {"scenario": scenario_id, "name": "X", "code": "X"}}, format="json")
    assert refused.status_code == 400
    assert "clone it into a planning scenario" in refused.json()["message"]


def test_schedule_validation(manager_api):
    scenario = ScenarioFactory()
    response = manager_api.post(f"/api/v1/scenarios/{scenario.pk}/schedule/", {"at": "2020-01-01T00:00:00Z"},
                                format="json")
    assert response.status_code == 400 and "future" in response.json()["message"]


def test_territories_are_geojson_filtered_by_bbox_within_a_query_budget(manager_api, django_assert_max_num_queries):
    scenario = ScenarioFactory()
    for x in range(6):
        TerritoryFactory(scenario=scenario, code=f"T{x}", boundary=square(x * 2, 0))
    with django_assert_max_num_queries(6):
        response = manager_api.get(f"/api/v1/territories/?scenario={scenario.pk}&in_bbox=0,0,4.5,1")
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert [f["properties"]["code"] for f in body["features"]] == ["T0", "T1", "T2"]
    assert body["features"][0]["geometry"]["type"] == "MultiPolygon"


def test_territory_create_repairs_a_bowtie_and_moves_refuse_cycles(manager_api):
    scenario = ScenarioFactory()
    response = manager_api.post("/api/v1/territories/", {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
        "properties": {"scenario": scenario.pk, "name": "Bow", "code": "B"}}, format="json")
    assert response.status_code == 201, response.content
    bow = Territory.objects.get(code="B")
    assert bow.boundary.valid and len(bow.boundary) == 2
    child = manager_api.post("/api/v1/territories/", {
        "type": "Feature", "geometry": None,
        "properties": {"scenario": scenario.pk, "name": "Child", "code": "C", "parent": bow.pk}}, format="json")
    assert child.json()["properties"]["depth"] == 1
    cycle = manager_api.post(f"/api/v1/territories/{bow.pk}/move/", {"parent": child.json()["id"]}, format="json")
    assert cycle.status_code == 400 and "cycle" in cycle.json()["message"]


def test_rules_validate_criteria(manager_api):
    leaf = TerritoryFactory()
    bad = manager_api.post("/api/v1/rules/", {"territory": leaf.pk, "name": "r",
                                              "criteria": [{"field": "x", "op": "equals", "value": 1}]},
                           format="json")
    assert bad.status_code == 400 and "unknown field" in bad.json()["message"]
    good = manager_api.post("/api/v1/rules/", {"territory": leaf.pk, "name": "r", "within_boundary": False,
                                               "criteria": [{"field": "tier", "op": "in", "value": ["A"]}]},
                            format="json")
    assert good.status_code == 201


def test_reps_read_but_cannot_write(api_client, rep_user):
    api_client.force_authenticate(rep_user)
    ScenarioFactory()
    assert api_client.get("/api/v1/scenarios/").status_code == 200
    assert api_client.post("/api/v1/scenarios/", {"name": "Mine"}, format="json").status_code == 403
    assert Scenario.objects.count() == 1


def test_schema_lists_the_endpoints(manager_api):
    schema = manager_api.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    for path in ("/api/v1/scenarios/{id}/rollback/", "/api/v1/territories/", "/api/v1/geo-units/import/",
                 "/api/v1/accounts/{id}/history/", "/api/v1/allocation/preview/", "/api/v1/jobs/{id}/",
                 "/api/v1/alignment/", "/api/v1/accounts/export/"):
        assert path in schema
