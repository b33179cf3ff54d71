"""The local record of every abandoned cart b2s has seen.

The Cart table is the source of truth for which carts are still open, so expiry never
asks Salesforce which Opportunities or Leads to close, and a redelivered or repeated
abandonment finds the Salesforce ids (and the Task id) it wrote before.
"""

from __future__ import annotations

from django.db import models


class Cart(models.Model):
    """One BigCommerce cart and what b2s made of it in Salesforce."""

    class State(models.TextChoices):
        OPEN = "open"
        CONVERTED = "converted"
        EXPIRED = "expired"
        SKIPPED = "skipped"

    store = models.ForeignKey("sync.Store", on_delete=models.CASCADE, related_name="carts")
    cart_id = models.CharField("cart id", max_length=64, help_text="BigCommerce cart id (a UUID).")
    value = models.DecimalField(max_digits=14, decimal_places=2, default=0, help_text="cart_amount, exact.")
    currency = models.CharField(max_length=3, blank=True)
    email = models.CharField(max_length=254, blank=True)
    customer_id = models.PositiveBigIntegerField(default=0, help_text="0 for a guest.")
    customer_key = models.CharField(
        max_length=400, blank=True, help_text="The Account/Contact external id value the cart belongs to."
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN, db_index=True)
    skip_reason = models.CharField(max_length=255, blank=True)
    items_description = models.TextField(
        blank=True, help_text="One line per item, as written to Salesforce; kept so later updates can reuse it."
    )
    opportunity_id = models.CharField(max_length=18, blank=True, db_index=True)
    lead_id = models.CharField(max_length=18, blank=True, db_index=True)
    task_id = models.CharField(max_length=18, blank=True)
    task_requested_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set before a Task is created in Salesforce, cleared once its id is saved: a sync that died in "
        "between finds that Task by BigCommerceCartId__c on retry instead of creating a second one.",
    )
    contact_id = models.CharField(max_length=18, blank=True)
    contact_role_id = models.CharField(
        max_length=18,
        blank=True,
        help_text="The shopper's OpportunityContactRole on the cart's Opportunity (a role has no external id: "
        "remembered here so a later abandonment does not add a second one).",
    )
    account_id = models.CharField(max_length=18, blank=True)
    abandoned_at = models.DateTimeField(null=True, blank=True, db_index=True)
    abandon_count = models.PositiveIntegerField(default=0, help_text="Abandonments processed for this cart.")
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Abandonment + the expiration days in force when it was recorded."
    )
    converted_at = models.DateTimeField(null=True, blank=True)
    order_id = models.PositiveBigIntegerField(null=True, blank=True, help_text="The order the cart became.")
    closed_at = models.DateTimeField(null=True, blank=True, help_text="When the cart was converted or expired.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-abandoned_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["store", "cart_id"], name="cart_unique_store_cart")]
        indexes = [models.Index(fields=["state", "abandoned_at"])]

    def __str__(self) -> str:
        return f"cart {self.cart_id} ({self.state})"

    @property
    def record_kind(self) -> str:
        """Which Salesforce record represents the cart: "opportunity", "lead" or ""."""
        if self.opportunity_id:
            return "opportunity"
        if self.lead_id:
            return "lead"
        return ""
