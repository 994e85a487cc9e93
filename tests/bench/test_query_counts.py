"""The list and map endpoints the load test drives: their query count does not grow with the page size.

Each endpoint is asked for a page of 5 and a page of 60 rows (60 rows exist); both stay within one budget and
issue exactly the same number of queries, so a row never costs a query of its own (no N+1).
"""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.pagination import PageNumberPagination

from territories.models import Scenario
from tests.factories import (
    AccountAssignmentFactory,
    AccountFactory,
    ActivityFactory,
    OpportunityFactory,
    RepAssignmentFactory,
    RepFactory,
    ScenarioFactory,
    TerritoryFactory,
    VisitCadenceFactory,
    square,
)

ROWS = 60
SMALL, LARGE = 5, ROWS


@pytest.fixture
def book(db, rep_user):
    """An active scenario with one territory of ROWS accounts (each with activities and an opportunity), owned by
    the rep behind rep_user."""
    VisitCadenceFactory(tier="B")
    scenario = ScenarioFactory(status=Scenario.Status.ACTIVE)
    territory = TerritoryFactory(scenario=scenario, boundary=square(-100, 40, 2))
    rep = RepFactory(user=rep_user)
    RepAssignmentFactory(rep=rep, territory=territory)
    for index in range(ROWS):
        account = AccountFactory(location=f"SRID=4326;POINT({-99.9 + index * 0.03} 40.5)")
        AccountAssignmentFactory(account=account, territory=territory)
        ActivityFactory(account=account, rep=rep, occurred_at=timezone.now() - dt.timedelta(days=index))
        OpportunityFactory(account=account, rep=rep)
    return scenario


def _queries(client, url: str, page_size: int, monkeypatch) -> tuple[int, dict]:
    monkeypatch.setattr(PageNumberPagination, "page_size", page_size)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len(queries), response.json()


def _rows(body) -> int:
    results = body.get("results", body)
    if isinstance(results, dict):
        return len(results["features"])
    return len(results)


@pytest.mark.parametrize(("role", "url", "budget"), [
    ("rep", "/api/v1/me/accounts/", 12),
    ("rep", "/api/v1/activities/", 12),
    ("manager", "/api/v1/accounts/", 12),
    ("admin", "/api/v1/activities/", 12),
    ("admin", "/api/v1/opportunities/", 12),
])
def test_list_endpoints_cost_the_same_queries_at_any_page_size(
    book, api_client, rep_user, manager_user, admin_user, monkeypatch, django_assert_max_num_queries, role, url,
    budget,
):
    user = {"rep": rep_user, "manager": manager_user, "admin": admin_user}[role]
    counts = []
    for page_size in (SMALL, LARGE):
        # A fresh user object per request, as each real request has (role checks cache on the instance).
        api_client.force_authenticate(type(user).objects.get(pk=user.pk))
        with django_assert_max_num_queries(budget):
            count, body = _queries(api_client, url, page_size, monkeypatch)
        assert _rows(body) == page_size
        counts.append(count)
    assert counts[0] == counts[1], f"{url}: {counts[0]} queries for {SMALL} rows, {counts[1]} for {LARGE}"


def test_map_viewport_and_tiles_cost_the_same_queries_for_few_and_many_accounts(
    book, api_client, manager_user, django_assert_max_num_queries,
):
    narrow = "-99.95,40,-99.78,41"  # the first 5 accounts
    wide = "-101,39,-97,42"  # all 60
    counts = []
    for bbox, expected in ((narrow, SMALL), (wide, ROWS)):
        # A fresh user object per request, as each real request has (role checks cache on the instance).
        api_client.force_authenticate(type(manager_user).objects.get(pk=manager_user.pk))
        with django_assert_max_num_queries(6), CaptureQueriesContext(connection) as queries:
            response = api_client.get(f"/workspace/api/scenarios/{book.pk}/accounts/", {"bbox": bbox})
        assert response.status_code == 200
        assert len(response.json()["accounts"]) == expected
        counts.append(len(queries))
    assert counts[0] == counts[1]
    for z, x, y in ((6, 14, 24), (12, 3710, 1545)):  # a low-zoom tile of cells and a raw one of points
        with django_assert_max_num_queries(4):
            response = api_client.get(f"/workspace/api/scenarios/{book.pk}/tiles/{z}/{x}/{y}.pbf")
        assert response.status_code == 200
