from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "sync"
    verbose_name = "Sync and configuration"

    def ready(self) -> None:
        from sync import checks, signals  # noqa: F401  (registers the checks, connects configuration invalidation)
