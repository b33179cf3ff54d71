"""What the operations console keeps of its own: hourly roll-ups of the inbox and the alerts it raised."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class HourlyStat(models.Model):
    """One store's events of one scope in one hour, rolled up from the inbox and the audit log.

    Rewritten for the recent hours by a scheduled task, so the dashboard reads a few hundred rows rather
    than a million events. Latencies (webhook received → Salesforce written) are kept as a histogram.
    """

    store = models.ForeignKey("sync.Store", on_delete=models.CASCADE, related_name="hourly_stats")
    hour = models.DateTimeField(help_text="The start of the hour (UTC).")
    scope = models.CharField(max_length=100)
    received = models.PositiveIntegerField(default=0)
    synced = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    dead = models.PositiveIntegerField(default=0)
    ignored = models.PositiveIntegerField(default=0)
    latency_buckets = models.JSONField(default=dict, blank=True, help_text="{upper bound in ms: events}.")
    latency_total_ms = models.PositiveBigIntegerField(default=0)
    salesforce_calls = models.PositiveIntegerField(default=0)
    bigcommerce_calls = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-hour", "scope"]
        constraints = [models.UniqueConstraint(fields=["store", "hour", "scope"], name="hourlystat_unique")]
        indexes = [models.Index(fields=["hour"], name="hourlystat_hour")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.scope}"


class Alert(models.Model):
    """A condition an operator is told about: opened once, re-sent at most every ``alert_repeat_minutes``
    while it lasts, resolved when it clears. One open alert per kind and key groups an outage."""

    class Kind(models.TextChoices):
        DEAD_EVENTS = "dead_events", "dead events"
        FAILURE_RATE = "failure_rate", "failure rate"
        BACKLOG_AGE = "backlog_age", "backlog age"
        AUTH_FAILURES = "auth_failures", "authentication failures"
        API_BUDGET = "api_budget", "Salesforce API budget"

    class State(models.TextChoices):
        OPEN = "open"
        RESOLVED = "resolved"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    key = models.CharField(max_length=200, blank=True, help_text="What the alert is about (a store, a scope).")
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    summary = models.TextField()
    # Set by the evaluation (its own clock, so a reopened alert's time compares with its notifications).
    opened_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    last_notified_at = models.DateTimeField(null=True, blank=True)
    notifications = models.PositiveIntegerField(default=0)
    occurrences = models.PositiveIntegerField(default=1)
    delivery_error = models.CharField(
        max_length=500,
        blank=True,
        help_text="Why the last message about it did not reach a channel; empty when it did.",
    )

    class Meta:
        ordering = ["-last_seen_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "key"], condition=models.Q(state="open"), name="alert_one_open_per_kind_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.key} ({self.state})"
