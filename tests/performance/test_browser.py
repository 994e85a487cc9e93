"""The manager's dashboard and the rep's progress page in a real browser, with screenshots."""

import datetime as dt
import os
import random
from decimal import Decimal

import pytest

from performance.periods import QUARTER, period_of, periods_recent_months
from performance.services.kpis import kpi_recompute_periods
from tests.factories import (
    AccountAssignmentFactory,
    AccountFactory,
    ActivityFactory,
    OpportunityFactory,
    QuotaFactory,
    RepAssignmentFactory,
    RepFactory,
    TerritoryFactory,
    square,
)
from tests.performance.conftest import UTC, build_world

pytestmark = [pytest.mark.browser]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _busy_year(world, rep_user) -> None:
    """Six more territories side by side, a year of visits and deals, quarterly quotas; then the KPIs."""
    rng = random.Random(7)
    world.one.user = rep_user
    world.one.save()
    world.l1.boundary, world.l2.boundary = square(-100, 40, 2), square(-98, 40, 2)
    world.l1.save()
    world.l2.save()
    leaves = [world.l1, world.l2]
    corners = [(-96, 40), (-94, 40), (-100, 42), (-98, 42), (-96, 42), (-94, 42)]  # a 4 x 2 grid with L1, L2
    for index, (x, y) in enumerate(corners):
        leaf = TerritoryFactory(scenario=world.scenario, parent=world.root, code=f"L{index + 3}",
                                name=f"Area {index + 3}", boundary=square(x, y, 2))
        rep = RepFactory(name=f"Rep {index + 3}", capacity_hours=300)
        RepAssignmentFactory(rep=rep, territory=leaf, valid_from=dt.date(2023, 1, 1))
        leaves.append(leaf)
    for leaf in leaves[2:]:
        strength = rng.uniform(0.3, 1.4)
        for number in range(rng.randint(4, 12)):
            account = AccountFactory(tier=rng.choice("AB"), potential=Decimal(rng.randint(100, 900)))
            AccountAssignmentFactory(account=account, territory=leaf, valid_from=dt.datetime(2023, 1, 1, tzinfo=UTC))
            for _ in range(int(8 * strength)):
                ActivityFactory(account=account, rep=None, kind="visit", occurred_at=dt.datetime(
                    2023, 10, 1, tzinfo=UTC) + dt.timedelta(days=rng.randint(0, 364)))
            for _ in range(3):
                close = dt.date(2023, 10, 1) + dt.timedelta(days=rng.randint(0, 364))
                OpportunityFactory(account=account, rep=None, amount=Decimal(rng.randint(2, 20) * 1000),
                                   stage=rng.choice(["won", "won", "lost", "proposal"]) if number % 5 or
                                   strength > 0.6 else "lost", close_date=close,
                                   created_date=close - dt.timedelta(days=60))
        for quarter_start in (dt.date(2023, 10, 1), dt.date(2024, 1, 1), dt.date(2024, 4, 1), dt.date(2024, 7, 1)):
            quarter = period_of(QUARTER, quarter_start)
            QuotaFactory(territory=leaf, period_start=quarter.start, period_end=quarter.end,
                         target=Decimal(rng.randint(30, 60) * 1000))
    periods = periods_recent_months(count=12, until=dt.date(2024, 9, 30)) + [world.period]
    kpi_recompute_periods(scenario=world.scenario, periods=periods)


def _sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pass-word-123")
    page.click("button[type=submit]")
    page.wait_for_load_state()


@pytest.mark.django_db(transaction=True)
def test_manager_dashboard_and_rep_progress(live_server, browser, screenshot_dir, manager_user, rep_user):
    world = build_world()
    _busy_year(world, rep_user)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.route("**/tile.openstreetmap.org/**", lambda route: route.abort())  # offline: polygons must still draw
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        _sign_in(page, live_server, "manager-user")
        page.goto(f"{live_server.url}/performance/?period=quarter&date=2024-08-15&scenario={world.scenario.pk}")
        page.wait_for_selector("#kpi-map.loaded")
        assert page.inner_text("[data-testid=period-label]") == "Q3 2024"
        table = page.inner_text("[data-testid=ranked-table]")
        assert "attainment 50% under 80% while coverage 50% under 60%" in table
        assert page.locator("[data-testid=ranked-table] tbody tr").count() == 8
        assert page.get_attribute("#kpi-map", "data-features") == "8"
        assert page.locator("#kpi-map path.leaflet-interactive").count() == 8
        assert page.evaluate("Chart.getChart('attainment-chart').data.labels.length") == 8
        assert page.evaluate("Chart.getChart('trend-chart').data.labels.length") == 12
        assert page.evaluate("Chart.getChart('trend-chart').data.datasets[0].data.filter(v => v !== null).length") \
            >= 10
        page.select_option("#map-metric", "visit_coverage")
        assert "Realign" in table
        page.screenshot(path=str(screenshot_dir / "performance-dashboard.png"), full_page=True)
        with page.expect_download() as download:
            page.click("[data-testid=export-territories]")
        assert download.value.suggested_filename == "kpis.csv"

        page.click("[data-testid=recompute]")
        page.wait_for_load_state()
        assert "KPI recompute queued as job #" in page.content()

        page.context.clear_cookies()
        _sign_in(page, live_server, "rep-user")
        page.goto(f"{live_server.url}/performance/me/?date=2024-09-15")
        page.wait_for_selector("#my-trend-chart")
        assert "50.0%" in page.inner_text("[data-testid=progress-quarter]")  # rep One owns L1
        assert "attainment 50% under 80% while coverage 50% under 60%" in page.inner_text("main")
        # One has owned L1 since January 2024: no rep figures for October to December 2023.
        assert page.evaluate("Chart.getChart('my-trend-chart').data.datasets[1].data.filter(v => v !== null).length") \
            == 9
        page.screenshot(path=str(screenshot_dir / "performance-my-progress.png"), full_page=True)
        assert errors == []
    finally:
        context.close()
