"""URL routes: the admin, the health check, the Prometheus metrics and the webhook endpoint."""

from django.contrib import admin
from django.urls import include, path

from b2s.health import health_view
from ops.views import metrics_view

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health", health_view, name="health"),
    path("metrics", metrics_view, name="metrics"),
    path("webhooks/", include("sync.urls")),
    path("sandbox/", include("b2s.sandbox_page")),
]
