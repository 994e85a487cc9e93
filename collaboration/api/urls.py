from collaboration.api.views import (
    ChangeRequestViewSet,
    CommentViewSet,
    NotificationViewSet,
    SalesPlanViewSet,
    ShareLinkViewSet,
)


def register(router) -> None:
    router.register("change-requests", ChangeRequestViewSet, basename="change-request")
    router.register("comments", CommentViewSet, basename="comment")
    router.register("notifications", NotificationViewSet, basename="notification")
    router.register("sales-plans", SalesPlanViewSet, basename="sales-plan")
    router.register("share-links", ShareLinkViewSet, basename="share-link")
