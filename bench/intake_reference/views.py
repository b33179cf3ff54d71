"""The reference view: an HMAC over the raw body, then one insert."""

import hashlib
import hmac

from django.conf import settings
from django.http import HttpResponse
from rest_framework.response import Response
from rest_framework.views import APIView

from bench.intake_reference.models import Delivery


class ReferenceWebhookView(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    def post(self, request, store_hash: str):
        expected = hmac.new(settings.HMAC_KEY, request.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Reference-Signature", "")):
            return Response({"detail": "Authentication failed."}, status=401)
        Delivery.objects.create(body=request.data)
        return HttpResponse(status=200)
