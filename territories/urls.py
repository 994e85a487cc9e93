from django.urls import path

from territories import views

app_name = "territories"
urlpatterns = [
    path("scenarios/", views.scenario_list_view, name="scenario-list"),
    path("scenarios/compare/", views.scenario_compare, name="scenario-compare"),
    path("scenarios/<int:pk>/", views.scenario_detail, name="scenario-detail"),
    path("scenarios/<int:pk>/allocation/", views.allocation_page, name="allocation"),
    path("scenarios/<int:pk>/territories/add/", views.territory_add, name="territory-add"),
    path("scenarios/<int:pk>/rules/save/", views.rule_save, name="rule-save"),
    path("scenarios/<int:pk>/<str:command>/", views.scenario_command, name="scenario-command"),
    path("territories/<int:pk>/move/", views.territory_move_view, name="territory-move"),
    path("rules/<int:pk>/delete/", views.rule_delete, name="rule-delete"),
    path("geo-units/import/", views.geo_unit_import_page, name="geo-unit-import"),
]
