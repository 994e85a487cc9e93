from territories.api import views


def register(router) -> None:
    router.register("scenarios", views.ScenarioViewSet, basename="scenario")
    router.register("territories", views.TerritoryViewSet, basename="territory")
    router.register("territory-types", views.TerritoryTypeViewSet, basename="territory-type")
    router.register("geo-unit-layers", views.GeoUnitLayerViewSet, basename="geo-unit-layer")
    router.register("geo-units", views.GeoUnitViewSet, basename="geo-unit")
    router.register("rules", views.AssignmentRuleViewSet, basename="rule")
