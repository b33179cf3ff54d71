"""The audit log: one row per sync operation."""

from __future__ import annotations

from django.db import models


class AuditLog(models.Model):
    """What one sync did: which records, how it ended, what it cost."""

    class Status(models.TextChoices):
        SUCCESS = "success"
        FAILED = "failed"
        SKIPPED = "skipped"

    class Operation(models.TextChoices):
        ORDER_SYNC = "ORDER_SYNC"
        CUSTOMER_SYNC = "CUSTOMER_SYNC"
        SHIPMENT_SYNC = "SHIPMENT_SYNC"
        REFUND_SYNC = "REFUND_SYNC"
        CART_SYNC = "CART_SYNC"
        CART_CONVERSION = "CART_CONVERSION"
        CART_EXPIRY = "CART_EXPIRY"
        PRODUCT_SYNC = "PRODUCT_SYNC"
        ANALYTICS_RECOMPUTE = "ANALYTICS_RECOMPUTE"
        BACKFILL = "BACKFILL"
        WEBHOOK_REGISTRATION = "WEBHOOK_REGISTRATION"
        ORDER_WRITEBACK = "ORDER_WRITEBACK"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    operation = models.CharField(max_length=40, choices=Operation.choices)
    store = models.ForeignKey("sync.Store", null=True, blank=True, on_delete=models.SET_NULL)
    bigcommerce_id = models.CharField(max_length=64, blank=True, db_index=True)
    salesforce_ids = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    error = models.TextField(blank=True)
    error_code = models.CharField(max_length=100, blank=True)
    attempt = models.PositiveIntegerField(default=1)
    duration_ms = models.PositiveIntegerField(default=0)
    salesforce_api_calls = models.PositiveIntegerField(default=0)
    bigcommerce_api_calls = models.PositiveIntegerField(default=0)
    event = models.ForeignKey(
        "sync.WebhookEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["operation", "status", "created_at"]),
            # The operations dashboard's errors by code: the failed attempts of a window, a few % of the log.
            models.Index(fields=["created_at"], condition=models.Q(status="failed"), name="auditlog_failed_created"),
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.bigcommerce_id} {self.status}"
