"""One router for the REST API; each app registers its viewsets in its api/urls.py module."""

from importlib import import_module

from rest_framework.routers import DefaultRouter

from core.token_api import ApiTokenViewSet
from core.webhook_api import WebhookDeliveryViewSet, WebhookSubscriptionViewSet

router = DefaultRouter()
router.register("tokens", ApiTokenViewSet, basename="api-token")
router.register("webhooks", WebhookSubscriptionViewSet, basename="webhook")
router.register("webhook-deliveries", WebhookDeliveryViewSet, basename="webhook-delivery")

# Each app registers its viewsets in <app>/api/urls.py.
for app_label in ("core", "territories", "accounts", "reps", "performance", "collaboration"):
    import_module(f"{app_label}.api.urls").register(router)

app_name = "v1"
urlpatterns = router.urls
