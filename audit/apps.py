from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"

    def ready(self) -> None:
        from audit.services import sync_outcome_receive
        from sync.outcomes import sync_outcome

        # sync sits below audit and never imports it: it sends what happened, the audit log records it.
        sync_outcome.connect(sync_outcome_receive, dispatch_uid="audit.sync_outcome")
