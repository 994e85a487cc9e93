"""Large lists walk with ?cursor=, sparse ?fields= trims accounts and territories, territories simplify on request,
and assignments answer as of a date."""

import datetime as dt

import pytest
from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from django.utils import timezone

from tests.factories import (
    AccountAssignmentFactory,
    AccountFactory,
    ActivityFactory,
    OpportunityFactory,
    RepAssignmentFactory,
    RepFactory,
    ScenarioFactory,
    TerritoryFactory,
    square,
)

pytestmark = pytest.mark.django_db


def _walk(api, url):
    """Follow next links from an empty cursor; returns the pages."""
    pages, url = [], f"{url}{'&' if '?' in url else '?'}cursor="
    while url:
        response = api.get(url)
        assert response.status_code == 200, response.content
        pages.append(response.json())
        url = response.json()["next"]
    return pages


@pytest.mark.parametrize("resource, factory", [
    ("accounts", AccountFactory), ("activities", ActivityFactory), ("opportunities", OpportunityFactory)])
def test_a_cursor_walks_the_whole_list_in_id_order_without_counting(api_client, admin_user, resource, factory):
    api_client.force_authenticate(admin_user)
    rows = sorted(factory().pk for _ in range(5))
    pages = _walk(api_client, f"/api/v1/{resource}/?page_size=2&ordering=-id")
    assert [[row["id"] for row in page["results"]] for page in pages] == [rows[0:2], rows[2:4], rows[4:]]
    assert all("count" not in page for page in pages)
    numbered = api_client.get(f"/api/v1/{resource}/").json()  # numbered pages by default, with their count
    assert numbered["count"] == 5


def test_a_made_up_cursor_is_a_400_with_what_to_do(manager_api):
    response = manager_api.get("/api/v1/accounts/?cursor=not-a-cursor")
    assert response.status_code == 400
    assert response.json()["message"] == ("cursor: This is not a cursor the API gave out; start again with an empty "
                                          "?cursor= and follow the next links.")


def test_sparse_account_fields_skip_the_alignment_lookups(manager_api, django_assert_max_num_queries):
    AccountFactory(external_id="A1", name="Acme", potential="125.50")
    with django_assert_max_num_queries(4) as context:  # the manager check, the count, the rows
        response = manager_api.get("/api/v1/accounts/?fields=id,external_id,potential")
    assert [set(row) for row in response.json()["results"]] == [{"id", "external_id", "potential"}]
    assert response.json()["results"][0]["potential"] == "125.50"
    assert "current_territory" not in context.captured_queries[-1]["sql"]
    unknown = manager_api.get("/api/v1/accounts/?fields=id,nope")
    assert unknown.status_code == 400 and unknown.json()["message"].startswith("fields: Unknown field nope; choose")


def test_territory_fields_drop_the_boundary_unless_asked(manager_api):
    territory = TerritoryFactory(code="N", name="North", boundary=square(0, 0))
    feature = manager_api.get(f"/api/v1/territories/?fields=code,name&scenario={territory.scenario_id}").json()
    assert feature["features"] == [{"id": territory.pk, "type": "Feature", "geometry": None,
                                    "properties": {"code": "N", "name": "North"}}]
    with_shape = manager_api.get(f"/api/v1/territories/{territory.pk}/?fields=code,boundary").json()
    assert with_shape["geometry"]["type"] == "MultiPolygon" and with_shape["properties"] == {"code": "N"}


def test_territories_simplify_on_request_within_the_bbox(manager_api):
    scenario = ScenarioFactory()
    # A square with 400 vertices along its edges: simplified, it is the four corners again.
    edge = [(i / 100, 0) for i in range(100)] + [(1, i / 100) for i in range(100)]
    edge += [(1 - i / 100, 1) for i in range(100)] + [(0, 1 - i / 100) for i in range(100)]
    TerritoryFactory(scenario=scenario, code="FINE", boundary=MultiPolygon(Polygon([*edge, edge[0]]), srid=4326))
    TerritoryFactory(scenario=scenario, code="FAR", boundary=square(50, 50))
    full = manager_api.get(f"/api/v1/territories/?scenario={scenario.pk}&in_bbox=-1,-1,2,2").json()
    simple = manager_api.get(f"/api/v1/territories/?scenario={scenario.pk}&in_bbox=-1,-1,2,2&simplify=0.01").json()
    assert [f["properties"]["code"] for f in simple["features"]] == ["FINE"]
    assert len(full["features"][0]["geometry"]["coordinates"][0][0]) == 401
    assert simple["features"][0]["geometry"]["type"] == "MultiPolygon"
    assert sorted(map(tuple, simple["features"][0]["geometry"]["coordinates"][0][0])) == [
        (0, 0), (0, 0), (0, 1), (1, 0), (1, 1)]
    for bad in ("0", "-1", "2", "x", "nan"):
        response = manager_api.get(f"/api/v1/territories/?simplify={bad}")
        assert response.status_code == 400 and response.json()["message"].startswith("simplify: Give a tolerance")


@pytest.fixture
def history(rep_user):
    """An account that moved from West to East ten days ago in the active scenario; the rep owns East."""
    scenario = ScenarioFactory(status="active")
    scenario.activated_at = timezone.now() - dt.timedelta(days=100)
    scenario.save()
    west = TerritoryFactory(scenario=scenario, code="W", boundary=square(0, 0))
    east = TerritoryFactory(scenario=scenario, code="E", boundary=square(1, 0))
    RepAssignmentFactory(rep=RepFactory(user=rep_user), territory=east)
    account = AccountFactory(external_id="MOVER", location=Point(1.5, 0.5, srid=4326))
    moved_at = timezone.now() - dt.timedelta(days=10)
    AccountAssignmentFactory(account=account, territory=west, valid_from=moved_at - dt.timedelta(days=50),
                             valid_to=moved_at)
    AccountAssignmentFactory(account=account, territory=east, valid_from=moved_at)
    AccountAssignmentFactory(account=AccountFactory(external_id="STAYS"), territory=west)
    return scenario, west, east, account


def test_assignments_as_of_a_date(manager_api, history):
    scenario, west, east, account = history

    def codes(query):
        response = manager_api.get(f"/api/v1/assignments/{query}")
        assert response.status_code == 200, response.content
        return sorted((row["account_external_id"], row["territory_code"]) for row in response.json()["results"])

    assert codes("") == [("MOVER", "E"), ("MOVER", "W"), ("STAYS", "W")]
    assert codes("?as_of=now") == [("MOVER", "E"), ("STAYS", "W")]
    past = (timezone.now() - dt.timedelta(days=20)).date().isoformat()
    assert codes(f"?as_of={past}&account={account.pk}") == [("MOVER", "W")]
    assert codes(f"?as_of={past}&scenario={scenario.pk}&cursor=") == [("MOVER", "W"), ("STAYS", "W")]
    before = (timezone.now() - dt.timedelta(days=200)).date().isoformat()
    assert codes(f"?as_of={before}") == []  # no scenario was in force then
    bad = manager_api.get("/api/v1/assignments/?as_of=yesterday")
    assert bad.status_code == 400 and bad.json()["message"] == (
        "as_of: Give an ISO date or datetime, e.g. 2026-03-31, or now.")


def test_a_rep_reads_only_the_assignments_of_their_accounts(api_client, rep_user, history):
    api_client.force_authenticate(rep_user)
    rows = api_client.get("/api/v1/assignments/").json()["results"]
    assert sorted((r["account_external_id"], r["territory_code"]) for r in rows) == [("MOVER", "E"), ("MOVER", "W")]
