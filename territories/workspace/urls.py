from django.urls import path

from territories.workspace import api, views

app_name = "workspace"

_scenario = "api/scenarios/<int:scenario_id>/"
urlpatterns = [
    path("", views.index, name="index"),
    path("territories/<int:pk>/", views.territory_detail, name="territory-detail"),
    path(f"{_scenario}tree/", api.scenario_tree, name="api-tree"),
    path(f"{_scenario}balance/", api.scenario_balance, name="api-balance"),
    path(f"{_scenario}boundaries/", api.scenario_boundaries, name="api-boundaries"),
    path(f"{_scenario}units/", api.scenario_units, name="api-units"),
    path(f"{_scenario}accounts/", api.scenario_accounts, name="api-accounts"),
    path(f"{_scenario}tiles/<int:z>/<int:x>/<int:y>.pbf", api.account_tile, name="api-tile"),
    path(f"{_scenario}selection/", api.scenario_selection, name="api-selection"),
    path(f"{_scenario}moves/units/", api.move_units, name="api-move-units"),
    path(f"{_scenario}moves/accounts/", api.move_accounts, name="api-move-accounts"),
    path(f"{_scenario}territories/<int:territory_id>/boundary/", api.reshape_territory, name="api-reshape"),
    path(f"{_scenario}territories/<int:territory_id>/lock/", api.lock_territory, name="api-lock"),
    path(f"{_scenario}undo/", api.undo, name="api-undo"),
    path(f"{_scenario}redo/", api.redo, name="api-redo"),
    path(f"{_scenario}compare/<int:other_id>/", api.scenario_compare, name="api-compare"),
]
