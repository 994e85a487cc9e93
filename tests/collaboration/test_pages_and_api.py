"""The pages and the REST API give the same answers and the same refusals as the services."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountAssignment
from collaboration.models import ChangeRequest, Notification

pytestmark = pytest.mark.django_db


def _file_by_api(api_client, world):
    api_client.force_authenticate(world["rep_user"])
    response = api_client.post("/api/v1/change-requests/", {
        "scenario": world["scenario"].pk, "kind": "move_accounts", "reason": "Closer to Bob",
        "payload": {"account_ids": [a.pk for a in world["a"][:3]], "to_territory_id": world["t2"].pk},
    }, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_api_rep_files_manager_approves_and_both_read_the_thread(api_client, world):
    body = _file_by_api(api_client, world)
    assert body["impact"]["moving"]["accounts"] == 3 and body["can_decide"] is False
    pk = body["id"]
    assert api_client.post(f"/api/v1/change-requests/{pk}/approve/", {}, format="json").status_code == 403

    api_client.force_authenticate(world["outsider_user"])
    assert api_client.get(f"/api/v1/change-requests/{pk}/").status_code == 404

    api_client.force_authenticate(world["manager"])
    assert api_client.get(f"/api/v1/change-requests/{pk}/").json()["can_decide"] is True
    assert api_client.get("/api/v1/notifications/unread-count/").json() == {"unread": 1}
    response = api_client.post(f"/api/v1/change-requests/{pk}/approve/", {"note": "ok"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "approved"
    moved = AccountAssignment.objects.filter(account__in=world["a"][:3], territory=world["t2"], valid_to__isnull=True)
    assert moved.filter(reason__startswith=f"Change request #{pk}").count() == 3
    for user in (world["rep_user"], world["manager"]):
        api_client.force_authenticate(user)
        thread = api_client.get("/api/v1/comments/", {"target_type": "changerequest", "target_id": pk}).json()
        assert [c["body"] for c in thread] == ["manager-user approved this request.\nok"]
    api_client.force_authenticate(world["rep_user"])
    assert api_client.get("/api/v1/notifications/unread-count/").json() == {"unread": 1}
    api_client.post("/api/v1/notifications/mark-read/", {}, format="json")
    assert api_client.get("/api/v1/notifications/unread-count/").json() == {"unread": 0}


def test_api_refuses_a_stale_request_with_the_refresh_message(api_client, world):
    pk = _file_by_api(api_client, world)["id"]
    AccountAssignment.objects.filter(account=world["a"][0], valid_to__isnull=True).update(valid_to=timezone.now())
    api_client.force_authenticate(world["manager"])
    response = api_client.post(f"/api/v1/change-requests/{pk}/approve/", {}, format="json")
    assert response.status_code == 400
    assert response.json()["message"].startswith("This request must be refreshed")
    assert api_client.get(f"/api/v1/change-requests/{pk}/").json()["is_stale"] is True
    assert api_client.post(f"/api/v1/change-requests/{pk}/refresh/").json()["is_stale"] is False


def test_pages_rep_files_from_the_form_and_manager_approves(client, world):
    client.force_login(world["rep_user"])
    form = client.get(reverse("collaboration:request-create"), {"scenario": world["scenario"].pk})
    # only rep A's book (the test ids, not the bare names: a CSRF token may hold "b1")
    assert form.status_code == 200 and b'data-testid="account-a1"' in form.content
    assert b'data-testid="account-b1"' not in form.content
    response = client.post(reverse("collaboration:request-create"), {
        "scenario": world["scenario"].pk, "kind": "move_accounts", "to_territory_id": world["t2"].pk,
        "account_ids": [a.pk for a in world["a"][:3]], "reason": "Closer to Bob",
    })
    request = ChangeRequest.objects.get()
    assert response.status_code == 302 and response.url == reverse("collaboration:request-detail", args=[request.pk])
    detail = client.get(response.url)
    assert b"Approve and apply" not in detail.content and b"60000" in detail.content

    client.force_login(world["outsider_user"])
    assert client.get(response.url).status_code == 404

    client.force_login(world["manager"])
    assert b"Approve and apply" in client.get(response.url).content
    client.post(reverse("collaboration:request-decide", args=[request.pk]), {"decision": "approve"})
    request.refresh_from_db()
    assert request.status == "approved"
    notifications = client.get(reverse("collaboration:notifications"))
    assert b"0 unread" in notifications.content or Notification.objects.filter(recipient=world["manager"],
                                                                               read_at__isnull=True).exists()


def test_shared_view_shows_the_map_and_tables_without_an_account_and_410_when_expired(client, world):
    client.force_login(world["manager"])
    page = client.post(reverse("collaboration:share-manage", args=[world["scenario"].pk]),
                       {"label": "Finance", "expires_on": (timezone.localdate() + dt.timedelta(days=3)).isoformat()})
    url = page.context["new_url"]
    client.logout()
    shared = client.get(url)
    assert shared.status_code == 200
    assert b'id="collab-shared-map"' in shared.content and b"leaflet.js" in shared.content
    rows = {row["code"]: row for row in shared.context["territories"]}
    assert rows["T1"] == {"id": world["t1"].pk, "code": "T1", "name": "North", "level": "territory",
                          "owner": "Ann Rep", "accounts": 4, "revenue": 100000.0, "potential": 260000.0,
                          "workload": 100.0}
    assert shared.context["totals"]["accounts"] == 7 and len(shared.context["geojson"]["features"]) == 3
    world["scenario"].share_links.update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    gone = client.get(url)
    assert gone.status_code == 410 and b"no longer available" in gone.content
    assert client.get(url[:-4] + "abc/").status_code == 404


def test_api_sales_plan_workflow_and_rep_cannot_share(api_client, world):
    api_client.force_authenticate(world["rep_user"])
    plan = api_client.post("/api/v1/sales-plans/", {"territory": world["t1"].pk, "period_start": "2026-01-01",
                                                     "period_end": "2026-03-31", "strategy": "Grow a4"},
                           format="json").json()
    api_client.post(f"/api/v1/sales-plans/{plan['id']}/goals/", {"metric": "revenue", "target": "90000"},
                    format="json")
    assert api_client.post(f"/api/v1/sales-plans/{plan['id']}/submit/").json()["status"] == "submitted"
    assert api_client.post(f"/api/v1/sales-plans/{plan['id']}/approve/").status_code == 403
    assert api_client.post("/api/v1/share-links/", {"scenario": world["scenario"].pk,
                                                    "expires_at": "2030-01-01T00:00:00Z"},
                           format="json").status_code == 403
    api_client.force_authenticate(world["manager"])
    assert api_client.post(f"/api/v1/sales-plans/{plan['id']}/approve/").json()["status"] == "approved"
    reviewed = api_client.post(f"/api/v1/sales-plans/{plan['id']}/review/", {"comment": "done"}, format="json")
    assert reviewed.json()["status"] == "reviewed"
    assert reviewed.json()["review"]["goals"][0]["target"] == 90000.0
