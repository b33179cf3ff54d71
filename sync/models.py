"""Stores, the admin-managed configuration, and the webhook inbox."""

from __future__ import annotations

import re
from collections.abc import Collection
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import models
from django.utils import timezone

from sync.fields import EncryptedTextField
from sync.mapping import mapping_compile

SALESFORCE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class Store(models.Model):
    """One BigCommerce store that b2s keeps in Salesforce."""

    class WebhookAuth(models.TextChoices):
        HEADER = "header", "Custom header secret"
        STANDARD_WEBHOOKS = "standard_webhooks", "Standard Webhooks signature"
        LEGACY_HMAC = "legacy_hmac", "X-BC-Webhook-Signature (legacy HMAC)"

    # Edited (write-only) in the admin. Every secret is encrypted at rest (sync.fields).
    SECRET_FIELDS = ("access_token", "client_secret", "webhook_secret")
    ENCRYPTED_FIELDS = (*SECRET_FIELDS, "previous_webhook_secret")

    name = models.CharField(max_length=200)
    store_hash = models.SlugField(max_length=64, unique=True, help_text="The hash in stores/{hash}/ API paths.")
    store_id = models.CharField(
        max_length=32, blank=True, help_text="Numeric store id sent in webhooks; checked when set."
    )
    api_base_url = models.URLField(default="https://api.bigcommerce.com")
    access_token = EncryptedTextField(blank=True)
    client_id = models.CharField(max_length=255, blank=True)
    client_secret = EncryptedTextField(blank=True)
    webhook_auth_mode = models.CharField(max_length=32, choices=WebhookAuth.choices, default=WebhookAuth.HEADER)
    webhook_header_name = models.CharField(
        max_length=100,
        default="X-B2S-Webhook-Secret",
        help_text="The custom header that carries the secret in 'header' mode.",
    )
    webhook_secret = EncryptedTextField(
        blank=True,
        help_text="Header secret or HMAC key. Standard Webhooks use the client secret when this is empty.",
    )
    # Set by save() when webhook_secret changes: still accepted for WEBHOOK_SECRET_GRACE_SECONDS, so
    # deliveries keep working until BigCommerce has the new one (register_webhooks pushes it).
    previous_webhook_secret = EncryptedTextField(blank=True, editable=False)
    webhook_secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    timezone = models.CharField(max_length=64, default="UTC", help_text="The store's time zone (IANA name).")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.store_hash})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        saved = getattr(self, "_webhook_secret_saved", None)
        current = self.__dict__.get("webhook_secret")
        if isinstance(saved, str) and saved and isinstance(current, str) and current != saved:
            # A rotation: keep the old secret for the grace period (in every save path: admin, services, shell).
            self.previous_webhook_secret = saved
            self.webhook_secret_rotated_at = timezone.now()
            update_fields = kwargs.get("update_fields")
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "previous_webhook_secret", "webhook_secret_rotated_at"}
        super().save(*args, **kwargs)
        self._webhook_secret_saved = self.__dict__.get("webhook_secret")

    @classmethod
    def from_db(cls, db: str | None, field_names: Collection[str], values: Collection[Any]) -> Store:
        instance = super().from_db(db, field_names, values)
        instance._webhook_secret_saved = instance.__dict__.get("webhook_secret")
        return instance

    def clean(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError({"timezone": f"Unknown time zone {self.timezone!r}."}) from None
        URLValidator(schemes=["https", "http"])(self.api_base_url)
        if self.store_id and not self.store_id.isdigit():
            raise ValidationError({"store_id": "The store id is a number."})

    @property
    def tz(self) -> ZoneInfo:
        """The store's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def webhook_signing_key(self) -> str:
        """The key that authenticates callbacks in the store's mode."""
        if self.webhook_auth_mode == self.WebhookAuth.STANDARD_WEBHOOKS:
            return self.webhook_secret or self.client_secret
        return self.webhook_secret

    def webhook_previous_secret(self, *, now: float) -> str:
        """The webhook secret replaced by the last rotation while its grace period lasts, else ""."""
        if not (self.webhook_secret_rotated_at and self.previous_webhook_secret):
            return ""
        if now - self.webhook_secret_rotated_at.timestamp() > settings.WEBHOOK_SECRET_GRACE_SECONDS:
            return ""
        return self.previous_webhook_secret

    def webhook_keys_accepted(self, *, now: float) -> list[str]:
        """The mode's current key, then the previous webhook secret during its grace period."""
        keys = [self.webhook_signing_key] if self.webhook_signing_key else []
        previous = self.webhook_previous_secret(now=now)
        if previous and previous not in keys:
            keys.append(previous)
        return keys

    def external_id(self, value: object) -> str:
        """A store-namespaced external id value, so two stores never collide."""
        return f"{self.store_hash}:{value}"


class ConfigVersion(models.Model):
    """A single counter bumped on every configuration change; processes poll it to reload."""

    version = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"configuration version {self.version}"


class FeatureFlag(models.Model):
    """An on/off switch for one feature, edited in the admin."""

    key = models.SlugField(max_length=64, unique=True)
    enabled = models.BooleanField(default=True)
    description = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.key} ({'on' if self.enabled else 'off'})"


class Threshold(models.Model):
    """A number that steers the sync (cart value floors, days, tier floors, RFM breakpoints)."""

    key = models.SlugField(max_length=64, unique=True)
    value = models.DecimalField(max_digits=14, decimal_places=2)
    unit = models.CharField(max_length=32, blank=True)
    description = models.CharField(max_length=255, blank=True)
    min_value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    max_value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.key} = {self.value} {self.unit}".strip()

    def clean(self) -> None:
        if self.value is None:
            return
        value = Decimal(self.value)
        if self.min_value is not None and value < self.min_value:
            raise ValidationError({"value": f"{self.key} must be at least {self.min_value}."})
        if self.max_value is not None and value > self.max_value:
            raise ValidationError({"value": f"{self.key} must be at most {self.max_value}."})


def email_addresses_split(value: str) -> tuple[list[str], list[str]]:
    """The comma-separated addresses of ``value``: (valid ones, invalid ones), each in order."""
    valid: list[str] = []
    invalid: list[str] = []
    for address in (item.strip() for item in value.split(",")):
        if not address:
            continue
        try:
            validate_email(address)
        except ValidationError:
            invalid.append(address)
        else:
            valid.append(address)
    return valid, invalid


class SyncSetting(models.Model):
    """A named choice such as the RFM mode or the guest account's name."""

    key = models.SlugField(max_length=64, unique=True)
    value = models.CharField(max_length=255)
    choices = models.CharField(
        max_length=255, blank=True, help_text="Comma-separated allowed values; empty allows any text."
    )
    description = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.key} = {self.value}"

    @property
    def allowed(self) -> list[str]:
        """The allowed values; empty when any text is allowed."""
        return [choice.strip() for choice in self.choices.split(",") if choice.strip()]

    # Settings whose value is an ordered, comma-separated list of allowed values (empty: none of them).
    LIST_KEYS = frozenset({"customer_match_rules"})
    # Settings whose value is comma-separated e-mail addresses (empty: nobody).
    EMAIL_LIST_KEYS = frozenset({"alert_email_to"})

    def clean(self) -> None:
        if self.key in self.EMAIL_LIST_KEYS:
            _valid, invalid = email_addresses_split(self.value)
            if invalid:
                raise ValidationError({"value": f"Not e-mail addresses: {', '.join(invalid)}."})
            return
        if self.key in self.LIST_KEYS:
            items = [item.strip() for item in self.value.split(",") if item.strip()]
            wrong = [item for item in items if self.allowed and item not in self.allowed]
            if wrong or len(set(items)) != len(items):
                raise ValidationError(
                    {"value": f"{self.key} is a list of distinct values among: {', '.join(self.allowed)}."}
                )
            return
        if self.allowed and self.value not in self.allowed:
            raise ValidationError({"value": f"{self.key} must be one of: {', '.join(self.allowed)}."})


class FieldMapping(models.Model):
    """Where one Salesforce field takes its value from in a BigCommerce document."""

    class SObject(models.TextChoices):
        ORDER = "Order"
        ORDER_ITEM = "OrderItem"
        ACCOUNT = "Account"
        CONTACT = "Contact"
        PRODUCT = "Product2"
        OPPORTUNITY = "Opportunity"
        LEAD = "Lead"

    sf_object = models.CharField("Salesforce object", max_length=64, choices=SObject.choices)
    sf_field = models.CharField("Salesforce field", max_length=80)
    source_path = models.CharField(
        max_length=255, help_text="e.g. billing_address.city, shipping_addresses[0].zip, a + b, a || b"
    )
    transform = models.CharField(
        max_length=100, blank=True, help_text="e.g. str, money, date, upper, truncate:80, chained with |"
    )
    default = models.CharField(max_length=255, blank=True)
    feature_flag = models.SlugField(
        max_length=64, blank=True, help_text="Only applied while this feature flag is on (empty: always)."
    )
    enabled = models.BooleanField(default=True)
    notes = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["sf_object", "sf_field"]
        constraints = [models.UniqueConstraint(fields=["sf_object", "sf_field"], name="fieldmapping_unique_target")]

    def __str__(self) -> str:
        return f"{self.sf_object}.{self.sf_field} ← {self.source_path}"

    def clean(self) -> None:
        if not SALESFORCE_NAME.match(self.sf_field or ""):
            raise ValidationError({"sf_field": f"{self.sf_field!r} is not a Salesforce field name."})
        try:
            mapping_compile(
                sf_field=self.sf_field, source_path=self.source_path, transform=self.transform, default=self.default
            )
        except ValidationError as error:
            field = "transform" if "transform" in str(error).lower() else "source_path"
            raise ValidationError({field: error.messages}) from None


class OrderStatusMapping(models.Model):
    """BigCommerce order status id → Salesforce Order status, and whether it counts in analytics."""

    class SalesforceStatus(models.TextChoices):
        DRAFT = "Draft"
        ACTIVATED = "Activated"

    bc_status_id = models.PositiveSmallIntegerField("BigCommerce status id", unique=True)
    bc_status_name = models.CharField(max_length=64)
    sf_status = models.CharField(max_length=40, choices=SalesforceStatus.choices)
    counts_toward_analytics = models.BooleanField(
        default=True, help_text="Orders in this status count toward lifetime value, order count and RFM."
    )

    class Meta:
        ordering = ["bc_status_id"]

    def __str__(self) -> str:
        return f"{self.bc_status_id} {self.bc_status_name} → {self.sf_status}"


class SalesforceOrderStatusMapping(models.Model):
    """Salesforce Order status → BigCommerce status id, for writing a status changed in Salesforce back.

    The other direction (``OrderStatusMapping``) maps fifteen BigCommerce statuses onto Draft and Activated,
    so it cannot be inverted: a merchant who changes orders in Salesforce uses their own Status values
    (e.g. "Shipped", "Cancelled", in the Draft or Activated category) and says here which BigCommerce
    status each means. A status without a row is never written back.
    """

    class Category(models.TextChoices):
        DRAFT = "Draft"
        ACTIVATED = "Activated"

    sf_status = models.CharField("Salesforce status", max_length=40, unique=True)
    category = models.CharField(
        max_length=16,
        choices=Category.choices,
        default=Category.ACTIVATED,
        help_text="The status's category (StatusCode) in the org: an Activated order's lines cannot change.",
    )
    bc_status_id = models.PositiveSmallIntegerField("BigCommerce status id")

    class Meta:
        ordering = ["sf_status"]
        verbose_name = "Salesforce order status (write-back)"
        verbose_name_plural = "Salesforce order statuses (write-back)"

    def __str__(self) -> str:
        return f"{self.sf_status} → {self.bc_status_id}"

    def clean(self) -> None:
        if self.bc_status_id is not None and not 0 <= self.bc_status_id <= 14:
            raise ValidationError({"bc_status_id": "BigCommerce status ids run from 0 to 14."})


# The BigCommerce order fields a Salesforce Order field may be written back to: the text fields of ``PUT
# /v2/orders/{id}`` (orders.v2.oas2.yml, ``order_Put``) a merchant's team edits; field → (max length, nullable).
# Not money, addresses, customer or channel: those change totals, taxes or ownership and stay BigCommerce's.
BIGCOMMERCE_ORDER_WRITABLE_FIELDS: dict[str, tuple[int, bool]] = {
    "staff_notes": (65535, False),
    "customer_message": (65535, False),
    "external_order_id": (255, True),
}
# Order fields the write-back reads for its own purposes (the poll's columns, the status table).
WRITEBACK_RESERVED_ORDER_FIELDS = frozenset(
    {"id", "status", "statuscode", "systemmodstamp", "lastmodifiedbyid", "bigcommerceorderid__c"}
)


class SalesforceOrderFieldWriteback(models.Model):
    """A Salesforce Order field written back to a BigCommerce order field (feature flag writeback_order_fields).

    The other direction is ``FieldMapping`` (BigCommerce → Salesforce, with expressions, transforms and
    defaults); this one copies one Salesforce value, as it is, into one of a fixed list of BigCommerce fields.
    Each row is off until enabled; a field may be mapped both ways (e.g. staff_notes → Description and back).
    """

    class BigCommerceField(models.TextChoices):
        STAFF_NOTES = "staff_notes", "staff_notes (notes for staff)"
        CUSTOMER_MESSAGE = "customer_message", "customer_message (the order comments)"
        EXTERNAL_ORDER_ID = "external_order_id", "external_order_id (the order's id in another system)"

    sf_field = models.CharField("Salesforce Order field", max_length=80, help_text="API name, e.g. Description")
    bc_field = models.CharField("BigCommerce order field", max_length=32, choices=BigCommerceField.choices, unique=True)
    enabled = models.BooleanField(default=False)
    notes = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["bc_field"]
        verbose_name = "Salesforce order field (write-back)"
        verbose_name_plural = "Salesforce order fields (write-back)"

    def __str__(self) -> str:
        return f"Order.{self.sf_field} → {self.bc_field}{'' if self.enabled else ' (off)'}"

    def clean(self) -> None:
        if not SALESFORCE_NAME.match(self.sf_field or "") or "__" in (self.sf_field or "").removesuffix("__c"):
            raise ValidationError({"sf_field": f"{self.sf_field!r} is not a Salesforce field name."})
        if self.sf_field.lower() in WRITEBACK_RESERVED_ORDER_FIELDS:
            raise ValidationError(
                {"sf_field": f"{self.sf_field} is read by the write-back itself (Status: the status table)."}
            )
        if self.bc_field and self.bc_field not in BIGCOMMERCE_ORDER_WRITABLE_FIELDS:
            raise ValidationError({"bc_field": f"{self.bc_field!r} is not a BigCommerce order field b2s writes."})


class WebhookEvent(models.Model):
    """One webhook delivery as received: stored first, processed in the background."""

    class Status(models.TextChoices):
        PENDING = "pending"
        PROCESSING = "processing"
        DONE = "done"
        FAILED = "failed"
        DEAD = "dead"
        IGNORED = "ignored"
        SKIPPED = "skipped"

    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="webhook_events")
    scope = models.CharField(max_length=100)
    resource_type = models.CharField(max_length=32)
    resource_id = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    # BigCommerce's hash covers only `data`, so two genuine updates of one order share it;
    # the delivery's own created_at tells them apart while a redelivery keeps it.
    event_created_at = models.BigIntegerField(default=0)
    body = models.JSONField()
    headers = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error_type = models.CharField(max_length=100, blank=True)
    last_error_message = models.TextField(blank=True)
    last_error_code = models.CharField(max_length=100, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # Retention: a finished event's body and headers (personal data) are emptied after the admin-set number
    # of days; the row's metadata stays for the statistics.
    body_purged_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["store", "scope", "hash", "event_created_at"], name="webhookevent_unique_delivery"
            )
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["store", "resource_type", "resource_id"]),
            # The backlog (pending, oldest first), the health check and the alerts.
            models.Index(fields=["status", "received_at"], name="webhookevent_status_received"),
            # Statistics of finished events by time (the dashboard's roll-up, retention).
            models.Index(fields=["finished_at"], name="webhookevent_finished"),
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.resource_type}:{self.resource_id} ({self.status})"


class ResourceLock(models.Model):
    """A row per (store, resource) that processing locks with SELECT ... FOR UPDATE.

    Created with get_or_create under the unique constraint, so racing workers
    settle on one row and then serialise on its lock.
    """

    store = models.ForeignKey(Store, on_delete=models.CASCADE)
    resource_key = models.CharField(max_length=100)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["store", "resource_key"], name="resourcelock_unique_resource")]

    def __str__(self) -> str:
        return f"lock {self.store_id}:{self.resource_key}"


# --------------------------------------------------------------------------------------------
# Order sync: what this service knows about Salesforce, so a steady-state order costs one request.
# --------------------------------------------------------------------------------------------

# Room for any "{hash}:..." value (guests are "{hash}:guest:{32 hex digits}"; before, the email itself).
EXTERNAL_KEY_LENGTH = 400


class KnownCustomer(models.Model):
    """A registered customer's document (v3 customer, normalised), so orders need not refetch it.

    A ``store/customer/*`` webhook received after ``fetched_at`` makes the order sync fetch it again.
    """

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="known_customers")
    customer_id = models.PositiveBigIntegerField()
    document = models.JSONField()
    fetched_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["store", "customer_id"], name="knowncustomer_unique")]

    def __str__(self) -> str:
        return f"customer {self.customer_id} of store {self.store_id}"


class CustomerLink(models.Model):
    """A customer whose Salesforce records b2s knows: created by b2s, or adopted from the CRM.

    A row means "seen": the records carry the customer's external id, so the next order upserts by it
    and asks Salesforce nothing more. No row: before creating anything, b2s looks for the person by
    email (``sync.customers.customers_match``, the admin's ``customer_match_rules``).
    """

    class Matched(models.TextChoices):
        CREATED = "created", "Created by b2s"
        CONTACT = "contact", "Existing Contact adopted"
        LEAD = "lead", "Existing Lead (converted into the Account and Contact once they buy)"
        PERSON_ACCOUNT = "person_account", "Existing Person Account adopted"

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="customer_links")
    customer_key = models.CharField(max_length=EXTERNAL_KEY_LENGTH, help_text="BigCommerceCustomerId__c value.")
    matched = models.CharField(max_length=16, choices=Matched.choices, default=Matched.CREATED)
    account_id = models.CharField("Salesforce Account Id", max_length=18, blank=True)
    contact_id = models.CharField("Salesforce Contact Id", max_length=18, blank=True)
    lead_id = models.CharField("Salesforce Lead Id", max_length=18, blank=True)
    keep_contact_account = models.BooleanField(
        default=False,
        help_text="The adopted Contact stays under its own Account, which another customer's records own.",
    )
    person_account = models.BooleanField(default=False, help_text="The Account is a Person Account: no Contact.")
    alias_of = models.CharField(
        max_length=EXTERNAL_KEY_LENGTH,
        blank=True,
        help_text="A guest who is this registered customer (same email): their orders go to that customer's records.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["store", "customer_key"], name="customerlink_unique")]

    def __str__(self) -> str:
        return f"{self.customer_key} ({self.matched})"


class ApiUsageSample(models.Model):
    """A remote API's own reading of its usage: Salesforce's ``Sforce-Limit-Info`` (the org's daily API requests)
    or BigCommerce's ``X-Rate-Limit-*`` headers (a store's requests in the current window).

    Kept for the dashboard's chart and the API-budget guard; written at most once a minute per process and
    service, so reading the headers costs no write per request.
    """

    class Service(models.TextChoices):
        SALESFORCE = "salesforce"
        BIGCOMMERCE = "bigcommerce"

    service = models.CharField(max_length=16, choices=Service.choices)
    store = models.ForeignKey(Store, null=True, blank=True, on_delete=models.CASCADE, related_name="api_usage")
    used = models.PositiveBigIntegerField()
    limit = models.PositiveBigIntegerField()
    window_seconds = models.PositiveIntegerField(default=86400, help_text="The period the limit applies to.")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-recorded_at"]
        indexes = [models.Index(fields=["service", "recorded_at"], name="apiusage_service_recorded")]

    def __str__(self) -> str:
        return f"{self.service} {self.used}/{self.limit}"

    @property
    def share(self) -> float:
        """The part of the limit in use, 0 to 1 (1 when the limit is unknown as 0)."""
        return self.used / self.limit if self.limit else 1.0


class IntakeRejection(models.Model):
    """Webhook deliveries refused at the door, counted per store, reason and minute.

    ``store_hash`` is the hash of a store b2s knows, or empty: an unknown hash in the URL is not written
    down, so nobody can grow this table by inventing stores.
    """

    class Reason(models.TextChoices):
        AUTHENTICATION = "authentication", "authentication failed"
        UNKNOWN_STORE = "unknown_store", "unknown or inactive store"
        BAD_REQUEST = "bad_request", "malformed delivery"

    store_hash = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=32, choices=Reason.choices)
    minute = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-minute"]
        constraints = [
            models.UniqueConstraint(fields=["store_hash", "reason", "minute"], name="intakerejection_unique_minute")
        ]
        indexes = [models.Index(fields=["minute"], name="intakerejection_minute")]

    def __str__(self) -> str:
        return f"{self.minute:%Y-%m-%d %H:%M} {self.store_hash or '?'} {self.reason} x{self.count}"
