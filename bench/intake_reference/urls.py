from django.urls import path

from bench.intake_reference.views import ReferenceWebhookView

urlpatterns = [path("webhooks/bigcommerce/<slug:store_hash>/", ReferenceWebhookView.as_view())]
