"""The webhook endpoint: authenticate, store, queue, answer at once."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sync.selectors import store_active_get
from sync.services.webhooks import webhook_event_receive


class BigCommerceWebhookView(APIView):
    """``POST /webhooks/bigcommerce/<store_hash>/``: 200 with an empty body once the event is stored.

    No session authentication and no CSRF (APIView is CSRF-exempt without SessionAuthentication):
    each callback proves itself with the store's secret or signature, over the raw body.
    """

    authentication_classes: list = []
    permission_classes: list = []

    def post(self, request: Request, store_hash: str) -> HttpResponse:
        store = store_active_get(store_hash=store_hash)
        if store is None:
            return Response({"detail": "Unknown store."}, status=404)
        # Refuse an announced oversize body before reading it.
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > settings.WEBHOOK_MAX_BODY_BYTES:
            return Response({"detail": "The body is too large."}, status=413)
        try:
            body = request.body  # the raw bytes, read once: signatures are computed over them
        except RequestDataTooBig:
            return Response({"detail": "The body is too large."}, status=413)
        result = webhook_event_receive(store_hash=store_hash, body=body, headers=request.headers, store=store)
        if result.status_code == 200:
            return HttpResponse(status=200)
        return Response({"detail": result.detail}, status=result.status_code)
