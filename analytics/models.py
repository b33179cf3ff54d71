"""The customer analytics ledger and the values derived from it.

The ledger holds the facts (one row per order, last write wins); everything a
customer's Account shows is recomputed from those facts, never incremented, so a
redelivered or reordered webhook cannot drift the numbers.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models

from sync.models import Store

# Room for any "{hash}:..." value (guests are "{hash}:guest:{32 hex digits}"; older ones carried the email).
CUSTOMER_KEY_LENGTH = 400


class LedgerEntry(models.Model):
    """One order of one customer, as last seen by the order sync."""

    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="ledger_entries")
    customer_key = models.CharField(
        max_length=CUSTOMER_KEY_LENGTH, help_text="The Account's BigCommerceCustomerId__c value."
    )
    order_id = models.PositiveBigIntegerField()
    order_date = models.DateTimeField()
    gross_total = models.DecimalField(max_digits=14, decimal_places=2)
    refunded_amount = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    net_total = models.DecimalField(
        max_digits=14, decimal_places=2, help_text="Gross total less refunds, never below zero."
    )
    status_id = models.PositiveSmallIntegerField("BigCommerce status id")
    counted = models.BooleanField(
        help_text="Counts toward the analytics under the status rules as of the last recording or recompute."
    )
    currency = models.CharField(max_length=3, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-order_date"]
        verbose_name = "ledger order"
        verbose_name_plural = "ledger orders"
        constraints = [models.UniqueConstraint(fields=["store", "order_id"], name="ledgerentry_unique_order")]
        indexes = [models.Index(fields=["store", "customer_key"])]

    def __str__(self) -> str:
        return f"order {self.order_id} of {self.customer_key}"


class CustomerValues(models.Model):
    """A customer's derived analytics, and what Salesforce was last sent."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="customer_values")
    customer_key = models.CharField(max_length=CUSTOMER_KEY_LENGTH)
    clv = models.DecimalField("lifetime value", max_digits=14, decimal_places=2, default=Decimal("0"))
    total_orders = models.PositiveIntegerField(default=0)
    average_order_value = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    last_order_date = models.DateField(null=True, blank=True)
    tier = models.CharField(max_length=16, default="Bronze")
    recency_score = models.PositiveSmallIntegerField(default=1)
    frequency_score = models.PositiveSmallIntegerField(default=1)
    monetary_score = models.PositiveSmallIntegerField(default=1)
    rfm_score = models.CharField("RFM score", max_length=3, default="111")
    segment = models.CharField(max_length=32, blank=True)
    tags = models.CharField(max_length=255, blank=True)
    # Written only once Salesforce answered (the order sync's settle check, the daily recompute), never
    # when the ledger changes: the ledger is BigCommerce's truth, this is Salesforce's.
    pushed_values = models.JSONField(
        null=True,
        blank=True,
        help_text="The Account analytics fields Salesforce holds as far as b2s knows (empty: never sent, or unknown).",
    )
    pushed_at = models.DateTimeField(null=True, blank=True)
    # Set only by the order sync (its ledger recording and its settle check): the daily recompute
    # leaves rows that an order sync touched while it ran to the fresher writer.
    recorded_at = models.DateTimeField(null=True, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-clv", "customer_key"]
        verbose_name = "customer values"
        verbose_name_plural = "customer values"
        constraints = [models.UniqueConstraint(fields=["store", "customer_key"], name="customervalues_unique_customer")]
        indexes = [models.Index(fields=["store", "clv"]), models.Index(fields=["store", "tier"])]

    def __str__(self) -> str:
        return f"{self.customer_key}: {self.clv} ({self.tier})"


class RfmEdges(models.Model):
    """The quintile edges of one store, recomputed by the daily recompute (RFM mode ``quintile``)."""

    store = models.OneToOneField(Store, on_delete=models.CASCADE, related_name="rfm_edges")
    customers = models.PositiveIntegerField(default=0, help_text="Customers with a counted order in the population.")
    recency_days = models.JSONField(default=list, help_text="Days since the last order: edges for scores 2..5.")
    frequency_orders = models.JSONField(default=list, help_text="Counted orders: edges for scores 2..5.")
    monetary_values = models.JSONField(default=list, help_text="Lifetime values (decimal strings): edges 2..5.")
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name = "RFM quintile edges"
        verbose_name_plural = "RFM quintile edges"

    def __str__(self) -> str:
        return f"RFM edges of store {self.store_id} ({self.customers} customers)"


class AnalyticsDashboard(CustomerValues):
    """A proxy that puts the dashboard in the admin's analytics app list."""

    class Meta:
        proxy = True
        verbose_name = "dashboard"
        verbose_name_plural = "dashboard"
