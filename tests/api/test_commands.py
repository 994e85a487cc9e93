"""Every command POST answers 202 with a job at once; the same Idempotency-Key returns that job, queued once."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.models import Job
from territories.models import Scenario, ScenarioEvent
from territories.services import scenario_activate
from tests.api.jobs import job_run_now
from tests.factories import ScenarioFactory, TerritoryFactory, square

pytestmark = pytest.mark.django_db


@pytest.fixture
def scenarios():
    """An archived scenario, the active one that replaced it, and a planning one."""
    old = ScenarioFactory(name="FY25", status=Scenario.Status.ARCHIVED)
    live = ScenarioFactory(name="FY26", status=Scenario.Status.ACTIVE, previous_active=old)
    plan = ScenarioFactory(name="FY27")
    TerritoryFactory(scenario=live, code="N", boundary=square(0, 0))
    return old, live, plan


def _accounts_csv():
    return SimpleUploadedFile("accounts.csv", b"external_id,name\nA1,Acme\n", content_type="text/csv")


def _units_geojson():
    feature = {"type": "Feature", "properties": {"code": "U1"},
               "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}}
    body = json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()
    return SimpleUploadedFile("units.geojson", body, content_type="application/geo+json")


COMMANDS = {
    "allocation preview": lambda s: ("/api/v1/allocation/preview/", {"scenario": s[1].pk}, "json"),
    "allocation run": lambda s: ("/api/v1/allocation/run/", {"scenario": s[2].pk}, "json"),
    "kpi recompute": lambda s: ("/api/v1/kpi-snapshots/recompute/",
                                {"scenario": s[1].pk, "period_start": "2026-01-01", "period_end": "2026-03-31"},
                                "json"),
    "activation": lambda s: (f"/api/v1/scenarios/{s[2].pk}/activate/", {}, "json"),
    "rollback": lambda s: (f"/api/v1/scenarios/{s[1].pk}/rollback/", {}, "json"),
    "account import": lambda s: ("/api/v1/accounts/import/", {"file": _accounts_csv()}, "multipart"),
    "geo unit import": lambda s: ("/api/v1/geo-units/import/",
                                  {"file": _units_geojson(), "layer_name": "L", "code_field": "code"}, "multipart"),
}


@pytest.mark.parametrize("command", COMMANDS)
def test_a_retried_command_returns_the_same_job_queued_once(manager_api, scenarios, command,
                                                            django_capture_on_commit_callbacks):
    path, body, body_format = COMMANDS[command](scenarios)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = manager_api.post(path, body, format=body_format, HTTP_IDEMPOTENCY_KEY=f"key-{command}")
        path, body, body_format = COMMANDS[command](scenarios)  # a fresh upload, as a client retrying sends
        again = manager_api.post(path, body, format=body_format, HTTP_IDEMPOTENCY_KEY=f"key-{command}")
    assert (first.status_code, again.status_code) == (202, 202), (first.content, again.content)
    assert first.json()["job"] == again.json()["job"]
    assert first["Location"] == first.json()["url"] == f"/api/v1/jobs/{first.json()['job']}/"
    assert Job.objects.filter(idempotency_key=f"key-{command}").count() == 1
    assert len(callbacks) == 1  # sent to the queue once, after the commit
    other = manager_api.post(*COMMANDS[command](scenarios)[:2], format=body_format, HTTP_IDEMPOTENCY_KEY="other")
    assert other.status_code in (202, 400) and other.json().get("job") != first.json()["job"]


def test_activation_is_a_job_that_runs_the_lifecycle_service(manager_api, manager_user, scenarios):
    old, live, plan = scenarios
    accepted = manager_api.post(f"/api/v1/scenarios/{plan.pk}/activate/")
    assert accepted.json()["status"] == "queued"
    assert Scenario.objects.get(pk=plan.pk).status == "planning"  # nothing happens before the worker runs it
    job = job_run_now(accepted)
    assert (job.kind, job.status, job.result["scenario"], job.result["previous_active"]) == (
        "activation", "succeeded", plan.pk, live.pk)
    assert job.message == 'Scenario "FY27" is active.'
    assert dict(Scenario.objects.filter(pk__in=[live.pk, plan.pk]).values_list("name", "status")) == {
        "FY26": "archived", "FY27": "active"}
    event = ScenarioEvent.objects.get(scenario=plan, action="activated")
    assert event.actor == manager_user
    assert Scenario.objects.get(pk=plan.pk).history.first().history_user == manager_user


def test_rollback_is_a_job_and_refusals_answer_400_at_once(manager_api, scenarios):
    old, live, plan = scenarios
    refused = manager_api.post(f"/api/v1/scenarios/{plan.pk}/rollback/")
    assert refused.status_code == 400 and refused.json() == {
        "code": "invalid", "message": "Only the active scenario can be rolled back.",
        "errors": ["Only the active scenario can be rolled back."]}
    assert manager_api.post(f"/api/v1/scenarios/{live.pk}/activate/").json()["message"] == (
        'Scenario "FY26" is already active.')
    job = job_run_now(manager_api.post(f"/api/v1/scenarios/{live.pk}/rollback/"))
    assert (job.kind, job.status, job.message) == ("rollback", "succeeded", 'Scenario "FY25" is active again.')
    assert dict(Scenario.objects.values_list("name", "status")) == {
        "FY25": "active", "FY26": "planning", "FY27": "planning"}
    assert not Job.objects.filter(status="queued").exists()


def test_a_failed_activation_is_a_failed_job_with_the_reason(manager_api, scenarios):
    old, live, plan = scenarios
    accepted = manager_api.post(f"/api/v1/scenarios/{plan.pk}/activate/")
    scenario_activate(scenario=plan)  # someone else got there first
    job = job_run_now(accepted)
    assert (job.status, job.message) == ("failed", "['Scenario \"FY27\" is already active.']")


def test_reps_cannot_run_commands(api_client, rep_user, scenarios):
    api_client.force_authenticate(rep_user)
    for command in ("allocation run", "activation", "rollback", "kpi recompute"):
        path, body, body_format = COMMANDS[command](scenarios)
        assert api_client.post(path, body, format=body_format).status_code == 403
    assert not Job.objects.exists()


def test_an_idempotency_key_over_200_characters_is_refused(manager_api, scenarios):
    response = manager_api.post("/api/v1/allocation/run/", {"scenario": scenarios[2].pk}, format="json",
                                HTTP_IDEMPOTENCY_KEY="k" * 201)
    assert response.status_code == 400 and response.json()["message"] == "Idempotency-Key: Use at most 200 characters."
