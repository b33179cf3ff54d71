"""Webhook routes (included under ``webhooks/``)."""

from django.urls import path

from sync.views import BigCommerceWebhookView

webhook_view = BigCommerceWebhookView.as_view()

urlpatterns = [
    path("bigcommerce/<slug:store_hash>/", webhook_view, name="webhook-bigcommerce"),
    # Without the slash too: APPEND_SLASH's redirect would turn the POST into a GET and lose the body.
    path("bigcommerce/<slug:store_hash>", webhook_view, name="webhook-bigcommerce-unslashed"),
]
