"""Each API token has its own rate limit; over it, 429 with Retry-After and a JSON error."""

import uuid

import pytest
from django.core.cache import cache

from core.throttling import UserThrottle
from core.tokens import api_token_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def tokens(manager_user, monkeypatch):
    """Two tokens of one user, at 3 requests a minute each, with no counts left from earlier runs."""
    monkeypatch.setattr(UserThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": "60/min"})
    # Keys of their own: test sessions on other databases share this Redis and number their tokens alike.
    prefix = f"throttle-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(UserThrottle, "cache_format", prefix + "_%(scope)s_%(ident)s")
    made = [api_token_create(user=manager_user, name=name) for name in ("crm", "erp")]
    keys = [f"{prefix}_user_token-{token.pk}" for token, _plaintext in made]
    cache.delete_many(keys)  # only these keys: Redis also holds the Celery queues
    yield [plaintext for _token, plaintext in made]
    cache.delete_many(keys)


def test_a_token_over_its_limit_gets_429_with_retry_after(client, tokens):
    first, second = tokens
    for _ in range(3):
        assert client.get("/api/v1/jobs/", HTTP_AUTHORIZATION=f"Bearer {first}").status_code == 200
    refused = client.get("/api/v1/jobs/", HTTP_AUTHORIZATION=f"Bearer {first}")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused.json()["code"] == "throttled"
    assert refused.json()["message"].startswith("Request was throttled.")
    # Another integration's token has its own budget.
    assert client.get("/api/v1/jobs/", HTTP_AUTHORIZATION=f"Bearer {second}").status_code == 200


def test_the_schema_documents_429(manager_api):
    schema = manager_api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "429" in schema["paths"]["/api/v1/accounts/"]["get"]["responses"]
