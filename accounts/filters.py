"""FilterSets shared by the accounts API and pages."""

import django_filters
from django.db.models import Q

from accounts.models import Account, AccountAssignment, AccountOverride


class AccountFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search name, external id or city")
    territory = django_filters.NumberFilter(method="in_territory", label="Currently in territory (id)")
    industry = django_filters.CharFilter(lookup_expr="iexact")
    postal_code = django_filters.CharFilter(lookup_expr="istartswith")
    min_revenue = django_filters.NumberFilter(field_name="annual_revenue", lookup_expr="gte")
    max_revenue = django_filters.NumberFilter(field_name="annual_revenue", lookup_expr="lte")
    unassigned_in = django_filters.NumberFilter(method="unassigned", label="No current assignment in scenario (id)")

    class Meta:
        model = Account
        fields = ["q", "segment", "customer_type", "tier", "status", "industry", "state", "postal_code", "territory"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(external_id__iexact=value) | Q(city__icontains=value))

    def in_territory(self, queryset, name, value):
        current = AccountAssignment.objects.filter(territory_id=value, valid_to__isnull=True).values("account_id")
        return queryset.filter(pk__in=current)

    def unassigned(self, queryset, name, value):
        current = AccountAssignment.objects.filter(scenario_id=value, valid_to__isnull=True).values("account_id")
        return queryset.exclude(pk__in=current)


class AccountOverrideFilterSet(django_filters.FilterSet):
    class Meta:
        model = AccountOverride
        fields = ["scenario", "account", "territory", "kind", "is_active"]
