"""One router for the REST API; each app registers its viewsets in its api/urls.py module."""

from importlib import import_module

from rest_framework.routers import DefaultRouter

from core.token_api import ApiTokenViewSet
from core.webhook_api import WebhookDeliveryViewSet, WebhookSubscriptionViewSet

class _Router(DefaultRouter):
    # TEMPORARY while apps are developed in parallel: a second registration of a prefix is skipped with a warning.
    def register(self, prefix, viewset, basename=None):
        if basename and self.is_already_registered(basename):
            import warnings

            warnings.warn(f"API prefix {prefix!r} registered twice; keeping the first", stacklevel=2)
            return
        super().register(prefix, viewset, basename)


router = _Router()
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
