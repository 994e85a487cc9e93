"""One router for the REST API; each app registers its viewsets in its api/urls.py module."""

from importlib import import_module

from rest_framework.routers import DefaultRouter

from core.token_api import ApiTokenViewSet
from core.webhook_api import WebhookDeliveryViewSet, WebhookSubscriptionViewSet

router = DefaultRouter()
router.register("tokens", ApiTokenViewSet, basename="api-token")
router.register("webhooks", WebhookSubscriptionViewSet, basename="webhook")
router.register("webhook-deliveries", WebhookDeliveryViewSet, basename="webhook-delivery")

# Apps that expose an API add `register(router)` to <app>/api/urls.py; missing modules are skipped.
for app_label in ("core", "territories", "accounts", "reps", "performance", "collaboration"):
    try:
        module = import_module(f"{app_label}.api.urls")
    except ModuleNotFoundError as exc:
        if exc.name not in {f"{app_label}.api", f"{app_label}.api.urls"}:
            raise
        continue
    module.register(router)

app_name = "v1"
urlpatterns = router.urls
