"""Webhook routes (included under ``webhooks/``)."""

from django.urls import path

from sync.views import BigCommerceWebhookView

urlpatterns = [
    path("bigcommerce/<slug:store_hash>/", BigCommerceWebhookView.as_view(), name="webhook-bigcommerce"),
]
