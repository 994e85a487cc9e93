"""The optimiser wired into the app: a new planning scenario from a grid of geo units, the API and the real worker."""

from decimal import Decimal

import pytest
from django.contrib.gis.geos import Point
from django.db import connection

from accounts.models import AccountAssignment
from conftest import wait_for
from core.models import Job
from territories.api.optimize import ScenarioOptimizeSerializer
from territories.models import GeoUnit, Scenario, Territory, TerritoryType, TerritoryUnit
from territories.services.optimizer_runs import optimizer_run, optimizer_search_seconds
from tests.factories import (
    AccountFactory,
    GeoUnitFactory,
    GeoUnitLayerFactory,
    ScenarioFactory,
    TerritoryFactory,
    TerritoryTypeFactory,
    square,
)

COLUMNS, ROWS, SIZE = 6, 6, 0.5


def _grid_scenario(*, leaves: int = 4, locked_first: bool = False) -> Scenario:
    """A 6 × 6 grid of half-degree geo units under one region, split into `leaves` column bands, with two accounts
    per unit (potential 100 and 50 + the unit's column) assigned to the band's territory."""
    scenario = ScenarioFactory()
    layer = GeoUnitLayerFactory()
    region = TerritoryFactory(scenario=scenario, code="R", level_name="region", built_from_units=True, boundary=None)
    bands = [
        TerritoryFactory(
            scenario=scenario,
            parent=region,
            code=f"L{i}",
            built_from_units=True,
            boundary=None,
            is_locked=locked_first and i == 0,
        )
        for i in range(leaves)
    ]
    for column in range(COLUMNS):
        band = bands[min(column * leaves // COLUMNS, leaves - 1)]
        for row in range(ROWS):
            x, y = -100 + column * SIZE, 40 + row * SIZE
            unit = GeoUnitFactory(layer=layer, code=f"U{column}{row}", geometry=square(x, y, SIZE))
            TerritoryUnit.objects.create(scenario=scenario, territory=band, unit=unit)
            for offset, potential in ((0.1, 100), (0.3, 50 + column)):
                account = AccountFactory(
                    location=Point(x + offset * SIZE * 2, y + SIZE / 2, srid=4326), potential=Decimal(potential)
                )
                AccountAssignment.objects.create(
                    scenario=scenario,
                    account=account,
                    territory=band,
                    valid_from="2024-01-01T00:00Z",
                    source="geography",
                )
    return scenario


def _pieces(scenario: Scenario) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT code, ST_NumGeometries(boundary) FROM territories_territory "
            "WHERE scenario_id = %s AND parent_id IS NOT NULL ORDER BY code",
            [scenario.pk],
        )
        return dict(cursor.fetchall())


@pytest.mark.django_db
def test_design_writes_a_contiguous_balanced_planning_scenario():
    source = _grid_scenario(leaves=4)
    result = optimizer_run(scenario=source, k=3, balance={"potential": (1.0, 0.05)}, time_limit=20)

    assert result.pk != source.pk and result.status == Scenario.Status.PLANNING and result.cloned_from == source
    leaves = Territory.objects.filter(scenario=result, parent__isnull=False)
    assert leaves.count() == 3  # one leaf had no units left and went
    assert set(_pieces(result).values()) == {1}
    report = result.optimizer_report
    assert report["contiguous"] is True and report["within_tolerance"] is True
    assert report["measures"]["potential"]["max_rel_dev"] <= 0.05
    assert report["summary"]["max_rel_dev_per_measure"]["potential"] <= 0.05
    assert TerritoryUnit.objects.filter(scenario=result).count() == COLUMNS * ROWS
    current = AccountAssignment.objects.filter(scenario=result, valid_to__isnull=True)
    assert current.count() == 2 * COLUMNS * ROWS
    assert set(current.values_list("source", flat=True)) == {"optimizer"}
    assert current.values("account").distinct().count() == 2 * COLUMNS * ROWS
    # each account sits in the territory that holds its unit, and potential sums agree with the report
    sums = {item["code"]: item["sums"]["potential"] for item in report["territories"]}
    for leaf in leaves:
        assert float(sum(a.account.potential for a in current.filter(territory=leaf))) == pytest.approx(sums[leaf.code])
    # the region's boundary is the union of its new children; the source is untouched
    assert Territory.objects.get(scenario=result, code="R").boundary.area == pytest.approx(COLUMNS * ROWS * SIZE**2)
    assert set(AccountAssignment.objects.filter(scenario=source).values_list("source", flat=True)) == {"geography"}


@pytest.mark.django_db
def test_locked_territory_keeps_its_units_and_accounts():
    source = _grid_scenario(leaves=3, locked_first=True)
    locked_units = set(
        TerritoryUnit.objects.filter(territory__code="L0", scenario=source).values_list("unit__code", flat=True)
    )
    locked_accounts = set(
        AccountAssignment.objects.filter(territory__code="L0", scenario=source).values_list("account_id", flat=True)
    )
    result = optimizer_run(scenario=source, k=3, balance={"potential": (1.0, 0.1)}, time_limit=20)

    locked = Territory.objects.get(scenario=result, code="L0")
    assert locked.is_locked
    assert set(TerritoryUnit.objects.filter(territory=locked).values_list("unit__code", flat=True)) == locked_units
    kept = AccountAssignment.objects.filter(territory=locked, valid_to__isnull=True)
    assert set(kept.values_list("account_id", flat=True)) == locked_accounts
    assert set(kept.values_list("source", flat=True)) == {"geography"}
    others = AccountAssignment.objects.filter(scenario=result, valid_to__isnull=True).exclude(territory=locked)
    assert set(others.values_list("source", flat=True)) == {"optimizer"}
    assert set(_pieces(result).values()) == {1}


@pytest.mark.django_db
def test_realign_keeps_the_territories_and_reports_disruption():
    source = _grid_scenario(leaves=3)
    result = optimizer_run(scenario=source, mode="realign", balance={"potential": (1.0, 0.05)}, time_limit=20)
    report = result.optimizer_report
    assert set(_pieces(result)) == {"L0", "L1", "L2"}
    assert report["mode"] == "realign" and report["within_tolerance"] is True
    assert report["disruption"]["units_moved"] < COLUMNS * ROWS / 2


@pytest.mark.django_db
def test_compact_realignment_is_asked_for_in_the_api_and_named_in_the_report(client, manager_user):
    source = _grid_scenario(leaves=3)
    body = {"mode": "realign", "compact": True, "balance": {"potential": {"weight": 1, "tolerance": 0.05}}}
    serializer = ScenarioOptimizeSerializer(data=body, context={"scenario": source})
    assert serializer.is_valid(), serializer.errors
    params = serializer.job_params()
    assert params["compact"] is True and params["mode"] == "realign"
    assert ScenarioOptimizeSerializer(data={}, context={"scenario": source}).is_valid()

    result = optimizer_run(
        scenario=source, mode="realign", compact=params["compact"], balance={"potential": (1.0, 0.05)}, time_limit=20
    )
    assert result.optimizer_report["compact"] is True and result.optimizer_report["within_tolerance"] is True
    client.force_login(manager_user)
    page = client.get(f"/workspace/?scenario={result.pk}").content.decode()
    assert "Optimiser report (realign, compact, 3 territories, 36 units)" in page


@pytest.mark.django_db
def test_api_refuses_bad_parameters_with_a_message(api_client, manager_user):
    source = _grid_scenario(leaves=2)
    api_client.force_authenticate(manager_user)
    url = f"/api/v1/scenarios/{source.pk}/optimize/"
    too_many = api_client.post(url, {"k": 37}, format="json")
    assert too_many.status_code == 400
    assert "k = 37 must be between 1 and the number of units (36)" in too_many.content.decode()
    unknown = api_client.post(url, {"balance": {"margin": {"weight": 1, "tolerance": 0.05}}}, format="json")
    assert unknown.status_code == 400 and "Unknown measure “margin”" in unknown.content.decode()
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_api_job_on_the_real_worker_ends_with_the_new_scenario(api_client, manager_user, celery_worker_process):
    source = _grid_scenario(leaves=3)
    api_client.force_authenticate(manager_user)
    url = f"/api/v1/scenarios/{source.pk}/optimize/"
    body = {"k": 3, "balance": {"potential": {"weight": 1, "tolerance": 0.05}}, "time_limit": 10}
    first = api_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="opt-1")
    again = api_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="opt-1")
    assert first.status_code == 202 and again.status_code == 202
    assert first.json()["job"] == again.json()["job"] and Job.objects.filter(kind="optimizer").count() == 1

    job = wait_for(
        lambda: Job.objects.filter(pk=first.json()["job"], status__in=["succeeded", "failed"]).first(), timeout=60
    )
    assert job.status == "succeeded", job.error
    created = Scenario.objects.get(pk=job.result["scenario"])
    assert created.cloned_from_id == source.pk and created.status == "planning"
    assert job.result["summary"]["contiguous"] is True and job.result["summary"]["max_rel_dev"] <= 0.05
    assert created.optimizer_report["within_tolerance"] is True and set(_pieces(created).values()) == {1}
    assert "(tolerance potential ±5.0%); contiguous; every territory within the tolerance." in job.message
    polled = api_client.get(f"/api/v1/jobs/{job.pk}/").json()
    assert polled["result"]["scenario"] == created.pk and polled["progress"] == 100.0


@pytest.mark.django_db
def test_workspace_shows_the_optimise_panel_and_the_report(client, manager_user):
    source = _grid_scenario(leaves=2)
    result = optimizer_run(scenario=source, k=2, balance={"potential": (1.0, 0.05)}, time_limit=10)
    client.force_login(manager_user)
    page = client.get(f"/workspace/?scenario={result.pk}").content.decode()
    assert 'data-testid="optimize-start"' in page and "js/workspace/optimize.js" in page
    assert "Optimiser report (design, 2 territories, 36 units)" in page
    assert f"?scenario={result.pk}&amp;compare={source.pk}" in page
    assert "/api/v1/scenarios/{id}/optimize/" in page


@pytest.mark.django_db
def test_progress_names_each_phase_and_the_report_times_them():
    source = _grid_scenario(leaves=3)
    seen = []
    result = optimizer_run(
        scenario=source,
        k=3,
        balance={"potential": (1.0, 0.05)},
        time_limit=20,
        progress=lambda pct, message: seen.append((pct, message)),
    )

    messages = [message for _, message in seen]
    phases = [
        "reading units and measures",
        "building the boundaries",
        "cloning the scenario with the plan",
        "writing the report",
        "done",
    ]
    assert [message for message in messages if message in phases] == phases
    assert any(message.startswith("optimiser: ") for message in messages[1 : messages.index(phases[1])])
    assert [pct for pct, _ in seen] == sorted(pct for pct, _ in seen) and seen[-1][0] == 100
    report = result.optimizer_report
    assert set(report["phases_s"]) == {"read", "optimiser", "boundaries", "clone", "report", "total"}
    assert report["time_limit_s"] == 20 and 5 <= report["search_time_limit_s"] < 20


def test_the_optimiser_gets_the_time_left_less_a_reserve_for_the_write():
    # 60 - 4 - (1.5 + 1.5 × 3.142): the demo on an idle machine
    assert optimizer_search_seconds(time_limit=60, elapsed=4, units=3142) == 49.8
    # the same at a load of 4.5 on 2 cores: the reserve grows with how busy the machine is, up to 3 times
    assert optimizer_search_seconds(time_limit=60, elapsed=4, units=3142, busy=2.25) == 42.0
    assert optimizer_search_seconds(time_limit=60, elapsed=4, units=3142, busy=9) == 37.4
    assert optimizer_search_seconds(time_limit=5, elapsed=3, units=36) == 5.0  # never below 5 s


@pytest.mark.django_db
def test_boundaries_are_the_unions_of_the_units_as_sql_computes_them():
    source = _grid_scenario(leaves=4)
    result = optimizer_run(scenario=source, k=3, balance={"potential": (1.0, 0.05)}, time_limit=20)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT t.code, ST_Equals(t.boundary, (SELECT ST_Union(g.geometry) FROM territories_territoryunit tu
                                                  JOIN territories_geounit g ON g.id = tu.unit_id
                                                  WHERE tu.territory_id = t.id OR tu.territory_id IN
                                                        (SELECT c.id FROM territories_territory c
                                                         WHERE c.parent_id = t.id)))
            FROM territories_territory t WHERE t.scenario_id = %s ORDER BY t.code
            """,
            [result.pk],
        )
        equal = dict(cursor.fetchall())
    assert len(equal) == 4 and all(equal.values())  # the region and its three leaves


@pytest.mark.django_db
def test_more_territories_than_leaves_adds_leaves_with_units_accounts_and_boundary():
    source = _grid_scenario(leaves=2)
    result = optimizer_run(scenario=source, k=4, balance={"potential": (1.0, 0.1)}, time_limit=20)

    added = Territory.objects.filter(scenario=result, code__contains="-OPT")
    assert added.count() == 2
    pieces = _pieces(result)
    for territory in added:
        units = TerritoryUnit.objects.filter(territory=territory)
        assert units.exists() and pieces[territory.code] == 1
        assert territory.boundary.area == pytest.approx(units.count() * SIZE**2)
        accounts = AccountAssignment.objects.filter(territory=territory, valid_to__isnull=True)
        assert accounts.count() == 2 * units.count() and set(accounts.values_list("source", flat=True)) == {"optimizer"}
    assert AccountAssignment.objects.filter(scenario=result, valid_to__isnull=True).count() == 2 * COLUMNS * ROWS
    assert result.optimizer_report["within_tolerance"] is True


@pytest.mark.django_db
def test_an_oversize_unit_is_reported_in_plain_words(client, manager_user):
    source = _grid_scenario(leaves=3)
    band = Territory.objects.get(scenario=source, code="L0")
    big = AccountFactory(location=Point(-100 + SIZE / 2, 40 + SIZE / 2, srid=4326), potential=Decimal(9000))
    AccountAssignment.objects.create(
        scenario=source, account=big, territory=band, valid_from="2024-01-01T00:00Z", source="geography"
    )
    result = optimizer_run(scenario=source, k=3, balance={"potential": (1.0, 0.1)}, time_limit=20)

    report = result.optimizer_report
    [oversize] = report["oversize_singletons"]
    holder = report["territory_codes"][oversize["territory"]]
    assert TerritoryUnit.objects.get(scenario=result, unit__code="U00").territory.code == holder
    assert report["notes"][0].startswith(
        f"{holder} cannot be balanced: U00 alone holds 3.4 × a territory's mean potential"
    )
    assert "so it is a territory of its own; the others are balanced without it." in report["notes"][0]
    assert report["within_tolerance"] is True and report["summary"]["oversize_singletons"] == 1
    assert "1 territory cannot be balanced (an oversize unit)" in report["summary"]["headline"]
    client.force_login(manager_user)
    page = client.get(f"/workspace/?scenario={result.pk}").content.decode()
    assert 'data-testid="optimize-notes"' in page and f"<li>{holder} cannot be balanced: U00 alone holds" in page


@pytest.mark.django_db
def test_accounts_of_named_account_territories_move_with_their_unit_but_do_not_count():
    source = _grid_scenario(leaves=3)
    named = TerritoryFactory(
        scenario=source,
        code="NAMED",
        boundary=None,
        territory_type=TerritoryTypeFactory(name="Named", kind=TerritoryType.Kind.NAMED),
    )
    strategic = AccountFactory(location=Point(-100 + SIZE / 2, 40 + SIZE / 2, srid=4326), potential=Decimal(90000))
    for territory, kind in ((Territory.objects.get(scenario=source, code="L0"), "geography"), (named, "override")):
        AccountAssignment.objects.create(
            scenario=source, account=strategic, territory=territory, valid_from="2024-01-01T00:00Z", source=kind
        )
    result = optimizer_run(scenario=source, k=3, balance={"potential": (1.0, 0.05)}, time_limit=20)

    report = result.optimizer_report
    assert report["named_accounts_not_counted"] == 1 and report["named_potential_not_counted"] == 90000
    assert report["oversize_singletons"] == [] and report["within_tolerance"] is True
    holder = TerritoryUnit.objects.get(scenario=result, unit__code="U00").territory
    current = AccountAssignment.objects.filter(scenario=result, account=strategic, valid_to__isnull=True)
    assert set(current.values_list("territory__code", "source")) == {(holder.code, "optimizer"), ("NAMED", "override")}
    assert report["notes"][-1] == (
        "Accounts of named-account territories (1, potential 90,000) move with their units but are not counted in "
        "the balance."
    )


@pytest.mark.django_db
def test_a_second_run_on_the_same_units_reuses_their_graph_and_gives_the_same_plan():
    source = _grid_scenario(leaves=3)
    first = optimizer_run(scenario=source, k=3, balance={"potential": (1.0, 0.05)}, time_limit=20)
    second = optimizer_run(scenario=source, k=3, balance={"potential": (1.0, 0.05)}, time_limit=20)

    assert first.optimizer_report["unit_graph_reused"] is False
    assert second.optimizer_report["unit_graph_reused"] is True

    def plan(scenario):
        return set(TerritoryUnit.objects.filter(scenario=scenario).values_list("unit__code", "territory__code"))

    assert plan(first) == plan(second)
    GeoUnit.objects.filter(code="U00").update(geometry=square(-100, 40, SIZE * 0.99))  # other geometry, other graph
    third = optimizer_run(scenario=source, k=3, balance={"potential": (1.0, 0.05)}, time_limit=20)
    assert third.optimizer_report["unit_graph_reused"] is False
