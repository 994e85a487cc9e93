"""The rules editor in a real browser: a manager builds a rule from rows of field / operator / value."""

import os

import pytest

from territories.models import AssignmentRule
from tests.browser import browser_login
from tests.factories import ScenarioFactory, TerritoryFactory

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]



def test_manager_builds_a_rule_from_rows_and_reads_it_back_in_words(browser, live_server, manager_user,
                                                                     screenshot_dir):
    scenario = ScenarioFactory(name="Plan 2027")
    region = TerritoryFactory(scenario=scenario, code="WEST", name="West")
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    browser_login(page, live_server, manager_user.username)
    page.goto(f"{live_server.url}/territories/scenarios/{scenario.pk}/")
    form = page.locator('[data-testid="rule-form"]')
    builder = form.locator('[data-testid="criteria-builder"]')
    assert builder.is_visible()
    rows = builder.locator(".criteria-row")
    assert rows.count() == 1  # the example criterion, read from the JSON box
    rows.nth(0).locator('[data-part="value"]').fill("healthcare")

    builder.locator('[data-action="add-criterion"]').click()
    second = rows.nth(1)
    second.locator('[data-part="field"]').select_option("annual_revenue")
    assert "contains" not in second.locator('[data-part="op"] option').all_inner_texts()  # not for numbers
    second.locator('[data-part="op"]').select_option("range")
    second.locator('[data-part="low"]').fill("1000000")

    builder.locator('[data-action="add-criterion"]').click()
    third = rows.nth(2)
    third.locator('[data-part="field"]').select_option("tier")
    third.locator('[data-part="op"]').select_option("in")
    third.locator('[data-part="list"]').fill("A, B")

    builder.locator('[data-action="add-criterion"]').click()
    rows.nth(3).locator("button", has_text="remove").click()
    assert rows.count() == 3

    form.locator("select[name=territory]").select_option(str(region.pk))
    form.locator("input[name=name]").fill("Big care accounts")
    page.screenshot(path=str(screenshot_dir / "rules-editor-rows.png"), full_page=True)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()

    rule = AssignmentRule.objects.get(name="Big care accounts")
    assert rule.territory_id == region.pk
    assert rule.criteria == [
        {"field": "industry", "op": "equals", "value": "healthcare"},
        {"field": "annual_revenue", "op": "range", "value": [1000000, None]},
        {"field": "tier", "op": "in", "value": ["A", "B"]},
    ]
    text = page.locator('li[data-territory="WEST"] .rule').inner_text()
    assert "industry equals 'healthcare' and annual_revenue at least 1,000,000 and tier in ('A', 'B')" in text
    page.screenshot(path=str(screenshot_dir / "rules-editor-saved.png"), full_page=True)


def test_nested_groups_stay_in_the_json_box(browser, live_server, manager_user):
    scenario = ScenarioFactory(name="Plan nested")
    TerritoryFactory(scenario=scenario, code="EAST")
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    browser_login(page, live_server, manager_user.username)
    page.goto(f"{live_server.url}/territories/scenarios/{scenario.pk}/")
    page.locator("details.criteria-json summary").click()
    textarea = page.locator('textarea[name="criteria"]')
    textarea.fill('[{"logic": "any", "criteria": [{"field": "tier", "op": "equals", "value": "A"}]}]')
    textarea.dispatch_event("change")
    assert not page.locator('[data-testid="criteria-builder"]').is_visible()
    assert page.locator("details.criteria-json").get_attribute("open") is not None
