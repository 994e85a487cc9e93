"""FilterSets shared by the territories API and pages."""

import django_filters

from territories.models import AssignmentRule, GeoUnit, Scenario, Territory


class ScenarioFilterSet(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Scenario
        fields = ["status", "name"]


class TerritoryFilterSet(django_filters.FilterSet):
    parent = django_filters.NumberFilter(field_name="parent_id")
    root = django_filters.BooleanFilter(field_name="parent", lookup_expr="isnull")
    code = django_filters.CharFilter(lookup_expr="iexact")
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Territory
        fields = ["scenario", "parent", "depth", "territory_type", "level_name", "built_from_units", "code", "name"]


class GeoUnitFilterSet(django_filters.FilterSet):
    code = django_filters.CharFilter(lookup_expr="istartswith")

    class Meta:
        model = GeoUnit
        fields = ["layer", "code"]


class AssignmentRuleFilterSet(django_filters.FilterSet):
    scenario = django_filters.NumberFilter(field_name="territory__scenario_id")

    class Meta:
        model = AssignmentRule
        fields = ["territory", "scenario", "is_active"]
