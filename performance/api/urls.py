"""Registers the performance viewsets on the shared /api/v1/ router."""

from performance.api import views


def register(router) -> None:
    router.register("quotas", views.QuotaViewSet, basename="quota")
    router.register("opportunities", views.OpportunityViewSet, basename="opportunity")
    router.register("kpi-snapshots", views.KpiSnapshotViewSet, basename="kpi-snapshot")
    router.register("kpi-flags", views.KpiFlagViewSet, basename="kpi-flag")
