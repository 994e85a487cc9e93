"""The issue's "done when": an integration with only an API token loads accounts, runs an allocation through the
real Celery worker and reads the results (assignments in force now, the export), and hears about it by webhook."""

import csv
import io

import pytest

import conftest
from core.models import WebhookDelivery, WebhookSubscription
from core.tokens import api_token_create
from tests.factories import RepAssignmentFactory, RepFactory, ScenarioFactory, TerritoryFactory, square


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_an_integration_with_a_token_loads_allocates_and_reads(client, manager_user, celery_worker_process):
    scenario = ScenarioFactory(name="FY26", status="active")
    west = TerritoryFactory(scenario=scenario, code="W", boundary=square(0, 0))
    TerritoryFactory(scenario=scenario, code="E", boundary=square(1, 0))
    RepAssignmentFactory(rep=RepFactory(name="Wendy"), territory=west)
    token = api_token_create(user=manager_user, name="crm")[1]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    WebhookSubscription.objects.create(owner=manager_user, url="http://127.0.0.1:9/unreachable", secret="s",
                                       events=["account.reassigned"])

    items = [{"external_id": "CRM-1", "name": "Acme", "longitude": 0.5, "latitude": 0.5},
             {"external_id": "CRM-2", "name": "Globex", "longitude": 1.5, "latitude": 0.5},
             {"external_id": "CRM-3", "name": "Initech", "longitude": 0.2, "latitude": 0.8},
             {"external_id": "CRM-4", "name": "Far away", "longitude": 40, "latitude": 40}]
    loaded = client.post("/api/v1/accounts/bulk/", {"items": items, "reallocate": False},
                         content_type="application/json", **headers)
    assert loaded.status_code == 200, loaded.content
    assert (loaded.json()["created"], loaded.json()["committed"]) == (4, True)

    run = client.post("/api/v1/allocation/run/", {"scenario": scenario.pk}, content_type="application/json",
                      HTTP_IDEMPOTENCY_KEY="nightly-2026-03-31", **headers)
    assert run.status_code == 202, run.content
    retried = client.post("/api/v1/allocation/run/", {"scenario": scenario.pk}, content_type="application/json",
                          HTTP_IDEMPOTENCY_KEY="nightly-2026-03-31", **headers)
    assert retried.json()["job"] == run.json()["job"]

    def finished():
        job = client.get(run.json()["url"], **headers).json()
        return job if job["status"] in ("succeeded", "failed") else None

    job = conftest.wait_for(finished, 60)
    assert job["status"] == "succeeded", job["error"]
    assert (job["result"]["newly_assigned"], job["result"]["unassigned"], job["progress"]) == (3, 1, 100.0)

    assignments = client.get("/api/v1/assignments/?as_of=now&cursor=", **headers).json()
    assert sorted((row["account_external_id"], row["territory_code"], row["source"])
                  for row in assignments["results"]) == [
        ("CRM-1", "W", "geography"), ("CRM-2", "E", "geography"), ("CRM-3", "W", "geography")]
    assert assignments["next"] is None

    export = client.get("/api/v1/accounts/export/?file_format=csv", **headers)
    rows = {row["external_id"]: row for row in csv.DictReader(io.StringIO(b"".join(export.streaming_content)
                                                                          .decode()))}
    assert {key: (row["territory_code"], row["rep"]) for key, row in rows.items()} == {
        "CRM-1": ("W", "Wendy"), "CRM-2": ("E", ""), "CRM-3": ("W", "Wendy"), "CRM-4": ("", "")}

    [event] = WebhookDelivery.objects.filter(event="account.reassigned")  # one event for the run, not three
    assert [(a["external_id"], a["to_code"]) for a in event.payload["accounts"]] == [
        ("CRM-1", "W"), ("CRM-2", "E"), ("CRM-3", "W")]
