"""The reps app's part of the /api/v1/ router."""

from reps.api import views


def register(router) -> None:
    router.register("teams", views.TeamViewSet, basename="team")
    router.register("reps", views.RepViewSet, basename="rep")
    router.register("rep-assignments", views.RepAssignmentViewSet, basename="rep-assignment")
    router.register("visit-cadences", views.VisitCadenceViewSet, basename="visit-cadence")
    router.register("activities", views.ActivityViewSet, basename="activity")
    router.register("coverage", views.CoverageViewSet, basename="coverage")
    router.register("workload", views.WorkloadViewSet, basename="workload")
    router.register("rep-matches", views.RepMatchViewSet, basename="rep-match")
    router.register("call-plans", views.CallPlanViewSet, basename="call-plan")
    router.register("me/accounts", views.MyAccountViewSet, basename="my-account")
