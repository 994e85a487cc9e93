"""FilterSets shared by the API and the pages (dashboard tables and CSV exports)."""

import django_filters

from performance.models import KpiSnapshot, Opportunity, Quota


class QuotaFilterSet(django_filters.FilterSet):
    period_start = django_filters.DateFilter(field_name="period_end", lookup_expr="gte", label="Overlaps from")
    period_end = django_filters.DateFilter(field_name="period_start", lookup_expr="lte", label="Overlaps until")
    scenario = django_filters.NumberFilter(field_name="territory__scenario")

    class Meta:
        model = Quota
        fields = ["territory", "rep", "metric", "scenario", "period_start", "period_end"]


class OpportunityFilterSet(django_filters.FilterSet):
    close_date_after = django_filters.DateFilter(field_name="close_date", lookup_expr="gte")
    close_date_before = django_filters.DateFilter(field_name="close_date", lookup_expr="lte")
    account_external_id = django_filters.CharFilter(field_name="account__external_id")
    is_open = django_filters.BooleanFilter(method="filter_is_open")

    class Meta:
        model = Opportunity
        fields = ["account", "rep", "stage", "external_id", "account_external_id", "close_date_after",
                  "close_date_before", "is_open"]

    def filter_is_open(self, queryset, name, value):
        closed = [Opportunity.Stage.WON, Opportunity.Stage.LOST]
        return queryset.exclude(stage__in=closed) if value else queryset.filter(stage__in=closed)


class KpiSnapshotFilterSet(django_filters.FilterSet):
    period_start = django_filters.DateFilter()
    period_end = django_filters.DateFilter()
    period_start_after = django_filters.DateFilter(field_name="period_start", lookup_expr="gte")
    period_end_before = django_filters.DateFilter(field_name="period_end", lookup_expr="lte")
    is_leaf = django_filters.BooleanFilter(field_name="metrics__is_leaf")
    depth = django_filters.NumberFilter(field_name="metrics__depth", min_value=0, max_value=100, decimal_places=0)
    level = django_filters.NumberFilter(min_value=0, max_value=100, decimal_places=0)
    flagged = django_filters.BooleanFilter(method="filter_flagged")
    flag = django_filters.CharFilter(method="filter_flag", label="Flag code (under_performing, unbalanced ...)")

    class Meta:
        model = KpiSnapshot
        fields = ["scenario", "scope", "territory", "rep", "level", "period_start", "period_end",
                  "period_start_after", "period_end_before", "is_leaf", "depth", "flagged", "flag"]

    def filter_flagged(self, queryset, name, value):
        return queryset.exclude(flags=[]) if value else queryset.filter(flags=[])

    def filter_flag(self, queryset, name, value):
        return queryset.filter(flags__contains=[{"code": value}])
