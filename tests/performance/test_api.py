"""The performance API: quotas, opportunities and their CSV import, snapshots, flags, recompute, CSV export."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import Job
from performance.models import KpiSnapshot, Opportunity
from performance.services.kpis import kpi_recompute
from tests.factories import OpportunityFactory, QuotaFactory, RepFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def computed(world):
    kpi_recompute(scenario=world.scenario, period=world.period)
    return world


def _csv(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("deals.csv", text.encode(), content_type="text/csv")


def test_reps_read_only_their_own_snapshots_quotas_and_opportunities(api_client, computed, rep_user):
    world = computed
    world.one.user = rep_user
    world.one.save()
    QuotaFactory(territory=None, rep=world.one, period_start=world.period.start, period_end=world.period.end)
    QuotaFactory(territory=None, rep=world.two, period_start=world.period.start, period_end=world.period.end)
    api_client.force_authenticate(rep_user)
    snapshots = api_client.get("/api/v1/kpi-snapshots/").json()["results"]
    assert [(s["scope"], s["rep"]) for s in snapshots] == [("rep", world.one.pk)]
    assert {q["rep"] for q in api_client.get("/api/v1/quotas/").json()["results"]} == {world.one.pk}
    assert {o["rep"] for o in api_client.get("/api/v1/opportunities/").json()["results"]} == {world.one.pk}
    assert api_client.get(f"/api/v1/kpi-snapshots/?rep={world.two.pk}").json()["count"] == 0
    assert api_client.post("/api/v1/kpi-snapshots/recompute/", {}, format="json").status_code == 403
    assert api_client.post("/api/v1/quotas/", {"rep": world.one.pk, "period_start": "2024-07-01",
                                               "period_end": "2024-09-30", "target": "1"}).status_code == 403


def test_a_rep_without_a_linked_rep_record_sees_nothing(api_client, computed, rep_user):
    api_client.force_authenticate(rep_user)
    assert api_client.get("/api/v1/kpi-snapshots/").json()["count"] == 0
    assert api_client.get("/api/v1/kpi-flags/").json() == []


def test_snapshot_filters_and_query_budget(api_client, computed, manager_user):
    world = computed
    api_client.force_authenticate(manager_user)
    base = f"/api/v1/kpi-snapshots/?scenario={world.scenario.pk}&period_start=2024-07-01&period_end=2024-09-30"
    with CaptureQueriesContext(connection) as queries:
        body = api_client.get(base).json()
    assert body["count"] == 8
    assert len(queries) <= 8, [q["sql"][:80] for q in queries]
    assert {s["territory"] for s in api_client.get(base + "&scope=territory&is_leaf=true").json()["results"]} == {
        world.l1.pk, world.l2.pk}
    flagged = api_client.get(base + "&flag=unbalanced&scope=territory").json()["results"]
    assert {s["territory"] for s in flagged} == {world.l1.pk, world.l2.pk}
    level = api_client.get(base + "&scope=level&level=1").json()["results"][0]
    assert level["subject"] == "Level 1" and level["metrics"]["cv_potential"] == 0.25


def test_flags_endpoint_lists_reasons_worst_first_with_links(api_client, computed, manager_user):
    world = computed
    api_client.force_authenticate(manager_user)
    flags = api_client.get(f"/api/v1/kpi-flags/?scenario={world.scenario.pk}&scope=territory").json()
    assert flags[0]["severity"] == "high"
    left = [f for f in flags if f["territory_id"] == world.l1.pk]
    assert {f["code"] for f in left} == {"under_performing", "unbalanced"}
    assert all(f["link"] for f in flags)


def test_recompute_post_returns_a_job_and_queues_it_after_commit(api_client, world, manager_user,
                                                                 django_capture_on_commit_callbacks):
    api_client.force_authenticate(manager_user)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api_client.post("/api/v1/kpi-snapshots/recompute/", {
            "scenario": world.scenario.pk, "period_start": "2024-07-01", "period_end": "2024-09-30"}, format="json")
    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["job"])
    assert (job.kind, job.status, job.params["period_start"]) == ("kpi_recompute", "queued", "2024-07-01")
    assert response.json()["url"] == f"/api/v1/jobs/{job.pk}/"
    assert len(callbacks) == 1  # the task is sent only once the transaction commits
    bad = api_client.post("/api/v1/kpi-snapshots/recompute/", {"period_start": "2024-07-01"}, format="json")
    assert bad.status_code == 400


def test_quota_rollup_endpoint(api_client, world, manager_user):
    api_client.force_authenticate(manager_user)
    body = api_client.get(f"/api/v1/quotas/rollup/?scenario={world.scenario.pk}&period_start=2024-07-01"
                          f"&period_end=2024-09-30").json()
    assert body["targets"] == {str(world.root.pk): "160546.45", str(world.l1.pk): "60000.00",
                               str(world.l2.pk): "100546.45"}


def test_quota_validation(api_client, world, manager_user):
    api_client.force_authenticate(manager_user)
    response = api_client.post("/api/v1/quotas/", {"period_start": "2024-07-01", "period_end": "2024-06-30",
                                                   "target": "5"}, format="json")
    assert response.status_code == 400
    ok = api_client.post("/api/v1/quotas/", {"territory": world.l1.pk, "metric": "visits",
                                             "period_start": "2024-07-01", "period_end": "2024-09-30",
                                             "target": "30"}, format="json")
    assert ok.status_code == 201, ok.json()


HEADER = "external_id,account_external_id,name,stage,amount,close_date,created_date,rep_email,product\n"


def test_opportunity_import_is_all_or_nothing_with_a_per_row_report(api_client, world, manager_user):
    api_client.force_authenticate(manager_user)
    text = HEADER + (
        "D-1,a1,Big deal,won,1000,2024-08-01,2024-06-01,one@example.com,core\n"
        "D-2,nobody,Ghost,won,5,2024-08-01,,,\n"
        "D-3,b1,Odd,maybe,5,2024-08-01,,,\n"
        "D-4,b1,Bad amount,won,lots,2024-13-01,,,\n"
    )
    response = api_client.post("/api/v1/opportunities/import/", {"file": _csv(text)}, format="multipart")
    assert response.status_code == 400
    body = response.json()
    assert body["committed"] is False and body["errors"] == 3
    assert body["report"] == [
        {"line": 3, "column": "account_external_id", "message": "account_external_id no account with external id "
                                                                 "'nobody'"},
        {"line": 4, "column": "stage", "message": "stage 'maybe' is not one of prospecting, qualified, proposal, "
                                                   "negotiation, won, lost"},
        {"line": 5, "column": "amount", "message": "amount 'lots' is not a number"},
        {"line": 5, "column": "close_date", "message": "close_date '2024-13-01' is not a date (YYYY-MM-DD)"},
    ]
    assert not Opportunity.objects.filter(external_id="D-1").exists()

    skipped = api_client.post("/api/v1/opportunities/import/", {"file": _csv(text), "skip_bad_rows": "true"},
                              format="multipart")
    assert skipped.status_code == 200 and skipped.json()["created"] == 1 and skipped.json()["skipped"] == 3
    deal = Opportunity.objects.get(external_id="D-1")
    assert (deal.account, deal.rep, deal.amount, deal.stage) == (world.a1, world.one, Decimal("1000.00"), "won")


def test_opportunity_import_updates_by_external_id(api_client, world, manager_user):
    api_client.force_authenticate(manager_user)
    OpportunityFactory(external_id="D-9", account=world.b1, amount=Decimal("5"), stage="prospecting")
    text = HEADER + "D-9,b1,Renamed,Closed won,777.5,2024-09-01,2024-08-01,,\n"
    body = api_client.post("/api/v1/opportunities/import/", {"file": _csv(text)}, format="multipart").json()
    assert (body["created"], body["updated"], body["committed"]) == (0, 1, True)
    deal = Opportunity.objects.get(external_id="D-9")
    assert (deal.name, deal.stage, deal.amount, deal.close_date) == ("Renamed", "won", Decimal("777.50"),
                                                                     dt.date(2024, 9, 1))
    missing = api_client.post("/api/v1/opportunities/import/", {"file": _csv("external_id,name\nX,Y\n")},
                              format="multipart").json()
    assert missing["committed"] is False and "account_external_id" in missing["message"]


def test_csv_export_of_a_kpi_table(client, computed, manager_user):
    world = computed
    client.force_login(manager_user)
    response = client.get(f"/performance/export.csv?scenario={world.scenario.pk}&scope=territory&is_leaf=true")
    assert response["Content-Type"] == "text/csv"
    lines = b"".join(response.streaming_content).decode().splitlines()
    header = lines[0].split(",")
    assert header[:3] == ["scope", "territory_code", "territory_name"] and "attainment" in header
    rows = {line.split(",")[1]: dict(zip(header, line.split(","), strict=False)) for line in lines[1:]}
    assert set(rows) == {"L1", "L2"}
    assert (rows["L1"]["attainment"], rows["L2"]["visit_coverage"]) == ("50.0", "0.0")
    api = client.get(f"/api/v1/kpi-snapshots/export/?scenario={world.scenario.pk}&scope=rep")
    assert len(b"".join(api.streaming_content).decode().splitlines()) == 3


def test_rep_progress_page_and_dashboard_permissions(client, computed, rep_user, manager_user):
    rep = RepFactory(user=rep_user, name="Linked Rep")
    client.force_login(rep_user)
    assert client.get("/performance/").url == "/performance/me/"
    page = client.get("/performance/me/")
    assert page.status_code == 200 and b"Linked Rep" in page.content
    assert client.get("/performance/map.geojson").status_code == 403
    client.force_login(manager_user)
    page = client.get(f"/performance/?period=quarter&date=2024-08-01&scenario={computed.scenario.pk}")
    assert page.status_code == 200 and b"attainment 50% under 80% while coverage 50% under 60%" in page.content
    features = client.get(f"/performance/map.geojson?scenario={computed.scenario.pk}&period_start=2024-07-01"
                          f"&period_end=2024-09-30").json()["features"]
    assert {f["properties"]["code"]: f["properties"]["metrics"]["attainment"] for f in features} == {
        "L1": 50.0, "L2": 89.5}
    assert rep.pk
    assert KpiSnapshot.objects.count() == 8
