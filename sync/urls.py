"""Webhook routes (the intake view is added by the intake work)."""

urlpatterns: list = []
