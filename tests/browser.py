"""Helpers of the browser tests (Playwright on Debian's chromium; see the browser fixture in conftest.py)."""

PASSWORD = "pass-word-123"  # tests.factories.UserFactory's


def browser_login(page, live_server, username: str) -> None:
    """Sign in through the login page, as a person does."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form [type=submit]")
    page.wait_for_load_state("networkidle")
