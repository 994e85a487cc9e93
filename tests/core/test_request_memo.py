"""The active scenario is read once per read-only request, and afresh by every write and every new request."""

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from core.request_memo import RequestMemoMiddleware
from territories.models import Scenario
from territories.selectors import scenario_active
from tests.factories import ScenarioFactory

pytestmark = pytest.mark.django_db


def asks_twice(request):
    first, second = scenario_active(), scenario_active()
    return HttpResponse(f"{first.pk if first else None} {second.pk if second else None}")


def test_a_read_asks_the_database_once(django_assert_num_queries):
    active = ScenarioFactory(status="active")
    handler = RequestMemoMiddleware(asks_twice)
    with django_assert_num_queries(1):
        response = handler(RequestFactory().get("/"))
    assert response.content.decode() == f"{active.pk} {active.pk}"


def test_a_write_and_the_next_request_ask_again(django_assert_num_queries):
    old = ScenarioFactory(status="active")
    handler = RequestMemoMiddleware(asks_twice)
    with django_assert_num_queries(2):
        handler(RequestFactory().post("/"))
    handler(RequestFactory().get("/"))
    Scenario.objects.filter(pk=old.pk).update(status="archived")
    new = ScenarioFactory(status="active")
    assert handler(RequestFactory().get("/")).content.decode() == f"{new.pk} {new.pk}"
    with django_assert_num_queries(1):  # outside a request (a task, a command): never kept
        scenario_active()
    assert scenario_active() == new
