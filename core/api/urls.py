from core.api.views import JobViewSet


def register(router) -> None:
    router.register("jobs", JobViewSet, basename="job")
