from accounts.api import views


def register(router) -> None:
    router.register("accounts", views.AccountViewSet, basename="account")
    router.register("overrides", views.AccountOverrideViewSet, basename="override")
    router.register("allocation", views.AllocationViewSet, basename="allocation")
    router.register("allocation-runs", views.AllocationRunViewSet, basename="allocation-run")
    router.register("alignment", views.AlignmentViewSet, basename="alignment")
    router.register("assignments", views.AssignmentViewSet, basename="assignment")
