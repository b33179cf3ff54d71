"""The webhook endpoint: authenticate, store, queue, answer at once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpResponse, UnreadablePostError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sync.models import Store
from sync.selectors import store_active_cached_get
from sync.services.intake import Reason as Rejection
from sync.services.intake import intake_rejection_count
from sync.services.webhooks import request_source_address, webhook_event_receive


class JSONOnlyNegotiation(BaseContentNegotiation):
    """Always JSON: an odd Accept header must never turn a delivery into a 406."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


# Why no docstring on the view: DRF's OPTIONS metadata and browsable pages publish a view's docstring.
# ``POST /webhooks/bigcommerce/<store_hash>/`` (the trailing slash optional): 200 with an empty body once
# the event is stored. No session authentication and no CSRF (APIView is CSRF-exempt without
# SessionAuthentication): each callback proves itself with the store's secret or signature, over the raw body.
class BigCommerceWebhookView(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONOnlyNegotiation
    metadata_class = None

    # DRF's stubs narrow View.options (Request in, Response out) with an ignore of their own, so no override
    # satisfies both; a plain 204 carries no body to render.
    def options(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:  # type: ignore[override]
        response = HttpResponse(status=204)
        response["Allow"] = ", ".join(self.allowed_methods)
        return response

    def post(self, request: Request, store_hash: str) -> HttpResponse:
        # No per-request health check (CONN_HEALTH_CHECKS is off, b2s/env.py): a persistent connection that
        # died while idle (a database restart) fails the request's first query. When the error came with
        # the connection held since an earlier request and that connection is now gone (a failed
        # transaction's exit reconnects) or broken, answer once more on a new one. A repeat is harmless:
        # the unique delivery decides. Any other database error is raised as before.
        held = connection.connection
        try:
            return self._receive(request, store_hash)
        except (InterfaceError, OperationalError):
            if held is None or connection.in_atomic_block:
                raise
            if connection.connection is held and connection.is_usable():
                raise
            connection.close()
            return self._receive(request, store_hash)

    def _receive(self, request: Request, store_hash: str) -> HttpResponse:
        store = store_active_cached_get(store_hash=store_hash)
        if store is None:
            # Counted without the hash: nobody grows the table by inventing stores.
            intake_rejection_count(store_hash="", reason=Rejection.UNKNOWN_STORE)
            return Response({"detail": "Unknown store."}, status=404)
        # Refuse an announced oversize body before reading it.
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:  # Django's own body reading would raise on it
            return self._bad_request(store, "The Content-Length header is not a number.", status=400)
        if declared > settings.WEBHOOK_MAX_BODY_BYTES:
            return self._bad_request(store, "The body is too large.", status=413)
        try:
            body = request.body  # the raw bytes, read once: signatures are computed over them
        except RequestDataTooBig:
            return self._bad_request(store, "The body is too large.", status=413)
        except UnreadablePostError:
            return self._bad_request(store, "The body could not be read.", status=400)
        source = request_source_address(meta=request.META, trusted_proxies=settings.WEBHOOK_TRUSTED_PROXY_COUNT)
        result = webhook_event_receive(
            store_hash=store_hash, body=body, headers=request.headers, store=store, source=source
        )
        if result.status_code == 200:
            return HttpResponse(status=200)
        response = Response({"detail": result.detail}, status=result.status_code)
        if result.retry_after:
            response["Retry-After"] = str(result.retry_after)
        return response

    def _bad_request(self, store: Store, detail: str, *, status: int) -> Response:
        intake_rejection_count(store_hash=store.store_hash, reason=Rejection.BAD_REQUEST)
        return Response({"detail": detail}, status=status)
