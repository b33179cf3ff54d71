"""What b2s needs in a Salesforce org: custom fields, external ids and platform events.

This is the one list of requirements. Two consumers read it:

* the shipped Salesforce DX metadata under ``salesforce/`` is checked against it by a test, so the
  metadata always contains everything b2s writes by default;
* ``manage.py salesforce_check`` compares it with the org's describe data.

The custom fields come from two places, merged here: the seeded field mappings (``sync.seeds``
``FIELD_MAPPINGS``, every target ending in ``__c``) and the fields b2s writes in code rather than
through a mapping (external ids, analytics, carts, the archive flag and the store hash). Each field
carries the feature flag that makes b2s write it, so the check can say "not needed" while a flag is off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sync.seeds import FIELD_MAPPINGS

# Describe ``type`` values accepted for each kind of value b2s writes. A money value fits a
# Currency or a Number field; text fits Text or Text Area; the tier fits a Picklist or Text.
KIND_DESCRIBE_TYPES: dict[str, frozenset[str]] = {
    "text": frozenset({"string", "textarea"}),
    "longtext": frozenset({"textarea"}),
    "currency": frozenset({"currency", "double"}),
    "number": frozenset({"double", "int", "currency"}),
    "date": frozenset({"date"}),
    "datetime": frozenset({"datetime"}),
    "checkbox": frozenset({"boolean"}),
    "tier": frozenset({"picklist", "string"}),
    "any": frozenset(),  # an admin's own mapping target: presence is all that can be checked
}
# The same, as Salesforce metadata ``<type>`` values (``CustomField`` in the DX source).
KIND_METADATA_TYPES: dict[str, frozenset[str]] = {
    "text": frozenset({"Text", "TextArea", "LongTextArea"}),
    "longtext": frozenset({"LongTextArea"}),
    "currency": frozenset({"Currency", "Number"}),
    "number": frozenset({"Number", "Currency"}),
    "date": frozenset({"Date"}),
    "datetime": frozenset({"DateTime"}),
    "checkbox": frozenset({"Checkbox"}),
    "tier": frozenset({"Picklist", "Text"}),
    "any": frozenset(),
}
CATALOG = "catalog_sync"  # the feature flag of catalog sync (orders.catalog.FLAG; sync cannot import orders)
CUSTOMER_TIERS = ("Bronze", "Silver", "Gold", "Platinum")

# Salesforce keeps custom Task fields on the shared Activity object (in metadata), while the
# API and permission sets name them Task.<field>.
METADATA_OBJECT = {"Task": "Activity"}


@dataclass(frozen=True)
class FieldSpec:
    """One field b2s writes."""

    sobject: str
    name: str
    kind: str
    length: int = 0  # text: the longest value b2s writes (a shorter field fails with STRING_TOO_LONG)
    external_id: bool = False
    feature_flag: str = ""  # "" = always written
    also_flags: tuple[str, ...] = ()  # other features that write it too: needed while any of the flags is on
    source: str = "code"  # "mapping" (a seeded field mapping) or "code"
    picklist_values: tuple[str, ...] = ()  # values b2s writes into a picklist

    @property
    def label(self) -> str:
        return f"{self.sobject}.{self.name}"

    @property
    def flags(self) -> tuple[str, ...]:
        """The feature flags that make b2s write the field (any one is enough); () = always written."""
        return (self.feature_flag, *self.also_flags) if self.feature_flag else ()


@dataclass(frozen=True)
class EventSpec:
    """One platform event b2s publishes, with its fields (``sobject`` is the event's name)."""

    name: str
    fields: tuple[FieldSpec, ...]
    feature_flag: str = "platform_events"


# The type of every custom field the seeded mappings target. A seeded ``__c`` mapping missing here
# has kind "any" (untyped), which the metadata test refuses.
_MAPPED_FIELD_TYPES: dict[tuple[str, str], tuple[str, int]] = {
    ("Order", "BC_Status__c"): ("text", 255),
    ("Order", "Subtotal__c"): ("currency", 0),
    ("Order", "TaxTotal__c"): ("currency", 0),
    ("Order", "ShippingTotal__c"): ("currency", 0),
    ("Order", "Discount_Total__c"): ("currency", 0),
    ("Order", "Grand_Total__c"): ("currency", 0),
    ("Order", "PaymentMethod__c"): ("text", 255),
    ("Order", "TransactionId__c"): ("text", 255),
    ("Order", "Refunded_Amount__c"): ("currency", 0),
    ("Order", "TrackingNumber__c"): ("text", 255),
    ("Order", "Shipping_Carrier__c"): ("text", 255),
    ("Order", "Shipped_Date__c"): ("date", 0),
}

# External id values are "{store_hash}:{id}" (guests: "{hash}:guest:{32 hex digits}"), so 255 characters.
_EXT: dict[str, Any] = {"kind": "text", "length": 255, "external_id": True}

# Fields b2s writes in code, not through an admin-editable mapping.
_CODE_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("Order", "BigCommerceOrderId__c", **_EXT),
    FieldSpec("Order", "BigCommerce_Store__c", "text", length=255),
    FieldSpec("Order", "Archived__c", "checkbox"),
    FieldSpec("OrderItem", "BigCommerceOrderItemId__c", **_EXT, feature_flag="order_line_items"),
    # The key of order lines' products and of catalog sync's (orders.catalog): either feature writes it.
    FieldSpec("Product2", "BigCommerceProductId__c", **_EXT, feature_flag="order_line_items", also_flags=(CATALOG,)),
    FieldSpec("Account", "BigCommerceCustomerId__c", **_EXT),
    FieldSpec("Contact", "BigCommerceCustomerId__c", **_EXT),
    FieldSpec("Account", "CLV__c", "currency", feature_flag="customer_lifetime_value"),
    FieldSpec("Account", "Total_Orders__c", "number", feature_flag="customer_lifetime_value"),
    FieldSpec("Account", "Average_Order_Value__c", "currency", feature_flag="customer_lifetime_value"),
    FieldSpec("Account", "Last_Order_Date__c", "date", feature_flag="customer_lifetime_value"),
    FieldSpec(
        "Account",
        "Customer_Tier__c",
        "tier",
        length=len("Platinum"),
        feature_flag="customer_segmentation",
        picklist_values=CUSTOMER_TIERS,
    ),
    FieldSpec("Account", "RFM_Score__c", "text", length=3, feature_flag="rfm_analysis"),
    FieldSpec("Account", "Customer_Tags__c", "text", length=255, feature_flag="customer_tags"),
    FieldSpec("Opportunity", "Cart_ID__c", **_EXT, feature_flag="opportunity_creation"),
    FieldSpec("Opportunity", "Cart_Value__c", "currency", feature_flag="opportunity_creation"),
    FieldSpec("Opportunity", "Abandoned_Date__c", "datetime", feature_flag="opportunity_creation"),
    FieldSpec("Lead", "AbandonedCartId__c", **_EXT, feature_flag="low_value_lead_creation"),
    FieldSpec("Lead", "AbandonedCartValue__c", "currency", feature_flag="low_value_lead_creation"),
    FieldSpec("Lead", "AbandonedCartDate__c", "datetime", feature_flag="low_value_lead_creation"),
    FieldSpec("Lead", "Cart_Items__c", "longtext", feature_flag="low_value_lead_creation"),
    # Not an external id: the Task's Salesforce id is remembered locally.
    FieldSpec("Task", "BigCommerceCartId__c", "text", length=255, feature_flag="recovery_tasks"),
)


def _mapped_fields() -> tuple[FieldSpec, ...]:
    specs = []
    for sf_object, sf_field, _source, _transform, flag in FIELD_MAPPINGS:
        if not sf_field.endswith("__c"):
            continue
        kind, length = _MAPPED_FIELD_TYPES.get((sf_object, sf_field), ("any", 0))
        specs.append(FieldSpec(sf_object, sf_field, kind, length=length, feature_flag=flag, source="mapping"))
    return tuple(specs)


def _fields_merge(*groups: tuple[FieldSpec, ...]) -> tuple[FieldSpec, ...]:
    merged: dict[tuple[str, str], FieldSpec] = {}
    for group in groups:
        for spec in group:
            merged.setdefault((spec.sobject, spec.name), spec)
    return tuple(merged.values())


REQUIRED_FIELDS: tuple[FieldSpec, ...] = _fields_merge(_mapped_fields(), _CODE_FIELDS)

# Event fields can be Text, Number, Date, DateTime, Checkbox or Long Text Area (no Currency).
_ORDER_EVENT_FIELDS = (
    ("EventType__c", "text", 255),
    ("OrderId__c", "text", 18),
    ("BigCommerceOrderId__c", "text", 255),
    ("AccountId__c", "text", 18),
    ("TotalAmount__c", "number", 0),
    ("OrderDate__c", "datetime", 0),
    # Deterministic per store, order, kind (and content for Updated/Shipped): a subscriber drops repeats by it.
    ("EventKey__c", "text", 64),
)
_CART_EVENT_FIELDS = (
    ("EventType__c", "text", 255),
    ("CartId__c", "text", 255),
    ("CustomerEmail__c", "text", 255),
    ("CartValue__c", "number", 0),
    ("LeadId__c", "text", 18),
    ("OpportunityId__c", "text", 18),
    ("AbandonedDate__c", "datetime", 0),
    # Deterministic per cart and abandonment: a retried sync publishes the same key, a subscriber drops repeats.
    ("EventKey__c", "text", 64),
)


def _event(name: str, fields: tuple[tuple[str, str, int], ...]) -> EventSpec:
    return EventSpec(
        name,
        tuple(
            FieldSpec(name, field, kind, length=length, feature_flag="platform_events")
            for field, kind, length in fields
        ),
    )


REQUIRED_EVENTS: tuple[EventSpec, ...] = (
    _event("BigCommerce_Order_Created__e", _ORDER_EVENT_FIELDS),
    _event("BigCommerce_Order_Updated__e", _ORDER_EVENT_FIELDS),
    _event("BigCommerce_Order_Shipped__e", _ORDER_EVENT_FIELDS),
    _event("BigCommerce_Cart_Abandoned__e", _CART_EVENT_FIELDS),
)

# Standard objects b2s reads or writes (each must be visible to the integration user).
REQUIRED_OBJECTS: tuple[str, ...] = (
    "Account",
    "Contact",
    "Order",
    "OrderItem",
    "Product2",
    "Pricebook2",
    "PricebookEntry",
    "Opportunity",
    "OpportunityContactRole",
    "Lead",
    "Task",
)

# Objects b2s creates records of only as a part of another write, with no field of their own to show
# missing access: the check asks the object's describe for create access (``createable``).
REQUIRED_CREATE_ACCESS: dict[str, str] = {"OpportunityContactRole": "opportunity_creation"}


# Standard fields b2s writes in code. Every org has them; the check still looks, because the
# integration user may lack field-level access, and a restricted picklist may lack a value b2s writes.
_STANDARD = {
    # The links to the customer's Contact and the cart's Opportunity (orders.links).
    "Order": (
        "AccountId",
        "EffectiveDate",
        "Pricebook2Id",
        "Status",
        "BillToContactId",
        "ShipToContactId",
        "OpportunityId",
    ),
    "OrderItem": ("OrderId", "PricebookEntryId", "Quantity", "UnitPrice"),
    "Product2": ("Name", "ProductCode", "IsActive"),
    "PricebookEntry": ("Pricebook2Id", "Product2Id", "UnitPrice", "IsActive"),
    "Opportunity": ("Name", "StageName", "CloseDate", "Amount", "AccountId", "LeadSource", "Description"),
    "Lead": ("LastName", "FirstName", "Company", "Email", "Status", "LeadSource", "Description"),
    "Task": ("Subject", "Status", "Priority", "ActivityDate", "WhatId", "WhoId", "Description"),
    # The shopper's role on a cart's Opportunity (created with it: needs create access to the object).
    "OpportunityContactRole": ("OpportunityId", "ContactId", "IsPrimary", "Role"),
}
_STANDARD_FLAGS = {
    "OrderItem": "order_line_items",
    "Product2": "order_line_items",
    "PricebookEntry": "order_line_items",
    "Opportunity": "opportunity_creation",
    "OpportunityContactRole": "opportunity_creation",
    "Lead": "low_value_lead_creation",
    "Task": "recovery_tasks",
}
# Catalog sync (orders.catalog) writes products and their standard price book entries without any order.
_STANDARD_ALSO_FLAGS = {"Product2": (CATALOG,), "PricebookEntry": (CATALOG,)}
_PICKLIST_VALUES = {
    ("Order", "Status"): ("Draft", "Activated"),
    ("Opportunity", "StageName"): ("Prospecting", "Closed Lost"),
    ("Lead", "Status"): ("Open - Not Contacted",),
    ("Task", "Status"): ("Not Started",),
    ("Task", "Priority"): ("High", "Normal"),
    ("OpportunityContactRole", "Role"): ("Decision Maker",),
}
STANDARD_FIELDS: tuple[FieldSpec, ...] = (
    *(
        FieldSpec(
            sobject,
            name,
            "any",
            feature_flag=_STANDARD_FLAGS.get(sobject, ""),
            also_flags=_STANDARD_ALSO_FLAGS.get(sobject, ()),
            picklist_values=_PICKLIST_VALUES.get((sobject, name), ()),
        )
        for sobject, names in _STANDARD.items()
        for name in names
    ),
    # Catalog sync writes the product's plain-text description (orders.catalog); order sync does not.
    FieldSpec("Product2", "Description", "any", feature_flag=CATALOG),
)


@dataclass(frozen=True)
class UserPermissionSpec:
    """A user permission the integration user needs (``Permissions<name>`` on UserPermissionAccess)."""

    name: str
    why: str
    feature_flag: str = ""  # "" = always needed


# What the permission set B2S_Integration grants beyond object and field access, and why b2s needs it.
REQUIRED_USER_PERMISSIONS: tuple[UserPermissionSpec, ...] = (
    UserPermissionSpec("ApiEnabled", "every call b2s makes is an API call"),
    UserPermissionSpec("ActivateOrder", "orders are activated when their BigCommerce status maps to Activated"),
    UserPermissionSpec(
        "EditActivatedOrders",
        "every later event of an activated order (status, shipment, archive, refund, edit) edits it",
    ),
    UserPermissionSpec("EditTask", "cart recovery creates and closes Tasks", feature_flag="recovery_tasks"),
    UserPermissionSpec(
        "ConvertLeads", "a cart's Lead is converted when its shopper buys", feature_flag="low_value_lead_creation"
    ),
    UserPermissionSpec("ViewSetup", "salesforce_check reads the org's API limits (/limits)"),
)


def fields_for(sobject: str) -> list[FieldSpec]:
    """The required custom fields of one object."""
    return [spec for spec in REQUIRED_FIELDS if spec.sobject == sobject]
