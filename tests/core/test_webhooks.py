"""Webhooks reach a real HTTP receiver through the real Celery worker, signed, with retries."""

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.db import transaction

from conftest import wait_for
from core.models import Job, WebhookDelivery, WebhookSubscription
from core.services import job_create, job_run
from core.webhooks import webhook_emit

SECRET = "a-shared-secret-of-some-length"


class Receiver:
    """A local HTTP endpoint that fails the first `failures` requests, then records what it gets."""

    def __init__(self, failures: int = 0):
        self.failures = failures
        self.received: list[tuple[dict, dict]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.failures > 0:
                    receiver.failures -= 1
                    self.send_response(503)
                else:
                    receiver.received.append((dict(self.headers), body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    instance = Receiver(failures=2)
    yield instance
    instance.close()


@pytest.mark.django_db(transaction=True)
def test_a_finished_job_is_delivered_signed_after_retries(celery_worker_process, receiver, manager_user):
    WebhookSubscription.objects.create(owner=manager_user, url=receiver.url, events=["job.finished"], secret=SECRET)
    WebhookSubscription.objects.create(owner=manager_user, url=receiver.url, events=["scenario.activated"],
                                       secret=SECRET)
    job = job_create(kind=Job.Kind.OTHER, created_by=manager_user)
    with transaction.atomic():
        job_run(job_id=job.pk, work=lambda job, progress: {"message": "3 accounts moved"})

    wait_for(lambda: receiver.received, timeout=30)
    headers, body = receiver.received[0]
    assert headers["X-Signature"] == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    payload = json.loads(body)
    assert payload["event"] == "job.finished"
    assert payload["data"]["job"] == job.pk and payload["data"]["message"] == "3 accounts moved"
    delivery = wait_for(lambda: WebhookDelivery.objects.filter(status="delivered").first())
    assert delivery.attempts == 3  # two 503s, then success
    assert WebhookDelivery.objects.count() == 1  # the scenario.activated subscriber got nothing


@pytest.mark.django_db
def test_subscriptions_are_for_managers_and_validate_events(api_client, manager_user, rep_user):
    api_client.force_authenticate(rep_user)
    assert api_client.get("/api/v1/webhooks/").status_code == 403
    api_client.force_authenticate(manager_user)
    bad = api_client.post("/api/v1/webhooks/", {"url": "http://example.com/h", "events": ["nope"],
                                                 "secret": SECRET}, format="json")
    assert bad.status_code == 400 and "events" in bad.json()["errors"]
    good = api_client.post("/api/v1/webhooks/", {"url": "https://example.com/h", "events": ["job.finished"],
                                                  "secret": SECRET}, format="json")
    assert good.status_code == 201 and "secret" not in good.json()


@pytest.mark.django_db
def test_emitting_without_subscribers_records_nothing():
    assert webhook_emit(event="account.reassigned", payload={"account": 1}) == []
    assert WebhookDelivery.objects.count() == 0
