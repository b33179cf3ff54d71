"""What the order feature remembers of Salesforce: products, orders and their lines, backfill runs.

The tables keep the names they had when these models lived in the ``sync`` app (the move changed Django's
state only: ``orders.0001_initial`` and ``sync.0012_order_models_moved``).
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils import timezone

from sync.models import EXTERNAL_KEY_LENGTH, Store


class KnownProduct(models.Model):
    """A product/variant that exists in Salesforce with its standard price book entry.

    ``currency`` is the entry's CurrencyIsoCode in a multi-currency org (one entry per currency), else "".
    Order sync uses only ``active`` rows (an inactive entry cannot take order items: an order for a product the
    catalog deactivated looks the entry up and activates it). ``fingerprint`` is the digest of what the catalog
    sync last wrote for it ("" when an order wrote it), so an unchanged product event costs no request.
    """

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="known_products")
    product_key = models.CharField(max_length=255, help_text="The Product2 BigCommerceProductId__c value.")
    currency = models.CharField(max_length=3, blank=True)
    product2_id = models.CharField("Product2 Id", max_length=18)
    pricebook_entry_id = models.CharField("PricebookEntry Id", max_length=18)
    active = models.BooleanField(default=True, help_text="The Product2 and its entry are active in Salesforce.")
    fingerprint = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "sync_knownproduct"  # the table it had in the sync app (moved state only)
        constraints = [models.UniqueConstraint(fields=["store", "product_key", "currency"], name="knownproduct_unique")]

    def __str__(self) -> str:
        return f"{self.product_key} {self.currency}".strip()


class SyncedOrder(models.Model):
    """A BigCommerce order as last written to Salesforce."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="synced_orders")
    order_id = models.PositiveBigIntegerField()
    salesforce_id = models.CharField("Salesforce Order Id", max_length=18)
    account_key = models.CharField(max_length=EXTERNAL_KEY_LENGTH)
    account_id = models.CharField("Salesforce Account Id", max_length=18, blank=True)
    sf_status = models.CharField("Salesforce status", max_length=40)
    bc_status_id = models.PositiveSmallIntegerField(default=0)
    grand_total = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    order_date = models.DateTimeField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    archived = models.BooleanField(default=False)
    created_event_sent = models.BooleanField(default=False)
    # Shipments, remembered so an order event that does not change what shipped needs no extra request.
    shipped_quantity = models.PositiveIntegerField(default=0)
    shipment_fields = models.JSONField(default=dict, blank=True)
    # A digest of everything last sent; an identical state needs no Salesforce request at all.
    fingerprint = models.CharField(max_length=64, blank=True)
    # The OpportunityId the Order carries (its cart's Opportunity), kept apart from the fingerprint: cart
    # recovery may link it later, inside its conversion request, without making the order look changed.
    opportunity_id = models.CharField("Salesforce Opportunity Id", max_length=18, blank=True)
    # Write-back of admin-chosen fields: per Salesforce field, the values both sides last agreed on as far as
    # b2s saw them, {"sf": ..., "bc": ...} (text; "sf" absent until b2s saw Salesforce's), so the write-back
    # tells which side changed since (see orders.writeback_rules.field_decide).
    writeback_values = models.JSONField(default=dict, blank=True)
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "sync_syncedorder"  # the table it had in the sync app (moved state only)
        constraints = [models.UniqueConstraint(fields=["store", "order_id"], name="syncedorder_unique")]

    def __str__(self) -> str:
        return f"order {self.order_id} → {self.salesforce_id}"


class SyncedOrderItem(models.Model):
    """One order line as last written to Salesforce (an OrderItem)."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="synced_order_items")
    order = models.ForeignKey(SyncedOrder, on_delete=models.CASCADE, related_name="items")
    order_product_id = models.PositiveBigIntegerField()
    salesforce_id = models.CharField("Salesforce OrderItem Id", max_length=18)
    product_key = models.CharField(max_length=255)
    # A digest of the updateable fields last sent, so an unchanged line is not rewritten.
    fingerprint = models.CharField(max_length=64, blank=True)

    class Meta:
        db_table = "sync_syncedorderitem"  # the table it had in the sync app (moved state only)
        constraints = [models.UniqueConstraint(fields=["store", "order_product_id"], name="syncedorderitem_unique")]

    def __str__(self) -> str:
        return f"line {self.order_product_id} → {self.salesforce_id}"


class BackfillRun(models.Model):
    """Where a backfill got to, so ``--resume`` continues without duplicating or skipping.

    Orders are walked in ascending id order; ``last_order_id`` is the highest id of the last batch
    that completed (Salesforce answered and the local state was saved). Orders that failed inside a
    completed batch are kept in ``failures`` and retried first by a resumed run.
    """

    class Status(models.TextChoices):
        RUNNING = "running"
        INTERRUPTED = "interrupted"
        FAILED = "failed"
        DONE = "done"

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="backfill_runs")
    filters = models.JSONField(default=dict, help_text="since, until, ids, customers")
    filters_key = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    last_customer_id = models.PositiveBigIntegerField(default=0)
    last_order_id = models.PositiveBigIntegerField(default=0)
    last_product_id = models.PositiveBigIntegerField(
        default=0, help_text="A products backfill: the highest product id of the last completed page."
    )
    total = models.PositiveIntegerField(null=True, blank=True, help_text="Orders matching, when known.")
    synced = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    customers_synced = models.PositiveIntegerField(default=0)
    failures = models.JSONField(default=dict, blank=True, help_text="order id → reason, for orders still failing")
    salesforce_requests = models.PositiveIntegerField(default=0)
    bigcommerce_requests = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "sync_backfillrun"  # the table it had in the sync app (moved state only)
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"backfill {self.pk} of {self.store_id} ({self.status}, up to order {self.last_order_id})"


class WritebackCheckpoint(models.Model):
    """How far the Salesforce → BigCommerce poll has read an org's Order changes (one row per org).

    ``modstamp`` is the highest ``SystemModstamp`` among changes already stored as inbox events: it moves
    only in the transaction that stores them, so a crash between the query and the store reads them again.
    """

    org_id = models.CharField("Salesforce org Id", max_length=18, unique=True)
    modstamp = models.DateTimeField(null=True, blank=True, help_text="Changes up to here are in the inbox.")
    polled_at = models.DateTimeField(null=True, blank=True)
    polls = models.PositiveBigIntegerField(default=0)
    requests = models.PositiveBigIntegerField(default=0, help_text="Salesforce requests the polls spent.")
    changes = models.PositiveBigIntegerField(default=0, help_text="Changes stored as inbox events.")

    class Meta:
        verbose_name = "write-back checkpoint"

    def __str__(self) -> str:
        return f"org {self.org_id} read up to {self.modstamp:%Y-%m-%d %H:%M:%S}" if self.modstamp else self.org_id
