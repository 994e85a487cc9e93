import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from performance.models import Activity
from reps.models import RepAssignment
from tests.factories import ActivityFactory, OpportunityFactory, RepFactory, ScenarioFactory, TerritoryFactory
from tests.reps.conftest import place


@pytest.fixture
def as_rep(api_client, rep_user):
    api_client.force_authenticate(rep_user)
    return api_client


@pytest.fixture
def as_manager(api_client, manager_user):
    api_client.force_authenticate(manager_user)
    return api_client


def test_my_accounts_are_mine_only_and_sorted_by_attention(world, as_rep):
    acme, bravo, cedar = world.mine
    ActivityFactory(account=acme, rep=world.rep, occurred_at=timezone.now() - dt.timedelta(days=3))
    OpportunityFactory(account=bravo, rep=world.rep)
    with CaptureQueriesContext(connection) as queries:
        response = as_rep.get("/api/v1/me/accounts/")
    assert response.status_code == 200
    assert len(queries) <= 10  # role checks, scope, count, page: never one query per account
    features = response.json()["results"]["features"]
    assert [(f["properties"]["name"], f["properties"]["status"]) for f in features] == [
        ("Bravo Round Rock", "never"), ("Cedar San Marcos", "never"), ("Acme Austin", "ok")
    ]
    assert features[0]["properties"]["open_opportunities"] == 1  # never visited + open deal comes first
    assert features[0]["geometry"]["type"] == "Point"
    # guessing another rep's account id gives 404, not 403
    assert as_rep.get(f"/api/v1/me/accounts/{world.theirs[0].pk}/").status_code == 404
    assert as_rep.get(f"/api/v1/me/accounts/{acme.pk}/").status_code == 200
    filtered = as_rep.get("/api/v1/me/accounts/", {"status": "never", "q": "cedar"}).json()
    assert [f["properties"]["name"] for f in filtered["results"]["features"]] == ["Cedar San Marcos"]


def test_my_accounts_sort_by_name_ignoring_case(world, as_rep):
    acme, bravo, cedar = world.mine
    bravo.name = "bravo Round Rock"  # lower case: byte order would put it after the others
    bravo.save(update_fields=["name"])

    def names(ordering):
        response = as_rep.get("/api/v1/me/accounts/", {"ordering": ordering})
        assert response.status_code == 200
        return [f["properties"]["name"] for f in response.json()["results"]["features"]]

    assert names("name") == ["Acme Austin", "bravo Round Rock", "Cedar San Marcos"]
    assert names("-name") == ["Cedar San Marcos", "bravo Round Rock", "Acme Austin"]
    assert names("-potential,name") == [
        a.name for a in sorted([acme, bravo, cedar], key=lambda a: (-a.potential, a.name.lower()))
    ]


def test_rep_cannot_read_or_write_other_reps_data(world, as_rep):
    assert [r["name"] for r in as_rep.get("/api/v1/reps/").json()["results"]] == ["Alice Central"]
    assert as_rep.get(f"/api/v1/reps/{world.other_rep.pk}/").status_code == 404
    assert as_rep.patch(f"/api/v1/reps/{world.rep.pk}/", {"capacity_hours": 1}, format="json").status_code == 403
    ActivityFactory(account=world.theirs[0], rep=world.other_rep)
    assert as_rep.get("/api/v1/activities/").json()["count"] == 0
    response = as_rep.post("/api/v1/activities/", {"account": world.theirs[0].pk, "kind": "visit"}, format="json")
    assert response.status_code == 403
    assert as_rep.get("/api/v1/call-plans/", {"rep": world.other_rep.pk}).status_code == 404


def test_rep_logs_a_visit_that_shows_in_coverage_at_once(world, as_rep):
    before = as_rep.get("/api/v1/coverage/").json()
    assert [row["name"] for row in before["territories"]] == ["R-C Central"]
    assert before["territories"][0]["never_visited"] == 3
    response = as_rep.post("/api/v1/activities/", {
        "account": world.mine[0].pk, "kind": "visit", "duration_minutes": 45, "outcome": "Order placed",
        "rep": world.other_rep.pk,  # ignored: a rep logs as themselves
    }, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["rep"] == world.rep.pk
    assert response.json()["notes"] == "Outcome: Order placed"
    after = as_rep.get("/api/v1/coverage/").json()["territories"][0]
    assert (after["within_cadence"], after["never_visited"], after["coverage_percent"]) == (1, 2, 33.3)


def test_manager_api_is_scoped_to_their_teams(world, as_manager, manager_user):
    assert [r["name"] for r in as_manager.get("/api/v1/reps/").json()["results"]] == ["Alice Central"]
    assert [t["name"] for t in as_manager.get("/api/v1/teams/").json()["results"]] == ["Central team"]
    assert as_manager.patch(f"/api/v1/reps/{world.other_rep.pk}/", {"seniority": 4}, format="json").status_code == 404
    response = as_manager.post("/api/v1/reps/", {"name": "New Hire", "team": world.other_team.pk}, format="json")
    assert response.status_code == 403
    response = as_manager.post("/api/v1/reps/", {"name": "New Hire", "team": world.team.pk,
                                                 "home_location": {"type": "Point", "coordinates": [-97.7, 30.2]}},
                               format="json")
    assert response.status_code == 201, response.content
    territories = {row["territory"] for row in as_manager.get("/api/v1/rep-assignments/").json()["results"]}
    assert territories == {world.central.pk}
    coverage = as_manager.get("/api/v1/coverage/").json()
    assert [row["name"] for row in coverage["reps"]] == ["Alice Central"]
    assert [row["code"] for row in as_manager.get("/api/v1/workload/").json()] == ["R-C"]


def test_assignment_api_keeps_history_and_lists_vacancies(world, as_manager):
    newcomer = RepFactory(name="Carol", team=world.team)
    today = dt.date.today().isoformat()
    response = as_manager.post("/api/v1/rep-assignments/", {"territory": world.central.pk, "rep": newcomer.pk,
                                                             "valid_from": today}, format="json")
    assert response.status_code == 201, response.content
    response = as_manager.post("/api/v1/rep-assignments/", {"territory": world.central.pk, "rep": None},
                               format="json")
    assert response.status_code == 201 and response.json()["is_vacancy"]
    assert RepAssignment.objects.filter(territory=world.central).count() == 3
    vacancies = as_manager.get("/api/v1/rep-assignments/vacancies/").json()
    assert [(v["territory_code"], v["previous_rep_name"]) for v in vacancies] == [("R-C", "Carol")]
    assert as_manager.delete(f"/api/v1/rep-assignments/{response.json()['id']}/").status_code == 405


def test_match_proposal_and_accept(world, as_manager):
    plan = ScenarioFactory(name="Next year")
    west = TerritoryFactory(scenario=plan, code="P-W", name="West")
    east = TerritoryFactory(scenario=plan, code="P-E", name="East")
    place(west, lon=-97.74, lat=30.27)
    place(east, lon=-90.0, lat=30.0)
    response = as_manager.post("/api/v1/rep-matches/proposal/", {"scenario": plan.pk}, format="json")
    assert response.status_code == 200, response.content
    rows = {row["territory"]: row for row in response.json()["proposals"]}
    assert rows["P-W West"]["rep"] == "Alice Central" and rows["P-W West"]["travel_km"] == 0.0
    assert rows["P-E East"]["rep"] is None  # one rep in the team, two territories
    assert set(rows["P-W West"]) >= {"score", "travel", "expertise", "value"}
    accepted = as_manager.post("/api/v1/rep-matches/accept/", {"pairs": [
        {"territory": west.pk, "rep": world.rep.pk}, {"territory": east.pk, "rep": None}]}, format="json")
    assert accepted.status_code == 201, accepted.content
    assert [(a["territory"], a["rep"], a["is_vacancy"]) for a in accepted.json()] == [
        (west.pk, world.rep.pk, False), (east.pk, None, True)
    ]


def test_rep_cannot_propose_or_change_cadences(world, as_rep):
    assert as_rep.post("/api/v1/rep-matches/proposal/", {"scenario": world.scenario.pk}, format="json"
                       ).status_code == 403
    assert len(as_rep.get("/api/v1/visit-cadences/").json()) == 4
    assert as_rep.post("/api/v1/visit-cadences/", {"tier": "A", "visits_per_year": 52}, format="json"
                       ).status_code == 403


def test_call_plan_json_and_ics(world, as_rep):
    next_monday = dt.date.today() + dt.timedelta(days=7 - dt.date.today().weekday())
    response = as_rep.get("/api/v1/call-plans/", {"week": next_monday.isoformat()})
    assert response.status_code == 200, response.content
    plan = response.json()
    assert plan["week_start"] == next_monday.isoformat() and plan["candidates"] == 3
    visits = [visit["account_name"] for day in plan["days"] for visit in day["visits"]]
    assert sorted(visits) == ["Acme Austin", "Bravo Round Rock", "Cedar San Marcos"]
    day = next(day for day in plan["days"] if day["visits"])
    assert day["route"][0] == day["route"][-1] == [-97.74, 30.27]  # from and back home
    ics = as_rep.get("/api/v1/call-plans/ics/", {"week": next_monday.isoformat()})
    assert ics.status_code == 200 and ics["Content-Type"].startswith("text/calendar")
    body = ics.content.decode()
    assert body.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n") and body.endswith("END:VCALENDAR\r\n")
    assert body.count("BEGIN:VEVENT") == 3 and "SUMMARY:Visit Acme Austin (tier A)" in body
    assert all(len(line.encode()) <= 75 for line in body.split("\r\n"))


def test_schema_documents_the_reps_api(world, as_manager):
    schema = as_manager.get("/api/schema/", {"format": "json"}).json()
    for path in ["/api/v1/me/accounts/", "/api/v1/rep-matches/accept/", "/api/v1/call-plans/ics/",
                 "/api/v1/coverage/overdue/", "/api/v1/workload/", "/api/v1/rep-assignments/vacancies/"]:
        assert path in schema["paths"], path


def test_activity_kinds(world):
    assert {"visit", "meeting"} <= set(Activity.Kind.values)


def test_book_rows_are_the_features_the_declared_fields_give(world, rep_user):
    """The book serializer writes its rows directly (reps.coverage.account_book_list gives the coordinates as
    floats); they are the features rest_framework_gis builds field by field from fully loaded accounts."""
    import json

    from rest_framework.utils.encoders import JSONEncoder
    from rest_framework_gis.serializers import GeoFeatureModelSerializer

    from reps.api.serializers import BookAccountSerializer
    from reps.coverage import account_attention_annotate, account_book_list, account_list_for_user

    acme, bravo, cedar = world.mine
    at = timezone.now()
    ActivityFactory(account=acme, rep=world.rep, kind="visit", occurred_at=at - dt.timedelta(days=3, seconds=7))
    ActivityFactory(account=cedar, rep=world.rep, kind="visit", occurred_at=at - dt.timedelta(days=400))
    OpportunityFactory(account=bravo, rep=world.rep, amount="1234.50")
    bravo.location = None
    bravo.potential = "98765.43"
    bravo.save()
    direct = BookAccountSerializer(list(account_book_list(user=rep_user, at=at)), many=True).data
    loaded = {account.pk: account for account in account_attention_annotate(account_list_for_user(user=rep_user),
                                                                             at=at)}
    generic = [GeoFeatureModelSerializer.to_representation(BookAccountSerializer(), loaded[feature["id"]])
               for feature in direct["features"]]
    assert [feature["id"] for feature in direct["features"]] == [bravo.pk, cedar.pk, acme.pk]  # attention order
    assert json.dumps(direct["features"], cls=JSONEncoder) == json.dumps(generic, cls=JSONEncoder)
    assert direct["features"][0]["geometry"] is None
    assert direct["features"][2]["geometry"] == {"type": "Point", "coordinates": [-97.7, 30.3]}


def test_book_pages_count_with_the_page_what_a_count_query_gives(world, as_rep, monkeypatch):
    """The book's total comes with its rows (COUNT(*) OVER ()); pages, the past-the-end page and a bad number answer
    as plain numbered pages do."""
    from rest_framework.pagination import PageNumberPagination

    for index in range(4):
        place(world.central, lon=-97.5 + index * 0.01, lat=30.2, name=f"Extra {index}")
    monkeypatch.setattr(PageNumberPagination, "page_size", 3)
    with CaptureQueriesContext(connection) as queries:
        first = as_rep.get("/api/v1/me/accounts/").json()
    assert not any("COUNT(*) AS" in query["sql"] for query in queries.captured_queries)
    second = as_rep.get("/api/v1/me/accounts/", {"page": 3}).json()
    assert (first["count"], len(first["results"]["features"]), first["previous"]) == (7, 3, None)
    assert first["next"].endswith("page=2")
    assert (second["count"], len(second["results"]["features"]), second["next"]) == (7, 1, None)
    for page in (4, "x", 0):
        past = as_rep.get("/api/v1/me/accounts/", {"page": page}).json()
        assert (past["count"], past["results"]["features"]) == (7, [])
    filtered = as_rep.get("/api/v1/me/accounts/", {"q": "extra", "page": 2}).json()
    assert (filtered["count"], [f["properties"]["name"] for f in filtered["results"]["features"]]) == (4, ["Extra 3"])
