"""The Optimise panel in a real browser: a manager starts a design from the map workspace, follows its progress, and
lands on the new planning scenario with its report (run by the real Celery worker)."""

import os

import pytest

from territories.models import Scenario, Territory
from tests.factories import unit_grid_scenario

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _workspace(browser, live_server, manager_user, source):
    """A manager logged in, on the map workspace of `source`; page errors are collected."""
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", manager_user.username)
    page.fill("input[name=password]", "pass-word-123")
    page.click("form [type=submit]")
    page.wait_for_load_state()
    page.goto(f"{live_server.url}/workspace/?scenario={source.pk}")
    page.wait_for_selector("body[data-workspace-ready=true]")
    return context, page, errors


def test_manager_optimises_from_the_workspace_into_a_new_scenario(
    browser, live_server, manager_user, celery_worker_process, screenshot_dir, settings
):
    settings.MAP_TILE_URL = "http://127.0.0.1:9/{z}/{x}/{y}.png"  # no base map: the panel must not need one
    source = unit_grid_scenario(name="Grid to optimise", columns=6, rows=4, split=3)["scenario"]
    context, page, errors = _workspace(browser, live_server, manager_user, source)

    form = page.locator("#ws-optimize-form")
    form.locator("input[name=k]").fill("3")
    form.locator("input[name=time_limit]").fill("20")
    form.locator("input[name=tolerance-potential]").fill("5")
    page.click("[data-testid=optimize-start]")
    # the status line follows the job, then the page opens the new scenario compared with its source
    page.wait_for_url(f"**/workspace/?scenario=*&compare={source.pk}", timeout=90_000)
    page.wait_for_selector("body[data-workspace-ready=true]")

    created = Scenario.objects.exclude(pk=source.pk).get(cloned_from=source)
    assert created.status == Scenario.Status.PLANNING and f"scenario={created.pk}" in page.url
    report = page.locator("[data-testid=optimize-report]")
    assert "Optimiser report (design, 3 territories, 24 units)" in report.inner_text()
    rows = {
        row.locator("th").inner_text().strip(): row.locator("td").inner_text().strip()
        for row in report.locator("tr").all()
    }
    assert rows["Within tolerance"] == "yes" and rows["Contiguous"] == "yes"
    assert rows["Max deviation potential"] == "0.0%"  # 24 units of equal potential: 8 per territory
    colors = set(Territory.objects.filter(scenario=created, parent__isnull=False).values_list("color", flat=True))
    assert len(colors) == 3  # the added territory has a colour of its own on the map
    report.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "workspace-optimised.png"))
    assert errors == []
    context.close()


def test_manager_realigns_keeping_territories_compact(
    browser, live_server, manager_user, celery_worker_process, screenshot_dir, settings
):
    settings.MAP_TILE_URL = "http://127.0.0.1:9/{z}/{x}/{y}.png"
    source = unit_grid_scenario(name="Grid to realign", columns=6, rows=4, split=3)["scenario"]
    context, page, errors = _workspace(browser, live_server, manager_user, source)

    form = page.locator("#ws-optimize-form")
    form.locator("select[name=mode]").select_option("realign")
    form.locator("input[name=compact]").check()
    form.locator("input[name=time_limit]").fill("20")
    page.click("[data-testid=optimize-start]")
    page.wait_for_url(f"**/workspace/?scenario=*&compare={source.pk}", timeout=90_000)
    page.wait_for_selector("body[data-workspace-ready=true]")

    created = Scenario.objects.exclude(pk=source.pk).get(cloned_from=source)
    assert created.optimizer_report["mode"] == "realign" and created.optimizer_report["compact"] is True
    report = page.locator("[data-testid=optimize-report]")
    assert "Optimiser report (realign, compact, 2 territories, 24 units)" in report.inner_text()
    report.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "workspace-realigned-compact.png"))
    # the panel's choices still fit on a phone
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("#ws-optimize-form").scroll_into_view_if_needed()
    assert page.locator("#ws-optimize-form input[name=compact]").is_visible()
    page.screenshot(path=str(screenshot_dir / "workspace-optimise-phone.png"))
    assert errors == []
    context.close()


def test_manager_chooses_a_point_of_the_tradeoff_and_gets_its_scenario(
    browser, live_server, manager_user, celery_worker_process, screenshot_dir, settings
):
    from territories.services.optimizer_runs import optimizer_run
    from tests.optimizer_integration.test_optimizer_runs import _grid_scenario

    settings.MAP_TILE_URL = "http://127.0.0.1:9/{z}/{x}/{y}.png"
    source = _grid_scenario(leaves=4)  # bands of 12, 6, 12, 6 units of nearly equal potential
    run = optimizer_run(scenario=source, mode="realign", balance={"potential": (1.0, 0.2)}, time_limit=20)
    context, page, errors = _workspace(browser, live_server, manager_user, run)

    table = page.locator("[data-testid=tradeoff]")
    factors = [row.get_attribute("data-factor") for row in table.locator("tbody tr").all()]
    assert factors == ["0.5", "0.75", "1.0", "1.5"]
    assert table.locator("tr.ws-tradeoff-plan th").inner_text() == "potential ±20%"
    loosest = table.locator("tr[data-factor='1.5']")
    assert "potential ±30%" in loosest.inner_text()
    assert "the plan again" in table.locator("tr[data-factor='0.75']").inner_text()  # 15% asks for no other move
    table.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "workspace-tradeoff.png"))

    loosest.locator("[data-testid=tradeoff-adopt]").click()
    page.wait_for_url(f"**/workspace/?scenario=*&compare={source.pk}", timeout=90_000)
    page.wait_for_selector("body[data-workspace-ready=true]")
    made = Scenario.objects.get(pk=int(page.url.split("scenario=")[1].split("&")[0]))
    assert made.cloned_from == source and made.optimizer_report["tolerance_factor"] == 1.5
    assert "realigned at potential ±30%" in made.name
    report = page.locator("[data-testid=optimize-report]")
    moved = made.optimizer_report["disruption"]
    assert f"{moved['units_moved']} / {moved['accounts_moved']}" in report.inner_text()

    # back on the run, the point now names its scenario instead of offering it again
    page.goto(f"{live_server.url}/workspace/?scenario={run.pk}")
    page.wait_for_selector("body[data-workspace-ready=true]")
    link = page.locator("[data-testid=tradeoff] tr[data-factor='1.5'] a")
    assert link.inner_text() == "its scenario" and link.get_attribute("title") == made.name
    assert page.locator("[data-testid=tradeoff-adopt]").count() == 1  # the tightest point is still on offer
    assert errors == []
    context.close()
