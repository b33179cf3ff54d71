from django.apps import AppConfig


class RecoveryConfig(AppConfig):
    """Cart recovery. Its webhook handlers (recovery.handlers) are imported by sync.handlers.handlers_load()."""

    name = "recovery"
    verbose_name = "Cart recovery"
