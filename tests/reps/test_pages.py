import datetime as dt

import pytest
from django.urls import reverse

from performance.models import Activity
from reps.models import RepAssignment
from tests.factories import ScenarioFactory, TerritoryFactory
from tests.reps.conftest import place


@pytest.fixture
def rep_client(client, rep_user):
    client.force_login(rep_user)
    return client


def test_urls_are_where_the_navigation_expects_them():
    assert reverse("reps:my-book") == "/reps/me/"
    assert reverse("reps:rep-list") == "/reps/"
    assert reverse("reps:coverage") == "/reps/coverage/"


def test_my_book_lists_only_my_accounts(world, rep_client):
    response = rep_client.get("/reps/me/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Acme Austin" in page and "Cedar San Marcos" in page
    assert "Delta Dallas" not in page and "Echo Fort Worth" not in page
    assert [f["name"] for f in response.context["map_data"]["accounts"]] == [
        "Acme Austin", "Bravo Round Rock", "Cedar San Marcos"
    ]
    assert "leaflet.markercluster.js" in page and "unpkg" not in page and "cdn" not in page.lower()
    filtered = rep_client.get("/reps/me/", {"q": "bravo", "tier": ["B"]})
    assert [a.name for a in filtered.context["page"]] == ["Bravo Round Rock"]


def test_guessing_another_reps_account_is_a_404(world, rep_client):
    assert rep_client.get(f"/reps/me/accounts/{world.theirs[0].pk}/").status_code == 404
    assert rep_client.get(f"/reps/me/accounts/{world.mine[0].pk}/").status_code == 200


def test_logging_a_visit_from_the_account_page(world, rep_client):
    acme = world.mine[0]
    when = (dt.datetime.now() - dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    response = rep_client.post(f"/reps/me/accounts/{acme.pk}/", {
        "kind": "visit", "occurred_at": when, "duration_minutes": 30, "outcome": "Quote sent", "notes": "",
    })
    assert response.status_code == 302
    activity = Activity.objects.get(account=acme)
    assert (activity.rep, activity.notes) == (world.rep, "Outcome: Quote sent")
    assert rep_client.post(f"/reps/me/accounts/{world.theirs[0].pk}/", {"kind": "visit"}).status_code == 404


def test_call_plan_page_and_ics(world, rep_client):
    response = rep_client.get("/reps/plan/")
    assert response.status_code == 200
    routes = response.context["map_data"]["routes"]
    assert sum(len(route["stops"]) for route in routes) == 3
    assert response.context["map_data"]["home"] == {"lon": -97.74, "lat": 30.27}
    ics = rep_client.get("/reps/plan.ics")
    assert ics.status_code == 200 and ics.content.count(b"BEGIN:VEVENT") == 3
    assert rep_client.get("/reps/plan/", {"rep": world.other_rep.pk}).context["rep"] == world.rep


def test_reps_cannot_open_manager_pages(world, rep_client):
    for url in ["/reps/", "/reps/coverage/", "/reps/match/", f"/reps/{world.rep.pk}/", "/reps/export.csv"]:
        assert rep_client.get(url).status_code == 403, url


def test_manager_pages_are_scoped(world, manager_client):
    page = manager_client.get("/reps/").content.decode()
    assert "Alice Central" in page and "Bob North" not in page
    assert manager_client.get(f"/reps/{world.other_rep.pk}/").status_code == 404
    assert manager_client.get(f"/reps/{world.other_rep.pk}/edit/").status_code == 404
    export = b"".join(manager_client.get("/reps/export.csv").streaming_content).decode()
    assert "Alice Central" in export and "Bob North" not in export
    coverage = manager_client.get("/reps/coverage/")
    assert [row.name for row in coverage.context["territories"]] == ["R-C Central"]
    csv = b"".join(manager_client.get("/reps/coverage/export.csv", {"status": "never"}).streaming_content).decode()
    assert "Acme Austin" in csv and "Delta Dallas" not in csv


def test_manager_edits_a_rep(world, manager_client):
    response = manager_client.post(f"/reps/{world.rep.pk}/edit/", {
        "name": "Alice Central", "role": "field", "seniority": 3, "capacity_hours": 1500, "is_active": "on",
        "team": world.team.pk, "home_latitude": 30.3, "home_longitude": -97.7, "industries": "software, retail",
    })
    assert response.status_code == 302, response.context["form"].errors
    world.rep.refresh_from_db()
    assert (world.rep.seniority, world.rep.industries, world.rep.home_location.x) == (3, ["software", "retail"], -97.7)


def test_match_page_proposes_and_accepts(world, manager_client):
    plan = ScenarioFactory(name="Next year")
    west = TerritoryFactory(scenario=plan, code="P-W", name="West")
    place(west, lon=-97.74, lat=30.27)
    response = manager_client.get("/reps/match/", {"scenario": plan.pk, "travel": 0.5, "expertise": 0.3,
                                                   "value": 0.2})
    assert response.status_code == 200
    [proposal] = response.context["result"].proposals
    assert proposal.rep_id == world.rep.pk
    response = manager_client.post("/reps/match/", {"accept": [f"{west.pk}:{world.rep.pk}"], "scenario": plan.pk})
    assert response.status_code == 302
    assert RepAssignment.objects.get(territory=west).rep == world.rep
