"""Workspace endpoints: exact payloads, refusals with their status codes, and query budgets."""

import json

import pytest
from django.urls import reverse

from territories.models import Scenario
from territories.workspace import selectors

pytestmark = pytest.mark.django_db


def url(name, grid, *args):
    return reverse(f"workspace:{name}", args=[grid["scenario"].pk, *args])


def test_tree_lists_the_hierarchy_with_extents(manager_api, grid, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        response = manager_api.get(url("api-tree", grid))
    assert response.status_code == 200
    body = response.json()
    assert body["scenario"] == {"id": grid["scenario"].pk, "name": grid["scenario"].name, "status": "planning",
                                "version": 1, "is_editable": True}
    assert [(t["code"], t["parent_id"], t["is_leaf"], t["bbox"]) for t in body["territories"]] == [
        ("R", None, False, None),
        ("A", grid["region"].pk, True, [-100.0, 40.0, -98.0, 41.0]),
        ("B", grid["region"].pk, True, [-98.0, 40.0, -96.0, 41.0]),
    ]
    assert body["edits"] == {"can_undo": False, "can_redo": False, "recent": []}


def test_balance_reports_sums_and_deviation_from_the_mean(manager_api, grid, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        response = manager_api.get(url("api-balance", grid))
    body = response.json()
    alpha = body["territories"][0]
    assert {k: alpha[k] for k in ("code", "accounts", "potential", "workload", "revenue", "pieces")} == {
        "code": "A", "accounts": 4, "potential": 4000.0, "workload": 40.0, "revenue": 400.0, "pieces": 1}
    assert alpha["deviation"] == {"accounts": 0.0, "potential": 0.0, "workload": 0.0, "revenue": 0.0}
    assert body["summary"]["potential"] == {"total": 8000.0, "mean": 4000.0, "max_deviation": 0.0, "cv": 0.0}


def test_boundaries_are_simplified_geojson_with_limited_precision(manager_api, grid, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        response = manager_api.get(url("api-boundaries", grid) + "?zoom=4")
    assert response["Content-Type"] == "application/geo+json"
    body = json.loads(response.content)
    assert [f["properties"]["code"] for f in body["features"]] == ["A", "B"]
    assert body["features"][0]["geometry"]["type"] == "MultiPolygon"
    ring = body["features"][0]["geometry"]["coordinates"][0][0]
    assert sorted({tuple(p) for p in ring}) == [(-100, 40), (-100, 41), (-98, 40), (-98, 41)]


def test_simplification_follows_the_zoom():
    assert selectors.simplification_for_zoom(4) == (360 / 256 / 16 / 2, 2)
    assert selectors.simplification_for_zoom(12)[1] == 5
    assert selectors.simplification_for_zoom(30)[1] == 6


def test_units_in_the_viewport_carry_their_territory(manager_api, grid, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        response = manager_api.get(url("api-units", grid) + "?bbox=-99.9,40.1,-98.1,40.9&zoom=8")
    body = response.json()
    assert [(f["properties"]["code"], f["properties"]["territory"]) for f in body["features"]] == [
        (f"{grid['scenario'].pk}-0-0", grid["left"].pk), (f"{grid['scenario'].pk}-1-0", grid["left"].pk)]
    assert body["truncated"] is False


def test_units_require_a_valid_bbox(manager_api, grid):
    response = manager_api.get(url("api-units", grid) + "?bbox=nonsense")
    assert response.status_code == 400
    assert response.json()["message"] == "bbox must be west,south,east,north in degrees"


def test_accounts_in_the_viewport_are_compact_and_capped(manager_api, grid, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        response = manager_api.get(url("api-accounts", grid) + "?bbox=-100,40,-99,41")
    body = response.json()
    first = grid["accounts"][0]
    assert body["accounts"][0] == [first.pk, -99.5, 40.5, grid["left"].pk]
    assert len(body["accounts"]) == 2 and body["truncated"] is False
    capped = selectors.accounts_in_bbox(scenario=grid["scenario"], bbox=selectors.BBox(-101, 39, -95, 42), limit=3)
    assert len(capped["accounts"]) == 3 and capped["truncated"] is True


def _tile_features(grid, z, x, y, columns):
    """The features a tile is built from: the tile statement with its final ST_AsMVT swapped for a plain select."""
    from django.db import connection

    sql, params = selectors.account_tile_sql(scenario_id=grid["scenario"].pk, z=z, x=x, y=y)
    sql = sql.replace("SELECT ST_AsMVT(features, 'accounts', %(extent)s, 'geom') FROM features",
                      f"SELECT {columns} FROM features")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return sorted(cursor.fetchall())


def test_vector_tiles_are_served_and_cached_by_version(manager_api, grid, django_assert_max_num_queries):
    # z6 tile 14/24 spans lon -101.25..-95.63, lat 40.98..45.09... south edge 36.6: it holds the whole grid.
    with django_assert_max_num_queries(6):
        response = manager_api.get(url("api-tile", grid, 6, 14, 24))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.mapbox-vector-tile"
    assert b"accounts" in response.content and len(response.content) > 20
    with django_assert_max_num_queries(4):  # from the cache: no tile statement the second time
        again = manager_api.get(url("api-tile", grid, 6, 14, 24))
    assert again.content == response.content
    assert manager_api.get(url("api-tile", grid, 6, 99, 24)).status_code == 404


def test_low_zoom_tiles_carry_one_feature_per_cell_with_its_count(grid):
    # 8 accounts at 4 unit centres, 2 per centre: at z6 each centre is its own cell of 2 accounts.
    assert _tile_features(grid, 6, 14, 24, "count, id") == [(2, None)] * 4


def test_high_zoom_tiles_carry_each_account_with_its_territory(grid):
    # z13 tile 1831/3086 holds the point (-99.5, 40.5).
    rows = _tile_features(grid, 13, 1831, 3086, "id, territory")
    assert rows == sorted((a.pk, grid["left"].pk) for a in grid["accounts"][:2])


def test_selection_in_a_lasso_returns_the_units_and_accounts_inside(manager_api, grid):
    lasso = {"type": "Polygon", "coordinates": [[[-99.6, 40.2], [-97.4, 40.2], [-97.4, 40.8], [-99.6, 40.8],
                                                 [-99.6, 40.2]]]}
    units = manager_api.post(url("api-selection", grid), {"target": "units", "geometry": lasso}, format="json")
    assert units.json()["ids"] == [u.pk for u in grid["units"][:3]]
    accounts = manager_api.post(url("api-selection", grid), {"target": "accounts", "geometry": lasso}, format="json")
    assert accounts.json()["ids"] == [a.pk for a in grid["accounts"][:6]]


def test_move_undo_redo_through_the_api(manager_api, grid):
    unit = grid["units"][2]
    moved = manager_api.post(url("api-move-units", grid), {"version": 1, "ids": [unit.pk],
                                                           "territory": grid["left"].pk}, format="json")
    assert moved.status_code == 200
    body = moved.json()
    assert body["version"] == 2
    assert [(t["code"], t["accounts"], t["deviation"]["accounts"]) for t in body["balance"]["territories"]] == [
        ("A", 6, 50.0), ("B", 2, -50.0)]
    assert body["edits"]["can_undo"] is True
    undone = manager_api.post(url("api-undo", grid), {"version": 2}, format="json").json()
    assert [t["accounts"] for t in undone["balance"]["territories"]] == [4, 4]
    assert undone["edits"]["can_redo"] is True
    redone = manager_api.post(url("api-redo", grid), {"version": 3}, format="json").json()
    assert [t["accounts"] for t in redone["balance"]["territories"]] == [6, 2]


def test_stale_version_is_409_with_a_clear_message(manager_api, grid):
    response = manager_api.post(url("api-move-units", grid), {"version": 7, "ids": [grid["units"][2].pk],
                                                              "territory": grid["left"].pk}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "stale_version"
    assert "Reload the map" in response.json()["message"]


def test_editing_the_active_scenario_is_refused(manager_api, grid):
    Scenario.objects.filter(pk=grid["scenario"].pk).update(status="active")
    response = manager_api.post(url("api-move-accounts", grid), {"version": 1, "ids": [grid["accounts"][0].pk],
                                                                 "territory": grid["right"].pk}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "scenario_not_editable"
    assert "clone it into a planning scenario" in response.json()["message"]


def test_lock_through_the_api_then_moves_are_refused(manager_api, grid):
    locked = manager_api.post(url("api-lock", grid, grid["right"].pk), {"version": 1, "is_locked": True},
                              format="json")
    assert locked.json()["territory"] == {"id": grid["right"].pk, "is_locked": True}
    refused = manager_api.post(url("api-move-units", grid), {"version": 2, "ids": [grid["units"][2].pk],
                                                             "territory": grid["left"].pk}, format="json")
    assert refused.status_code == 409
    assert refused.json()["message"] == "B Bravo is locked; unlock to change."


def test_reps_cannot_use_the_workspace(api_client, rep_user, grid, client):
    api_client.force_authenticate(rep_user)
    assert api_client.get(url("api-balance", grid)).status_code == 403
    assert api_client.get(url("api-tile", grid, 6, 14, 24)).status_code == 403
    client.force_login(rep_user)
    assert client.get(reverse("workspace:index")).status_code == 403


def test_compare_counts_accounts_and_revenue_moved(manager_api, grid):
    from territories.workspace import services
    from tests.factories import unit_grid_scenario

    other = unit_grid_scenario()  # same codes A and B, its own accounts
    # Make `other` hold the same accounts: copy grid's assignments by code, then move one unit's accounts.
    from accounts.models import AccountAssignment

    AccountAssignment.objects.filter(scenario=other["scenario"]).delete()
    for assignment in AccountAssignment.objects.filter(scenario=grid["scenario"]):
        target = other["left"] if assignment.territory_id == grid["left"].pk else other["right"]
        AccountAssignment.objects.create(scenario=other["scenario"], account=assignment.account, territory=target,
                                         valid_from=assignment.valid_from, source="rule")
    services.accounts_move(scenario_id=other["scenario"].pk, version=1,
                           account_ids=[a.pk for a in grid["accounts"][:2]], territory_id=other["right"].pk)
    body = manager_api.get(url("api-compare", grid, other["scenario"].pk)).json()
    assert body["totals"]["accounts_moved"] == 2 and body["totals"]["revenue_moved"] == 200.0
    assert [(t["code"], t["accounts_in"], t["accounts_out"], t["revenue_change"]) for t in body["territories"]] == [
        ("A", 0, 2, -200.0), ("B", 2, 0, 200.0)]


def test_workspace_page_and_territory_page_render(manager_client, grid, django_assert_max_num_queries):
    page = manager_client.get(reverse("workspace:index") + f"?scenario={grid['scenario'].pk}")
    assert page.status_code == 200
    config = json.loads(page.context["config"] and json.dumps(page.context["config"]))
    assert config["scenario"] == grid["scenario"].pk
    assert config["api"] == "/workspace/api/scenarios/"
    assert b"leaflet/leaflet.js" in page.content and b"unpkg" not in page.content
    with django_assert_max_num_queries(20):
        detail = manager_client.get(reverse("workspace:territory-detail", args=[grid["left"].pk]))
    assert detail.status_code == 200
    assert detail.context["measures"] == {"accounts": 4, "potential": 4000.0, "workload": 40.0, "revenue": 400.0,
                                          "pieces": 1}
    assert [a["account"].pk for a in detail.context["accounts"]] == [a.pk for a in grid["accounts"][:4]]
