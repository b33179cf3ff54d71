"""``GET /metrics``: the Prometheus exposition, for staff or a caller presenting ``METRICS_TOKEN``."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from b2s.health import health_token_matches
from ops.metrics import registry


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """The metrics for ``Authorization: Bearer <METRICS_TOKEN>`` or a staff session; 401 without credentials,
    403 with a wrong token or a session that is not staff."""
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    presented = credentials.strip() if scheme.lower() == "bearer" else ""
    if presented:
        if not health_token_matches(presented=presented, configured=settings.METRICS_TOKEN):
            return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    elif not request.user.is_authenticated:
        response = HttpResponse("Authentication required\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="b2s metrics"'
        return response
    elif not (request.user.is_active and request.user.is_staff):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
