"""A rep proposes moving three accounts in the browser; the manager sees the impact and approves it."""

import os

import pytest

from accounts.models import AccountAssignment
from collaboration.models import ChangeRequest
from tests.browser import browser_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Playwright's sync API runs an event loop in the test thread (from the session's first browser test on), while
# the test database setup and this test's ORM calls stay synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")



def test_rep_proposes_a_move_and_manager_approves_it(live_server, world, browser, screenshot_dir):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    browser_login(page, live_server, "rep-user")
    page.goto(f"{live_server.url}/collaboration/requests/new/?scenario={world['scenario'].pk}")
    for name in ("a1", "a2", "a3"):
        page.check(f"[data-testid=account-{name}]")
    page.select_option("[data-testid=to-territory]", str(world["t2"].pk))
    page.fill("[data-testid=reason]", "Bob already visits these three plants every month")
    page.screenshot(path=str(screenshot_dir / "collaboration-1-rep-proposes.png"), full_page=True)
    page.click("[data-testid=file-request]")
    page.wait_for_selector("[data-testid=impact]")
    assert page.inner_text("[data-testid=moving]").startswith("Moving: 3 accounts, revenue 60000")
    page.fill("[data-testid=comment-body]", "@manager-user they are on Bob's route already.")
    page.click("[data-testid=comment-submit]")
    page.wait_for_selector("text=they are on Bob's route already")
    page.screenshot(path=str(screenshot_dir / "collaboration-2-rep-sees-impact.png"), full_page=True)
    request_url = page.url
    context.close()

    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    browser_login(page, live_server, "manager-user")
    page.goto(f"{live_server.url}/collaboration/")
    assert page.inner_text("[data-testid=unread-count]") == "2"  # the request to decide and the mention
    page.goto(request_url)
    territories = page.inner_text("[data-testid=impact-territories]")
    assert "T1 North" in territories and "4 → 1" in territories and "2 → 5" in territories
    page.fill("[data-testid=decision-note]", "Makes sense.")
    page.screenshot(path=str(screenshot_dir / "collaboration-3-manager-decides.png"), full_page=True)
    page.click("[data-testid=approve]")
    page.wait_for_selector("[data-testid=request-status]:has-text('Approved')")
    thread = page.inner_text("[data-testid=thread]")
    assert "they are on Bob's route already" in thread and "approved this request" in thread
    page.screenshot(path=str(screenshot_dir / "collaboration-4-approved.png"), full_page=True)
    context.close()

    request = ChangeRequest.objects.get()
    assert request.status == "approved"
    reasons = set(AccountAssignment.objects.filter(account__in=world["a"][:3], valid_to__isnull=True,
                                                   territory=world["t2"]).values_list("reason", flat=True))
    assert reasons == {f"Change request #{request.pk}: Bob already visits these three plants every month"}
