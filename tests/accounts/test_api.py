"""The accounts API: rep scope, history at a date, import job, export, and an allocation job on the real worker."""

import datetime as dt

import pytest
from django.contrib.gis.geos import Point
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

import conftest
from accounts.models import AccountAssignment
from core.models import Job
from tests.factories import (
    AccountAssignmentFactory,
    AccountFactory,
    RepAssignmentFactory,
    RepFactory,
    ScenarioFactory,
    TerritoryFactory,
    square,
)


@pytest.fixture
def book(rep_user):
    """An active scenario with two leaves; the rep owns N, which holds one of three accounts."""
    scenario = ScenarioFactory(status="active")
    north = TerritoryFactory(scenario=scenario, code="N", boundary=square(0, 0))
    south = TerritoryFactory(scenario=scenario, code="S", boundary=square(0, -1))
    RepAssignmentFactory(rep=RepFactory(user=rep_user, name="Rita"), territory=north)
    mine = AccountFactory(external_id="MINE", location=Point(0.5, 0.5, srid=4326))
    AccountAssignmentFactory(account=mine, territory=north, source="geography")
    other = AccountFactory(external_id="OTHER", location=Point(0.5, -0.5, srid=4326))
    AccountAssignmentFactory(account=other, territory=south, source="geography")
    AccountFactory(external_id="LOOSE", location=None)
    return scenario, north, south, mine, other


@pytest.mark.django_db
def test_a_rep_sees_only_their_accounts_and_cannot_write(api_client, rep_user, book):
    api_client.force_authenticate(rep_user)
    response = api_client.get("/api/v1/accounts/")
    assert [a["external_id"] for a in response.json()["results"]] == ["MINE"]
    assert response.json()["results"][0]["owner_rep_name"] == "Rita"
    assert api_client.get(f"/api/v1/accounts/{book[4].pk}/").status_code == 404
    assert api_client.patch(f"/api/v1/accounts/{book[3].pk}/", {"name": "x"}, format="json").status_code == 403
    assert api_client.post("/api/v1/allocation/run/", {"scenario": book[0].pk}, format="json").status_code == 403


@pytest.mark.django_db
def test_account_list_query_budget(api_client, manager_user, book, django_assert_max_num_queries):
    api_client.force_authenticate(manager_user)
    for _ in range(10):
        AccountAssignmentFactory(territory=book[1])
    with django_assert_max_num_queries(6):
        response = api_client.get(f"/api/v1/accounts/?territory={book[1].pk}")
    assert response.json()["count"] == 11
    assert {a["territory_code"] for a in response.json()["results"]} == {"N"}


@pytest.mark.django_db
def test_history_answers_who_owned_the_account_on_a_date(api_client, manager_user, book):
    from accounts.services.allocation import allocation_run

    api_client.force_authenticate(manager_user)
    scenario, north, south, mine, _other = book
    before = timezone.now()
    mine.location = Point(0.5, -0.5, srid=4326)
    mine.save()
    allocation_run(scenario=scenario, account_ids=[mine.pk])
    then = api_client.get(f"/api/v1/accounts/{mine.pk}/history/", {"at": before.isoformat()}).json()
    assert then["territory"]["code"] == "N" and then["rep"]["name"] == "Rita"
    now = api_client.get(f"/api/v1/accounts/{mine.pk}/history/").json()
    assert now["territory"]["code"] == "S" and now["rep"] is None
    assert [(h["territory_code"], h["valid_to"] is None) for h in now["history"]] == [("S", True), ("N", False)]
    assert now["history"][0]["why"] == "Territory boundary"
    alignment = api_client.get("/api/v1/alignment/", {"at": (before - dt.timedelta(seconds=1)).isoformat(),
                                                      "scenario": scenario.pk}).json()
    assert sorted(r["territory_code"] for r in alignment["results"]) == ["N", "S"]


@pytest.mark.django_db
def test_export_streams_csv(client, manager_user, book):
    client.force_login(manager_user)
    response = client.get("/api/v1/accounts/export/?file_format=csv")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].startswith("external_id,name,") and lines[0].endswith("assignment_source,assignment_reason")
    assert len(lines) == 4
    assert any(line.startswith("MINE,") and ",N," in line and "Rita" in line for line in lines)


@pytest.mark.django_db
def test_override_through_the_api_applies_at_once(api_client, manager_user, book):
    scenario, north, south, mine, other = book
    api_client.force_authenticate(manager_user)
    response = api_client.post("/api/v1/overrides/", {"scenario": scenario.pk, "account": other.pk,
                                                      "territory": north.pk, "reason": "Key account"}, format="json")
    assert response.status_code == 201, response.content
    current = AccountAssignment.objects.get(account=other, valid_to__isnull=True)
    assert (current.territory, current.source, current.reason) == (north, "override", "Key account")


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_allocation_and_import_jobs_run_on_the_real_worker(api_client, manager_user, celery_worker_process,
                                                           settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    scenario = ScenarioFactory(status="active")
    TerritoryFactory(scenario=scenario, code="W", boundary=square(0, 0))
    api_client.force_authenticate(manager_user)
    upload = SimpleUploadedFile("accounts.csv", b"external_id,name,longitude,latitude\nJ1,Job one,0.5,0.5\n"
                                                b"J2,Job two,9,9\n", content_type="text/csv")
    accepted = api_client.post("/api/v1/accounts/import/", {"file": upload, "reallocate": "false"},
                               format="multipart")
    assert accepted.status_code == 202, accepted.content
    job_id = accepted.json()["job"]
    job = conftest.wait_for(lambda: Job.objects.filter(pk=job_id, status__in=["succeeded", "failed"]).first(), 60)
    assert job.status == "succeeded", job.error
    assert (job.result["created"], job.result["committed"]) == (2, True)

    kpi_jobs_before = set(Job.objects.filter(kind="kpi_recompute").values_list("pk", flat=True))
    preview = api_client.post("/api/v1/allocation/preview/", {"scenario": scenario.pk}, format="json")
    job_id = preview.json()["job"]
    job = conftest.wait_for(lambda: Job.objects.filter(pk=job_id, status__in=["succeeded", "failed"]).first(), 60)
    assert job.status == "succeeded", job.error
    assert (job.result["newly_assigned"], job.result["unassigned"]) == (1, 1)
    assert AccountAssignment.objects.count() == 0
    # a preview changes no book, so it queues no KPI refresh
    assert set(Job.objects.filter(kind="kpi_recompute").values_list("pk", flat=True)) == kpi_jobs_before

    run = api_client.post("/api/v1/allocation/run/", {"scenario": scenario.pk}, format="json")
    job_id = run.json()["job"]
    job = conftest.wait_for(lambda: Job.objects.filter(pk=job_id, status__in=["succeeded", "failed"]).first(), 60)
    assert job.status == "succeeded", job.error
    assert job.progress == 100.0
    assert api_client.get(f"/api/v1/jobs/{job_id}/").json()["result"]["inserted"] == 1
    assert list(AccountAssignment.objects.values_list("account__external_id", "territory__code")) == [("J1", "W")]
    # the run changed a book in the active scenario, so the job queued the KPI refresh, as a run from code does
    refresh = Job.objects.filter(kind="kpi_recompute").exclude(pk__in=kpi_jobs_before).get()
    assert (refresh.params["scenario_id"], refresh.params["months"]) == (scenario.pk, 1)
