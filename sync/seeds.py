"""Default configuration rows, applied by data migrations.

Seeding only creates rows that are missing (by key), so re-running it never
overwrites what an admin changed. Later migrations may call ``seed_apply``
again to add new defaults.
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

FEATURE_FLAGS: list[tuple[str, bool, str]] = [
    ("order_line_items", True, "Sync order lines as OrderItems with products and price book entries."),
    ("payment_details", True, "Payment method and transaction id on the Order."),
    ("tax_shipping_breakdown", True, "Subtotal, tax and shipping totals on the Order."),
    ("fulfillment_status", True, "Shipments: tracking numbers, carrier and shipped date on the Order."),
    ("refunds", True, "Refunded amounts on the Order and net values in analytics."),
    ("customer_lifetime_value", True, "CLV, order count and average order value on the Account."),
    ("customer_segmentation", True, "Customer tier (Bronze/Silver/Gold/Platinum) on the Account."),
    ("rfm_analysis", True, "RFM score on the Account."),
    ("customer_tags", True, "Customer tags (VIP, First-Time Buyer, At-Risk) on the Account."),
    ("opportunity_creation", True, "Abandoned carts at or above the threshold become Opportunities."),
    ("low_value_lead_creation", True, "Abandoned carts below the threshold become Leads."),
    ("recovery_tasks", True, "A follow-up Task for each abandoned cart."),
    ("cart_expiration", True, "Close cart Opportunities still open after the expiration days."),
    ("platform_events", True, "Publish BigCommerce_*__e platform events."),
    ("audit_trail", True, "Write an audit log entry for every sync."),
    ("stale_lead_expiration", False, "Also close abandoned-cart Leads still open after the expiration days."),
]

# key, value, unit, description, min, max
ThresholdSeed = tuple[str, str, str, str, str | None, str | None]

THRESHOLDS: list[ThresholdSeed] = [
    ("opportunity_min_value", "100", "currency", "Carts at or above this value become Opportunities.", "0", None),
    ("cart_expiration_days", "30", "days", "Cart Opportunities still open after this many days expire.", "1", "3650"),
    ("high_priority_cart_value", "500", "currency", "Recovery tasks above this cart value are High.", "0", None),
    ("tier_platinum_min", "10000", "currency", "Lifetime value floor of the Platinum tier.", "0", None),
    ("tier_gold_min", "5000", "currency", "Lifetime value floor of the Gold tier.", "0", None),
    ("tier_silver_min", "1000", "currency", "Lifetime value floor of the Silver tier.", "0", None),
    ("churn_risk_days", "90", "days", "A repeat customer with no order for this long is At-Risk.", "1", "3650"),
    ("rfm_recency_5_days", "30", "days", "Recency score 5 at or below this many days.", "0", "3650"),
    ("rfm_recency_4_days", "60", "days", "Recency score 4 at or below this many days.", "0", "3650"),
    ("rfm_recency_3_days", "90", "days", "Recency score 3 at or below this many days.", "0", "3650"),
    ("rfm_recency_2_days", "180", "days", "Recency score 2 at or below this many days.", "0", "3650"),
    ("rfm_frequency_2_orders", "2", "orders", "Frequency score 2 from this many orders.", "1", None),
    ("rfm_frequency_3_orders", "3", "orders", "Frequency score 3 from this many orders.", "1", None),
    ("rfm_frequency_4_orders", "5", "orders", "Frequency score 4 from this many orders.", "1", None),
    ("rfm_frequency_5_orders", "10", "orders", "Frequency score 5 from this many orders.", "1", None),
    (
        "batch_collections_min_orders",
        "50",
        "orders",
        "Batches (backfill) of at least this many orders go to Salesforce as sObject Collections in composite "
        "requests (about 1,000 records a request) rather than one composite graph per order.",
        "1",
        None,
    ),
]

SETTINGS: list[tuple[str, str, str, str]] = [
    ("rfm_mode", "fixed", "fixed,quintile", "RFM scoring: fixed breakpoints or quintiles across the store."),
    ("guest_account_name", "Guest Checkouts", "", "Account for orders with neither a customer nor an email."),
]

# sf_object, sf_field, source_path, transform, feature_flag
FIELD_MAPPINGS: list[tuple[str, str, str, str, str]] = [
    # Order: the source document is the v2 order with `shipping_addresses` and `shipments` lists.
    ("Order", "Name", "id", "format:BigCommerce order #{}", ""),
    ("Order", "EffectiveDate", "date_created", "date", ""),
    ("Order", "BC_Status__c", "status", "str|truncate:255", ""),
    ("Order", "Subtotal__c", "subtotal_inc_tax", "money", "tax_shipping_breakdown"),
    ("Order", "TaxTotal__c", "total_tax", "money", "tax_shipping_breakdown"),
    ("Order", "ShippingTotal__c", "shipping_cost_inc_tax", "money", "tax_shipping_breakdown"),
    ("Order", "Discount_Total__c", "discount_amount + coupon_discount", "money", "tax_shipping_breakdown"),
    ("Order", "Grand_Total__c", "total_inc_tax", "money", ""),
    ("Order", "PaymentMethod__c", "payment_method", "str|truncate:255", "payment_details"),
    ("Order", "TransactionId__c", "payment_provider_id", "str|truncate:255", "payment_details"),
    ("Order", "Refunded_Amount__c", "refunded_amount", "money", "refunds"),
    ("Order", "BillingStreet", "billing_address.street_1 + billing_address.street_2", "lines", ""),
    ("Order", "BillingCity", "billing_address.city", "str", ""),
    ("Order", "BillingState", "billing_address.state", "str", ""),
    ("Order", "BillingPostalCode", "billing_address.zip", "str", ""),
    ("Order", "BillingCountry", "billing_address.country", "str", ""),
    ("Order", "ShippingStreet", "shipping_addresses[0].street_1 + shipping_addresses[0].street_2", "lines", ""),
    ("Order", "ShippingCity", "shipping_addresses[0].city", "str", ""),
    ("Order", "ShippingState", "shipping_addresses[0].state", "str", ""),
    ("Order", "ShippingPostalCode", "shipping_addresses[0].zip", "str", ""),
    ("Order", "ShippingCountry", "shipping_addresses[0].country", "str", ""),
    ("Order", "TrackingNumber__c", "tracking_numbers", "str|truncate:255", "fulfillment_status"),
    ("Order", "Shipping_Carrier__c", "tracking_carriers", "str|truncate:255", "fulfillment_status"),
    ("Order", "Shipped_Date__c", "date_shipped", "date", "fulfillment_status"),
    # OrderItem: the source document is one line of /v2/orders/{id}/products.
    ("OrderItem", "Quantity", "quantity", "decimal", ""),
    ("OrderItem", "UnitPrice", "price_inc_tax", "money", ""),
    ("OrderItem", "Description", "name", "str|truncate:255", ""),
    # Account and Contact: the source document is the customer (v3), or the order's billing
    # address for guests, normalised to first_name, last_name, company, email,
    # email_local_part, phone and address{street_1, street_2, city, state, zip, country}.
    ("Account", "Name", "company || first_name + last_name || email", "str|truncate:255", ""),
    ("Account", "Phone", "phone", "str|truncate:40", ""),
    ("Account", "BillingStreet", "address.street_1 + address.street_2", "lines", ""),
    ("Account", "BillingCity", "address.city", "str", ""),
    ("Account", "BillingState", "address.state", "str", ""),
    ("Account", "BillingPostalCode", "address.zip", "str", ""),
    ("Account", "BillingCountry", "address.country", "str", ""),
    ("Contact", "FirstName", "first_name", "str|truncate:40", ""),
    ("Contact", "LastName", "last_name || email_local_part", "str|truncate:80", ""),
    ("Contact", "Email", "email", "lower", ""),
    ("Contact", "Phone", "phone", "str|truncate:40", ""),
    ("Contact", "MailingStreet", "address.street_1 + address.street_2", "lines", ""),
    ("Contact", "MailingCity", "address.city", "str", ""),
    ("Contact", "MailingState", "address.state", "str", ""),
    ("Contact", "MailingPostalCode", "address.zip", "str", ""),
    ("Contact", "MailingCountry", "address.country", "str", ""),
]

# Cart recovery's Opportunity and Lead: the source document is the abandoned cart
# (``recovery.services.cart_document``): cart_id, value, currency, email, email_local_part,
# items (one line per item), lead_source, abandoned_at, close_date and the shopper as
# ``customer`` (the Account/Contact document above). Seeded by their own migration; they
# reproduce what recovery sent before they existed, under the flag of the record they fill.
# External ids, AccountId and the open stage/status stay with recovery.
CART_FIELD_MAPPINGS: list[tuple[str, str, str, str, str]] = [
    ("Opportunity", "Name", "cart_id", "format:Abandoned Cart - {}|truncate:120", "opportunity_creation"),
    ("Opportunity", "CloseDate", "close_date", "date", "opportunity_creation"),
    ("Opportunity", "LeadSource", "lead_source", "str", "opportunity_creation"),
    ("Opportunity", "Amount", "value", "money", "opportunity_creation"),
    ("Opportunity", "Cart_Value__c", "value", "money", "opportunity_creation"),
    ("Opportunity", "Abandoned_Date__c", "abandoned_at", "datetime", "opportunity_creation"),
    ("Opportunity", "Description", "items", "str", "opportunity_creation"),
    ("Lead", "LeadSource", "lead_source", "str", "low_value_lead_creation"),
    (
        "Lead",
        "Company",
        "customer.company || customer.first_name + customer.last_name || email",
        "str|truncate:255",
        "low_value_lead_creation",
    ),
    ("Lead", "FirstName", "customer.first_name", "str|truncate:40", "low_value_lead_creation"),
    ("Lead", "LastName", "customer.last_name || email_local_part", "str|truncate:80", "low_value_lead_creation"),
    ("Lead", "Email", "email", "lower", "low_value_lead_creation"),
    ("Lead", "AbandonedCartValue__c", "value", "money", "low_value_lead_creation"),
    ("Lead", "AbandonedCartDate__c", "abandoned_at", "datetime", "low_value_lead_creation"),
    ("Lead", "Description", "items", "str", "low_value_lead_creation"),
    ("Lead", "Cart_Items__c", "items", "str", "low_value_lead_creation"),
]

# The admin's choice for a bought cart's Lead: convert it, or close it unconverted (read by recovery and by
# salesforce_check, which checks the status each choice needs).
LEAD_CONVERSION_SETTING = "lead_on_cart_conversion"
LEAD_CONVERSION_CLOSE = "close"
LEAD_CLOSED_STATUS_SETTING = "lead_closed_status"

CART_SETTINGS: list[tuple[str, str, str, str]] = [
    (
        "lead_on_cart_conversion",
        "convert",
        "convert,close",
        "When an abandoned cart's Lead buys: convert (convertLead into the order's Account and Contact, no new "
        "Opportunity) or close (set the status in lead_closed_status, the Lead stays unconverted).",
    ),
    (
        "lead_closed_status",
        "Closed - Not Converted",
        "",
        "Lead status for a bought cart when lead_on_cart_conversion is close; must be a status that is NOT a "
        "converted status in the org (a converted status can only be reached by converting).",
    ),
]

# BigCommerce status id, name, Salesforce status, counts toward analytics
ORDER_STATUSES: list[tuple[int, str, str, bool]] = [
    (0, "Incomplete", "Draft", False),
    (1, "Pending", "Draft", True),
    (2, "Shipped", "Activated", True),
    (3, "Partially Shipped", "Activated", True),
    (4, "Refunded", "Activated", False),
    (5, "Cancelled", "Activated", False),
    (6, "Declined", "Draft", False),
    (7, "Awaiting Payment", "Draft", True),
    (8, "Awaiting Pickup", "Activated", True),
    (9, "Awaiting Shipment", "Activated", True),
    (10, "Completed", "Activated", True),
    (11, "Awaiting Fulfillment", "Activated", True),
    (12, "Manual Verification Required", "Draft", True),
    (13, "Disputed", "Activated", True),
    (14, "Partially Refunded", "Activated", True),
]


def seed_apply(apps: Any, schema_editor: Any = None) -> None:
    """Create the missing default rows; existing rows (an admin's edits) are left alone."""
    FeatureFlag = apps.get_model("sync", "FeatureFlag")
    OrderStatusMapping = apps.get_model("sync", "OrderStatusMapping")

    for key, enabled, description in FEATURE_FLAGS:
        FeatureFlag.objects.get_or_create(key=key, defaults={"enabled": enabled, "description": description})
    thresholds_seed(apps, THRESHOLDS)
    settings_seed(apps, SETTINGS)
    field_mappings_seed(apps, FIELD_MAPPINGS)
    for status_id, name, sf_status, counts in ORDER_STATUSES:
        OrderStatusMapping.objects.get_or_create(
            bc_status_id=status_id,
            defaults={"bc_status_name": name, "sf_status": sf_status, "counts_toward_analytics": counts},
        )
    config_version_seed_bump(apps)


def cart_recovery_seed(apps: Any, schema_editor: Any = None) -> None:
    """Create the missing cart recovery mappings and settings; existing rows (an admin's edits) are left alone."""
    field_mappings_seed(apps, CART_FIELD_MAPPINGS)
    settings_seed(apps, CART_SETTINGS)
    config_version_seed_bump(apps)


def thresholds_seed(apps: Any, rows: list[ThresholdSeed]) -> None:
    """Create the missing thresholds of ``rows`` (key, value, unit, description, min, max); others stay as edited."""
    Threshold = apps.get_model("sync", "Threshold")
    for key, value, unit, description, minimum, maximum in rows:
        Threshold.objects.get_or_create(
            key=key,
            defaults={
                "value": Decimal(value),
                "unit": unit,
                "description": description,
                "min_value": Decimal(minimum) if minimum is not None else None,
                "max_value": Decimal(maximum) if maximum is not None else None,
            },
        )


def config_version_seed_bump(apps: Any) -> None:
    """Bump the configuration version from a migration, so running processes reload what was seeded."""
    ConfigVersion = apps.get_model("sync", "ConfigVersion")
    version, _ = ConfigVersion.objects.get_or_create(pk=1)
    ConfigVersion.objects.filter(pk=1).update(version=version.version + 1)


def store_from_env(apps: Any, schema_editor: Any = None) -> None:
    """Create the store described by BIGCOMMERCE_* environment variables, if any and if missing."""
    store_hash = os.environ.get("BIGCOMMERCE_STORE_HASH", "").strip()
    if not store_hash:
        return
    Store = apps.get_model("sync", "Store")
    Store.objects.get_or_create(
        store_hash=store_hash,
        defaults={
            "name": os.environ.get("BIGCOMMERCE_STORE_NAME", "") or f"Store {store_hash}",
            "access_token": os.environ.get("BIGCOMMERCE_ACCESS_TOKEN", ""),
            "webhook_secret": os.environ.get("BIGCOMMERCE_WEBHOOK_SECRET", ""),
            "client_id": os.environ.get("BIGCOMMERCE_CLIENT_ID", ""),
            "client_secret": os.environ.get("BIGCOMMERCE_CLIENT_SECRET", ""),
            "api_base_url": os.environ.get("BIGCOMMERCE_API_URL", "") or "https://api.bigcommerce.com",
        },
    )


CUSTOMER_MATCH_SETTINGS: list[tuple[str, str, str, str]] = [
    (
        "customer_match_rules",
        "contact,lead,person_account",
        "contact,lead,person_account",
        "Before creating a customer b2s has not seen, look for an existing record by email, in this order "
        "(empty: never). person_account applies only where the org has Person Accounts.",
    ),
]


def customer_match_seed(apps: Any, schema_editor: Any = None) -> None:
    """Create the missing customer match setting; an admin's edit is left alone."""
    settings_seed(apps, CUSTOMER_MATCH_SETTINGS)
    config_version_seed_bump(apps)


DUPLICATE_RULE_SETTINGS: list[tuple[str, str, str, str]] = [
    (
        "duplicate_rule_action",
        "allow_save",
        "allow_save,fail",
        "When an org duplicate rule flags a record b2s creates or updates: allow_save (save it anyway, as a user "
        "acknowledging the alert) or fail (the event fails for good, naming the existing record's id).",
    ),
]


def duplicate_rule_seed(apps: Any, schema_editor: Any = None) -> None:
    """Create the missing duplicate rule setting; an admin's edit is left alone."""
    settings_seed(apps, DUPLICATE_RULE_SETTINGS)
    config_version_seed_bump(apps)


INBOX_THRESHOLDS: list[ThresholdSeed] = [
    (
        "inbox_batch_size",
        "200",
        "events",
        "A worker takes up to this many waiting webhook events at once; order events among them share their "
        "BigCommerce and Salesforce requests.",
        "1",
        "1000",
    ),
    (
        "inbox_batch_wait_ms",
        "500",
        "milliseconds",
        "With fewer events waiting than a batch holds, a worker waits until the oldest has waited this long, "
        "so a burst fills the batch; a lone event reaches Salesforce this much later at most.",
        "0",
        "10000",
    ),
]


def inbox_batch_seed(apps: Any, schema_editor: Any = None) -> None:
    """Create the missing inbox batch thresholds; an admin's edit is left alone."""
    thresholds_seed(apps, INBOX_THRESHOLDS)
    config_version_seed_bump(apps)


OPERATIONS_THRESHOLDS: list[ThresholdSeed] = [
    (
        "api_budget_ceiling_percent",
        "90",
        "%",
        "Salesforce writes pause while the org's daily API use (Sforce-Limit-Info) is at or above this share of "
        "its limit, and resume by themselves below it; events wait, nothing fails.",
        "1",
        "100",
    ),
    (
        "webhook_body_retention_days",
        "30",
        "days",
        "A finished webhook event's body and headers (personal data) are emptied after this many days; "
        "its status, times and error stay for the statistics.",
        "1",
        "3650",
    ),
    (
        "health_backlog_age_seconds",
        "600",
        "seconds",
        "/health says degraded while the oldest waiting event has waited longer than this.",
        "10",
        None,
    ),
    ("alert_window_minutes", "15", "minutes", "Alerts judge failure rates and counts over this window.", "1", "1440"),
    (
        "alert_failure_rate_percent",
        "20",
        "%",
        "Alert when more than this share of the events finished in the window failed.",
        "1",
        "100",
    ),
    (
        "alert_failure_min_events",
        "10",
        "events",
        "A failure rate is judged only with at least this many finished events in the window.",
        "1",
        None,
    ),
    ("alert_backlog_age_seconds", "900", "seconds", "Alert when the oldest waiting event is older.", "10", None),
    (
        "alert_auth_failures",
        "20",
        "deliveries",
        "Alert when more webhook deliveries than this fail authentication in the window.",
        "1",
        None,
    ),
    (
        "alert_api_budget_percent",
        "80",
        "%",
        "Alert when the org's daily Salesforce API use crosses this share of its limit.",
        "1",
        "100",
    ),
    (
        "alert_repeat_minutes",
        "60",
        "minutes",
        "An alert still open is sent again at most this often; its occurrences in between are counted, not sent.",
        "1",
        "10080",
    ),
]

OPERATIONS_SETTINGS: list[tuple[str, str, str, str]] = [
    (
        "api_budget_guard",
        "auto",
        "auto,write,pause",
        "auto: pause Salesforce writes above the ceiling; write: keep writing (override); pause: pause now.",
    ),
    ("alert_email_to", "", "", "Comma-separated addresses that receive alerts (sent through EMAIL_URL)."),
]


def operations_seed(apps: Any, schema_editor: Any = None) -> None:
    """Create the missing operations thresholds and settings (budget guard, retention, health, alerts)."""
    thresholds_seed(apps, OPERATIONS_THRESHOLDS)
    settings_seed(apps, OPERATIONS_SETTINGS)
    config_version_seed_bump(apps)


# Salesforce → BigCommerce: off until the merchant chooses what Salesforce may change in the store.
WRITEBACK_FLAGS: list[tuple[str, bool, str]] = [
    (
        "writeback_order_status",
        False,
        "Salesforce → BigCommerce: an Order status changed in Salesforce sets the mapped BigCommerce status "
        "(Salesforce order statuses (write-back) in the admin).",
    ),
    (
        "writeback_shipments",
        False,
        "Salesforce → BigCommerce: a tracking number entered on an Order in Salesforce creates a shipment of the "
        "order's unshipped items in BigCommerce, with the carrier.",
    ),
]

WRITEBACK_THRESHOLDS: list[ThresholdSeed] = [
    (
        "writeback_poll_seconds",
        "60",
        "seconds",
        "How often Salesforce is asked for Orders changed by someone other than b2s (one SOQL query a poll while "
        "a write-back flag is on: every 60 s costs 1,440 API requests a day). The poll runs at most once a minute.",
        "60",
        "86400",
    ),
    (
        "writeback_poll_overlap_seconds",
        "120",
        "seconds",
        "Each poll reads again this far back before its checkpoint: Salesforce compares SystemModstamp to the "
        "second and a transaction still in flight can commit with an earlier stamp; changes already read are "
        "recognised and not written twice.",
        "0",
        "3600",
    ),
]

WRITEBACK_SETTINGS: list[tuple[str, str, str, str]] = [
    (
        "writeback_conflict_rule",
        "flag",
        "salesforce_wins,bigcommerce_wins,flag",
        "A status, shipment or field changed on both sides since the last sync: salesforce_wins (write it to "
        "BigCommerce), bigcommerce_wins (the order sync brings BigCommerce's back) or flag (the event fails for "
        "review).",
    ),
]


WRITEBACK_FIELD_FLAGS: list[tuple[str, bool, str]] = [
    (
        "writeback_order_fields",
        False,
        "Salesforce → BigCommerce: the Order fields chosen in Salesforce order fields (write-back) (each row "
        "enabled on its own) are written to the BigCommerce order, in the same request as a status change.",
    ),
]


def writeback_fields_seed(apps: Any, schema_editor: Any = None) -> None:
    """Create the missing field write-back flag (off); an admin's edit is left alone."""
    flags_seed(apps, WRITEBACK_FIELD_FLAGS)
    config_version_seed_bump(apps)


def writeback_seed(apps: Any, schema_editor: Any = None) -> None:
    """Create the missing write-back flags, thresholds and setting (all off or conservative)."""
    flags_seed(apps, WRITEBACK_FLAGS)
    thresholds_seed(apps, WRITEBACK_THRESHOLDS)
    settings_seed(apps, WRITEBACK_SETTINGS)
    config_version_seed_bump(apps)


def flags_seed(apps: Any, rows: list[tuple[str, bool, str]]) -> None:
    """Create the missing feature flags of ``rows`` (key, enabled, description); others stay as edited."""
    FeatureFlag = apps.get_model("sync", "FeatureFlag")
    for key, enabled, description in rows:
        FeatureFlag.objects.get_or_create(key=key, defaults={"enabled": enabled, "description": description})


def field_mappings_seed(apps: Any, rows: list[tuple[str, str, str, str, str]]) -> None:
    """Create the missing field mappings of ``rows`` (object, field, source, transform, flag); others stay as edited."""
    FieldMapping = apps.get_model("sync", "FieldMapping")
    for sf_object, sf_field, source_path, transform, flag in rows:
        FieldMapping.objects.get_or_create(
            sf_object=sf_object,
            sf_field=sf_field,
            defaults={"source_path": source_path, "transform": transform, "feature_flag": flag},
        )


def settings_seed(apps: Any, rows: list[tuple[str, str, str, str]]) -> None:
    """Create the missing settings of ``rows`` (key, value, choices, description); others stay as edited."""
    SyncSetting = apps.get_model("sync", "SyncSetting")
    for key, value, choices, description in rows:
        SyncSetting.objects.get_or_create(
            key=key, defaults={"value": value, "choices": choices, "description": description}
        )


CATALOG_FLAGS: list[tuple[str, bool, str]] = [
    (
        "catalog_sync",
        True,
        "Keep the BigCommerce catalog in Salesforce: a Product2 per variant with its standard price book entries, "
        "from product and SKU webhooks and manage.py backfill --products.",
    ),
]


def catalog_sync_seed(apps: Any, schema_editor: Any = None) -> None:
    """Create the missing catalog sync flag; an admin's edit is left alone."""
    flags_seed(apps, CATALOG_FLAGS)
    config_version_seed_bump(apps)


def seeds_all_apply(apps: Any) -> None:
    """Every seed the migrations apply, for a database emptied since (a flushed test database)."""
    seed_apply(apps)
    cart_recovery_seed(apps)
    customer_match_seed(apps)
    duplicate_rule_seed(apps)
    inbox_batch_seed(apps)
    operations_seed(apps)
    catalog_sync_seed(apps)
    writeback_seed(apps)
    writeback_fields_seed(apps)
