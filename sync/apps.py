from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "sync"
    verbose_name = "Sync and configuration"

    def ready(self) -> None:
        from sync import signals  # noqa: F401  (connects configuration invalidation)
