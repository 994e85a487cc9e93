from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core import views as core_views
from core.login_throttle import ThrottledLoginView

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_router", namespace="v1")),
    path("api/schema/", SpectacularAPIView.as_view(api_version="v1"), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("jobs/", include("core.urls")),
]

urlpatterns += [
    path("territories/", include("territories.urls")),
    path("workspace/", include("territories.workspace.urls")),
    path("accounts/", include("accounts.urls")),
    path("reps/", include("reps.urls")),
    path("performance/", include("performance.urls")),
    path("collaboration/", include("collaboration.urls")),
]
