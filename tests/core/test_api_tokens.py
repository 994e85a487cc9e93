"""Integrations authenticate with hashed, revocable, expiring tokens; errors are JSON with a stable code."""

import datetime as dt

import pytest
from django.utils import timezone

from core.models import ApiToken
from core.tokens import api_token_create


@pytest.mark.django_db
def test_a_token_authenticates_and_records_its_last_use(api_client, manager_user):
    token, plaintext = api_token_create(user=manager_user, name="CRM sync")
    assert plaintext not in token.key_hash and token.key_hash != plaintext
    response = api_client.get("/api/v1/tokens/", HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert response.status_code == 200
    assert [row["name"] for row in response.json()["results"]] == ["CRM sync"]
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.django_db
def test_revoked_and_expired_tokens_are_refused_with_a_reason(api_client, manager_user):
    revoked, revoked_text = api_token_create(user=manager_user, name="old")
    api_client.force_authenticate(manager_user)
    assert api_client.delete(f"/api/v1/tokens/{revoked.pk}/").status_code == 204
    api_client.force_authenticate(None)
    response = api_client.get("/api/v1/tokens/", HTTP_AUTHORIZATION=f"Bearer {revoked_text}")
    assert response.status_code == 401
    assert response.json() == {"code": "authentication_failed",
                               "message": "This API token is unknown or has been revoked."}
    _, expired_text = api_token_create(user=manager_user, name="short", expires_at=timezone.now() - dt.timedelta(1))
    response = api_client.get("/api/v1/tokens/", HTTP_AUTHORIZATION=f"Bearer {expired_text}")
    assert response.status_code == 401 and "expired" in response.json()["message"]


@pytest.mark.django_db
def test_creating_a_token_shows_the_plaintext_once(api_client, rep_user):
    api_client.force_authenticate(rep_user)
    response = api_client.post("/api/v1/tokens/", {"name": "my script"}, format="json")
    assert response.status_code == 201
    plaintext = response.json()["token"]
    assert plaintext.startswith("tm_")
    listed = api_client.get("/api/v1/tokens/").json()["results"]
    assert "token" not in listed[0]
    assert ApiToken.objects.get().user == rep_user


@pytest.mark.django_db
def test_a_user_never_sees_or_revokes_another_users_tokens(api_client, manager_user, rep_user):
    token, _ = api_token_create(user=manager_user, name="manager's")
    api_client.force_authenticate(rep_user)
    assert api_client.get("/api/v1/tokens/").json()["results"] == []
    response = api_client.delete(f"/api/v1/tokens/{token.pk}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.django_db
def test_validation_errors_name_the_field(api_client, rep_user):
    api_client.force_authenticate(rep_user)
    response = api_client.post("/api/v1/tokens/", {"expires_at": "not a date"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["errors"]) == {"name", "expires_at"}
    assert body["message"].startswith("name: ")


@pytest.mark.django_db
def test_anonymous_requests_get_401_json(api_client):
    response = api_client.get("/api/v1/tokens/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
