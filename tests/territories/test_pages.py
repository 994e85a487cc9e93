"""Manager pages: scenario list and its buttons, detail with tree and rules editor, compare, allocation, imports;
account pages: owner and history, rep scope, import and export."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.models import Job
from territories.models import AssignmentRule, Scenario
from tests.factories import (
    AccountAssignmentFactory,
    AccountFactory,
    ActivityFactory,
    RepAssignmentFactory,
    RepFactory,
    ScenarioFactory,
    TerritoryFactory,
)

pytestmark = pytest.mark.django_db


def test_scenario_list_create_clone_activate(manager_client):
    page = manager_client.get(reverse("territories:scenario-list"))
    assert page.status_code == 200
    manager_client.post(reverse("territories:scenario-list"), {"name": "FY27"})
    scenario = Scenario.objects.get(name="FY27")
    TerritoryFactory(scenario=scenario, code="N")
    manager_client.post(reverse("territories:scenario-command", args=[scenario.pk, "clone"]), {"name": "FY27 b"})
    manager_client.post(reverse("territories:scenario-command", args=[scenario.pk, "activate"]))
    statuses = dict(Scenario.objects.values_list("name", "status"))
    assert statuses == {"FY27": "active", "FY27 b": "planning"}
    page = manager_client.get(reverse("territories:scenario-list")).content.decode()
    assert "Clone" in page and "Schedule" in page


def test_detail_shows_tree_and_rule_editor_refuses_bad_criteria(manager_client):
    scenario = ScenarioFactory(name="Plan")
    region = TerritoryFactory(scenario=scenario, code="REG", name="Region")
    TerritoryFactory(scenario=scenario, code="LEAF", parent=region)
    url = reverse("territories:rule-save", args=[scenario.pk])
    manager_client.post(url, {"territory": region.pk, "name": "Care", "priority": "5", "logic": "all",
                              "criteria": '[{"field": "industry", "op": "equals", "value": "healthcare"}]',
                              "applies_to_children": "on"})
    response = manager_client.post(url, {"territory": region.pk, "name": "Bad", "criteria": "[{"}, follow=True)
    assert "not valid JSON" in response.content.decode()
    assert list(AssignmentRule.objects.values_list("name", "applies_to_children")) == [("Care", True)]
    page = manager_client.get(reverse("territories:scenario-detail", args=[scenario.pk])).content.decode()
    assert 'data-territory="REG"' in page and 'data-territory="LEAF"' in page and "Rule “Care”" in page


def test_compare_page(manager_client):
    a, b = ScenarioFactory(name="A"), ScenarioFactory(name="B")
    AccountAssignmentFactory(territory=TerritoryFactory(scenario=a, code="N"))
    page = manager_client.get(reverse("territories:scenario-compare"), {"a": a.pk, "b": b.pk}).content.decode()
    assert "A → B" in page and "Assigned: 1 in A, 0 in B" in page


def test_allocation_page_queues_a_job_and_shows_its_outcome(manager_client):
    scenario = ScenarioFactory()
    response = manager_client.post(reverse("territories:allocation", args=[scenario.pk]), {"mode": "preview"})
    job = Job.objects.get()
    assert (job.kind, job.params["dry_run"]) == ("allocation_preview", True)
    assert response.url.endswith(f"?job={job.pk}")
    Job.objects.filter(pk=job.pk).update(status="succeeded", progress=100, result={
        "dry_run": True, "changed": 2, "moves": [{"from": None, "to": "N", "accounts": 2}], "multi_matches": 0,
        "multi_match_accounts": [], "unassigned_accounts": [], "warnings": []})
    page = manager_client.get(response.url).content.decode()
    assert "Preview: 2 accounts would change" in page


def test_managers_only(client, rep_user):
    client.force_login(rep_user)
    assert client.get(reverse("territories:scenario-list")).status_code == 403


def test_account_page_owner_history_and_rep_scope(client, manager_user, rep_user):
    scenario = ScenarioFactory(status="active")
    mine_territory = TerritoryFactory(scenario=scenario, code="MINE")
    RepAssignmentFactory(rep=RepFactory(user=rep_user, name="Rita"), territory=mine_territory)
    mine = AccountFactory(name="Mine Co")
    AccountAssignmentFactory(account=mine, territory=mine_territory, source="rule")
    ActivityFactory(account=mine, notes="Met the buyer")
    other = AccountFactory()
    AccountAssignmentFactory(account=other, territory=TerritoryFactory(scenario=scenario, code="ELSE"))
    client.force_login(rep_user)
    page = client.get(reverse("accounts:account-detail", args=[mine.pk])).content.decode()
    assert "MINE" in page and "Rita" in page and "Met the buyer" in page and "Assignment rule" in page
    assert client.get(reverse("accounts:account-detail", args=[other.pk])).status_code == 404
    listing = client.get(reverse("accounts:account-list")).content.decode()
    assert "Mine Co" in listing and other.name not in listing
    assert client.get(reverse("accounts:account-import")).status_code == 403
    client.force_login(manager_user)
    old = client.get(reverse("accounts:account-detail", args=[mine.pk]), {"at": "2001-01-01"}).content.decode()
    assert "No territory on that date" in old


def test_account_import_and_export_pages(manager_client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("a.csv", b"external_id,name\nX1,One\n", content_type="text/csv")
    response = manager_client.post(reverse("accounts:account-import"), {"file": upload, "skip_bad_rows": "on"})
    job = Job.objects.get(kind="account_import")
    assert response.url.endswith(f"?job={job.pk}") and job.params["skip_bad_rows"] is True
    Job.objects.filter(pk=job.pk).update(status="succeeded", result={
        "committed": False, "message": "Import rejected", "report": [{"line": 3, "column": "name",
                                                                       "message": "name is required"}]})
    page = manager_client.get(response.url).content.decode()
    assert "<td>3</td><td>name</td><td>name is required</td>" in page
    AccountFactory(external_id="E-1")
    export = manager_client.get(reverse("accounts:account-export"), {"file_format": "csv"})
    assert b"".join(export.streaming_content).decode().splitlines()[1].startswith("E-1,")
