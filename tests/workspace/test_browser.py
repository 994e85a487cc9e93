"""The manager's journey in a real browser: open the workspace, choose a scenario, select units, move them,
watch the balance change, undo; at laptop and phone sizes, with the base map unreachable."""

import os

import pytest

from tests.browser import browser_login
from tests.factories import ScenarioFactory, unit_grid_scenario

# Playwright's sync API runs an event loop in this thread; the ORM calls here are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]



def _balance_accounts(page) -> dict[str, str]:
    return page.evaluate("""() => Object.fromEntries(Array.from(
        document.querySelectorAll('#ws-balance tbody tr')).map(tr => [
            tr.querySelector('th').textContent.trim().slice(0, 1),
            tr.querySelectorAll('td')[0].firstChild.textContent]))""")


def _click_map(page, lat: float, lon: float) -> None:
    point = page.evaluate(f"() => window.workspace.map.latLngToContainerPoint([{lat}, {lon}])")
    box = page.locator("#ws-map").bounding_box()
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])


@pytest.fixture
def journey(transactional_db, manager_user, settings):
    # The base map is unreachable: boundaries, units and accounts must still draw.
    settings.MAP_TILE_URL = "http://127.0.0.1:9/{z}/{x}/{y}.png"
    ScenarioFactory(name="Another draft")
    grid = unit_grid_scenario(name="North grid 2027")
    return grid


def test_manager_moves_units_sees_the_balance_change_and_undoes(browser, live_server, journey, manager_user,
                                                                screenshot_dir):
    grid = journey
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    browser_login(page, live_server, manager_user.username)
    page.goto(f"{live_server.url}/workspace/")
    page.wait_for_selector("body[data-workspace-ready=true]")

    # Choose the scenario with the switcher (the page reloads on it).
    page.select_option("#ws-scenario", str(grid["scenario"].pk))
    page.wait_for_url(f"**/workspace/?scenario={grid['scenario'].pk}")
    page.wait_for_selector("body[data-workspace-ready=true]")
    page.wait_for_function("document.querySelectorAll('#ws-map path.leaflet-interactive').length >= 6")
    page.wait_for_load_state("networkidle")  # the reload of units after fitting the view has landed
    assert _balance_accounts(page) == {"A": "4", "B": "4"}
    assert page.locator("#ws-map-notice").is_visible()  # the tiles failed and the page says so

    # Select the third unit on the map (away from its accounts, which sit at the centre), move it to A.
    _click_map(page, 40.2, -97.8)
    page.wait_for_function("document.querySelector('#ws-selection').textContent.startsWith('1 geo unit')")
    page.select_option("#ws-target", str(grid["left"].pk))
    page.screenshot(path=str(screenshot_dir / "workspace-selected-laptop.png"))
    page.click("#ws-move")
    page.wait_for_function("document.querySelector('#ws-message').textContent.includes('moved to A Alpha')")
    assert _balance_accounts(page) == {"A": "6", "B": "2"}
    assert "+50.0%" in page.locator("#ws-balance tbody tr").first.inner_text()
    page.wait_for_load_state("networkidle")  # boundaries and units redrawn
    page.screenshot(path=str(screenshot_dir / "workspace-moved-laptop.png"))

    # Undo from the keyboard.
    page.locator("#ws-undo").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('#ws-message').textContent.startsWith('Undone')")
    assert _balance_accounts(page) == {"A": "4", "B": "4"}
    assert page.locator("#ws-redo").is_enabled()
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(screenshot_dir / "workspace-undone-laptop.png"))

    # Box-select two units with the pointer and move them to B.
    page.click("[data-tool=box]")
    start = page.evaluate("() => window.workspace.map.latLngToContainerPoint([40.9, -99.9])")
    end = page.evaluate("() => window.workspace.map.latLngToContainerPoint([40.1, -98.1])")
    box = page.locator("#ws-map").bounding_box()
    page.mouse.move(box["x"] + start["x"], box["y"] + start["y"])
    page.mouse.down()
    page.mouse.move(box["x"] + end["x"], box["y"] + end["y"], steps=5)
    page.mouse.up()
    page.wait_for_function("document.querySelector('#ws-selection').textContent.startsWith('2 geo units')")
    page.select_option("#ws-target", str(grid["right"].pk))
    page.click("#ws-move")
    page.wait_for_function("document.querySelector('#ws-message').textContent.includes('moved to B Bravo')")
    assert _balance_accounts(page) == {"A": "0", "B": "8"}
    assert errors == []
    context.close()


def test_workspace_fits_a_phone_and_refuses_edits_to_the_active_scenario(browser, live_server, journey,
                                                                         manager_user, screenshot_dir):
    from territories.models import Scenario

    grid = journey
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    browser_login(page, live_server, manager_user.username)
    page.goto(f"{live_server.url}/workspace/?scenario={grid['scenario'].pk}")
    page.wait_for_selector("body[data-workspace-ready=true]")
    page.wait_for_function("document.querySelectorAll('#ws-map path.leaflet-interactive').length >= 6")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    page.screenshot(path=str(screenshot_dir / "workspace-phone.png"))
    page.locator("#ws-balance").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "workspace-phone-balance.png"))

    Scenario.objects.filter(pk=grid["scenario"].pk).update(status="active")
    page.reload()
    page.wait_for_selector("body[data-workspace-ready=true]")
    note = page.locator("[data-testid=edit-note]")
    assert "clone it to a planning scenario" in note.inner_text().lower()
    assert page.locator("#ws-edit-tools").is_hidden()

    page.goto(f"{live_server.url}/workspace/territories/{grid['left'].pk}/")
    assert page.locator("[data-testid=measures]").inner_text().split("\n")[:2] == ["Accounts", "4"]
    page.screenshot(path=str(screenshot_dir / "territory-page-phone.png"), full_page=True)
    context.close()


def test_balance_names_the_territories_it_compares_apart(browser, live_server, journey, manager_user, screenshot_dir):
    from tests.factories import AccountAssignmentFactory, AccountFactory, TerritoryFactory, TerritoryTypeFactory

    grid = journey
    named = TerritoryFactory(scenario=grid["scenario"], parent=grid["left"].parent, code="K", name="Key accounts",
                             boundary=None, territory_type=TerritoryTypeFactory(name="Named", kind="named"))
    for _ in range(12):
        AccountAssignmentFactory(territory=named, account=AccountFactory())
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    browser_login(page, live_server, manager_user.username)
    page.goto(f"{live_server.url}/workspace/?scenario={grid['scenario'].pk}")
    page.wait_for_selector("body[data-workspace-ready=true]")
    page.wait_for_function("document.querySelectorAll('#ws-balance tbody tr').length === 3")
    foot = page.locator("#ws-balance tfoot").inner_text()
    assert "of 2 untyped" in foot.lower() and "max ±0.0%" in foot  # A and B hold 4 each; K's 12 do not count
    apart = page.locator("[data-testid=balance-apart]").inner_text()
    assert apart == "Compared among their own kind: Named accounts (1)"
    assert "Named accounts" in page.locator("#ws-balance tbody tr", has_text="K").inner_text()
    page.locator("#ws-balance").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "workspace-balance-kinds.png"))
    context.close()
