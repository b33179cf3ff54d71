from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """Customer analytics: the order ledger, derived values, the daily recompute and the dashboard.

    The daily django-q2 Schedule is created by the data migration ``0002_seed`` (once, so an
    admin's edits or deletion stick).
    """

    name = "analytics"
    verbose_name = "Customer analytics"
