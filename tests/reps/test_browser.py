"""The rep's journey in a real browser: sign in, see my accounts on the map and in the list, open the week's plan."""

import datetime as dt
import math
import os

import pytest
from django.utils import timezone

from accounts.models import Account
from tests.factories import ActivityFactory, OpportunityFactory, VisitCadenceFactory
from tests.reps.conftest import place

pytestmark = [pytest.mark.browser]

# Playwright's sync API keeps an event loop running in the test thread; the ORM calls of the fixtures, the flush
# after the test and the test database teardown are still synchronous and safe, so let Django allow them.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def busy_world(world):
    # A transactional test starts from an emptied database: put the default cadences back.
    for tier, visits, minutes in [("A", 26, 60), ("B", 12, 60), ("C", 4, 45), ("D", 1, 30)]:
        VisitCadenceFactory(tier=tier, visits_per_year=visits, minutes_per_visit=minutes)
    for index in range(60):  # enough markers around Austin for clustering to kick in
        angle, radius = index * 2.4, 0.05 + 0.006 * index
        place(world.central, lon=-97.74 + radius * math.cos(angle), lat=30.27 + radius * math.sin(angle),
              name=f"Client {index:02d}", tier="ABCD"[index % 4])
    now = timezone.now()
    for index, account in enumerate(Account.objects.filter(name__startswith="Client").order_by("name")):
        if index % 3:  # two in three seen, some long ago: a mix of overdue and within cadence
            ActivityFactory(account=account, rep=world.rep, occurred_at=now - dt.timedelta(days=2 + 4 * index))
    OpportunityFactory(account=world.mine[0], rep=world.rep)
    return world


def _sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pass-word-123")
    page.click("button[type=submit]")


def test_rep_sees_own_book_and_opens_the_call_plan(busy_world, live_server, browser, screenshot_dir):
    context = browser.new_context(viewport={"width": 1366, "height": 860})
    page = context.new_page()
    # No tiles in the test: the map must still draw the accounts and routes.
    page.route("**/*.png", lambda route: route.abort())
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        _sign_in(page, live_server, "rep-user")
        page.wait_for_url("**/reps/me/")
        page.wait_for_selector("#reps-map[data-ready=true]")
        rows = page.locator("[data-testid=book-table] tbody tr")
        assert rows.count() == 50  # first page of 63 accounts
        table = page.inner_text("[data-testid=book-table]")
        assert "Delta Dallas" not in table and "Echo Fort Worth" not in table
        assert "Never visited" in rows.first.inner_text()
        assert page.locator(".reps-cluster").count() >= 1  # 63 markers are clustered
        assert page.get_attribute("#reps-map", "data-boundaries") == "1"  # my territory, drawn on the canvas
        assert page.get_attribute("#reps-map", "data-accounts") == "63"
        page.wait_for_timeout(700)  # let the zoom animation settle before the screenshot
        page.screenshot(path=str(screenshot_dir / "reps-my-book.png"), full_page=False)

        page.fill("input[name=q]", "Acme")
        page.click("[data-testid=book-filters] button[type=submit]")
        page.wait_for_selector("#reps-map[data-ready=true]")
        assert page.locator("[data-testid=book-table] tbody tr").count() == 1

        page.click("[data-testid=open-call-plan]")
        page.wait_for_url("**/reps/plan/")
        page.wait_for_selector("#reps-map[data-ready=true]")
        stops = page.locator("[data-testid=plan-day] li").count()
        assert stops > 0
        assert page.locator(".reps-stop").count() == stops  # one numbered marker per planned visit
        assert page.locator(".reps-home").count() == 1
        assert page.get_attribute("[data-testid=export-ics]", "href").startswith("/reps/plan.ics?rep=")
        page.screenshot(path=str(screenshot_dir / "reps-call-plan.png"), full_page=False)
        page.click("[data-route-day='1']")
        assert page.get_attribute("[data-route-day='1']", "aria-pressed") == "true"

        # another rep's account by URL guessing
        response = page.goto(f"{live_server.url}/reps/me/accounts/{busy_world.theirs[0].pk}/")
        assert response.status == 404

        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"{live_server.url}/reps/me/")
        page.wait_for_selector("#reps-map[data-ready=true]")
        page.wait_for_timeout(700)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing runs off a phone screen
        page.screenshot(path=str(screenshot_dir / "reps-my-book-phone.png"), full_page=False)
        assert errors == []
    finally:
        context.close()
