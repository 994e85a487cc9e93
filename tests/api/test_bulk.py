"""Bulk upsert of accounts by external id: one transaction, a per-item report, all-or-nothing unless asked."""

import pytest
from django.test import override_settings

from accounts.models import Account
from core.api import bulk
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/accounts/bulk/"


def test_new_and_existing_accounts_are_upserted_by_external_id(manager_api):
    AccountFactory(external_id="CRM-1", name="Old name", city="Dallas", potential="10.00")
    response = manager_api.post(URL, {"items": [
        {"external_id": "CRM-1", "name": "Acme", "potential": "250000"},
        {"external_id": "CRM-2", "name": "Globex", "location": {"type": "Point", "coordinates": [-97.74, 30.27]},
         "tier": "A", "products": ["core", "cloud"]},
        {"external_id": "CRM-3", "name": "Initech", "longitude": -96.8, "latitude": 32.78},
    ], "reallocate": False}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert {key: body[key] for key in ("items", "errors", "created", "updated", "unchanged", "skipped",
                                       "committed", "message")} == {
        "items": 3, "errors": 0, "created": 2, "updated": 1, "unchanged": 0, "skipped": 0, "committed": True,
        "message": "2 accounts created, 1 updated, 0 unchanged, 0 skipped."}
    acme = Account.objects.get(external_id="CRM-1")
    assert (acme.name, acme.city, str(acme.potential)) == ("Acme", "Dallas", "250000.00")  # city left as it was
    globex = Account.objects.get(external_id="CRM-2")
    assert (globex.location.coords, globex.tier, globex.products) == ((-97.74, 30.27), "A", ["core", "cloud"])
    assert Account.objects.get(external_id="CRM-3").location.coords == (-96.8, 32.78)
    again = manager_api.post(URL, {"items": [{"external_id": "CRM-1", "name": "Acme"}]}, format="json").json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 1)


BAD_ITEMS = [
    {"external_id": "OK-1", "name": "Fine"},
    {"external_id": "BAD-1"},
    {"external_id": "BAD-2", "name": "Neg", "potential": "-5"},
    {"external_id": "BAD-3", "name": "Far", "location": {"type": "Point", "coordinates": [200, 0]}},
    "not an object",
    {"external_id": "OK-1", "name": "Twice"},
    {"external_id": "BAD-4", "name": "Tier", "tier": "Z"},
]
REPORT = [
    {"index": 1, "field": "name", "message": "name is required"},
    {"index": 2, "field": "potential", "message": "potential cannot be negative"},
    {"index": 3, "field": "location", "message": "location 200 is outside -180..180"},
    {"index": 4, "field": "item", "message": "item must be an object with external_id and name"},
    {"index": 5, "field": "external_id", "message": "external_id 'OK-1' appears again; first at item 0"},
    {"index": 6, "field": "tier", "message": "tier 'Z' is not one of A, B, C, D"},
]


def test_one_bad_item_saves_nothing_and_every_bad_item_is_reported(manager_api):
    response = manager_api.post(URL, {"items": BAD_ITEMS}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["committed"], body["errors"], body["report"]) == ("invalid", False, 6, REPORT)
    assert body["message"] == ("Rejected: 6 of 7 items have errors; nothing was saved. Fix them, or send again with "
                               "skip_invalid.")
    assert not Account.objects.exists()


def test_skip_invalid_saves_the_good_items(manager_api):
    response = manager_api.post(URL, {"items": BAD_ITEMS, "skip_invalid": True}, format="json")
    assert response.status_code == 200
    assert (response.json()["created"], response.json()["skipped"], response.json()["report"]) == (1, 6, REPORT)
    assert list(Account.objects.values_list("external_id", "name")) == [("OK-1", "Fine")]


def test_more_than_the_limit_is_a_413_pointing_to_the_import_job(manager_api, monkeypatch):
    import accounts.api.views as views

    monkeypatch.setattr(views, "BULK_MAX_ITEMS", 2)
    monkeypatch.setattr(bulk, "BULK_MAX_ITEMS", 2)
    items = [{"external_id": f"X{i}", "name": "x"} for i in range(3)]
    response = manager_api.post(URL, {"items": items}, format="json")
    assert response.status_code == 413
    assert response.json() == {"code": "too_large", "message": "3 items is more than the 2 one request takes; send "
                               "larger sets as a CSV file to POST /api/v1/accounts/import/, which runs as a job."}
    assert not Account.objects.exists()


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=20 * 1024 * 1024)
def test_ten_thousand_accounts_in_one_request(manager_api):
    items = [{"external_id": f"N{i:05d}", "name": f"Account {i}", "longitude": -97 + i / 10000, "latitude": 30,
              "potential": str(i)} for i in range(10_000)]
    response = manager_api.post(URL, {"items": items, "reallocate": False}, format="json")
    assert response.status_code == 200, response.content[:500]
    assert (response.json()["created"], Account.objects.count()) == (10_000, 10_000)


def test_reps_cannot_bulk_load(api_client, rep_user):
    api_client.force_authenticate(rep_user)
    assert api_client.post(URL, {"items": [{"external_id": "A", "name": "A"}]}, format="json").status_code == 403
