"""URL routes: the admin, the health check, the Prometheus metrics and the webhook endpoint."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from b2s.health import health_view
from ops.views import metrics_view


def admin_site_url(*, sandbox: bool) -> str | None:
    """The admin's "View site" link: b2s has no public site, so the sandbox page in the demo, else none (hidden)."""
    return "/sandbox/" if sandbox else None


admin.site.site_url = admin_site_url(sandbox=bool(settings.SALESFORCE.get("SANDBOX")))

urlpatterns = [
    # Nothing lives at the root: everyone goes to the admin, whose login page turns away non-staff.
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False), name="root"),
    path("admin/", admin.site.urls),
    path("health", health_view, name="health"),
    path("metrics", metrics_view, name="metrics"),
    path("webhooks/", include("sync.urls")),
    path("sandbox/", include("b2s.sandbox_page")),
]
