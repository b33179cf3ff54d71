"""The org's schema as data: objects, fields and their properties, as ``describe`` reports them.

``schema_build("full")`` is a fresh org set up for b2s (standard objects plus every custom field
and platform event the product writes); ``schema_build("minimal")`` is the same org before the
setup (no custom fields, no platform events), so a setup check has something to find missing.
Tests extend a sandbox's schema in place::

    sandbox.schema.field_add("Account", "Legacy_Id__c", "string", length=40, externalId=True)
    sandbox.schema.object_add("Invoice__c", key_prefix="a01", fields=[Field("Amount__c", "currency")])

``SalesforceSandbox.reset()`` restores the schema it was built with.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

# Field types, as describe names them. The "string-like" ones hold text.
TEXT_TYPES = {"string", "textarea", "email", "phone", "url", "picklist", "multipicklist", "combobox", "encryptedstring"}
NUMBER_TYPES = {"currency", "double", "percent", "int"}
SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "currency": "xsd:double",
    "double": "xsd:double",
    "percent": "xsd:double",
    "int": "xsd:int",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
}


# Multi-currency orgs: every record carries CurrencyIsoCode. A child's currency is its parent's
# (OrderItem: its Order's); a price book entry's currency is fixed once it is created.
CURRENCY_FIELD = "CurrencyIsoCode"
CURRENCY_INHERITED = {"OrderItem": ("Order", "OrderId")}
CURRENCY_CREATE_ONLY = {"PricebookEntry"}


@dataclass
class Field:
    """One field of an object, with the properties the stand-in enforces.

    ``nillable=False`` on a createable field without a default makes it required on create;
    ``createable``/``updateable`` False make it read-only for create/update;
    ``picklist`` + ``restricted`` make a restricted picklist; ``referenceTo`` makes a lookup;
    ``categories`` gives each value of a picklist such as Order Status its category (StatusCode).
    """

    name: str
    type: str
    label: str = ""
    length: int = 0
    precision: int = 0
    scale: int = 0
    digits: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    default: Any = None
    defaultedOnCreate: bool = False
    externalId: bool = False
    unique: bool = False
    caseSensitive: bool = False
    picklist: list[str] = field(default_factory=list)
    restricted: bool = False
    # A picklist value -> its category, for the picklists whose values carry one (Order Status: StatusCode).
    categories: dict[str, str] = field(default_factory=dict)
    referenceTo: list[str] = field(default_factory=list)
    relationshipName: str | None = None
    childRelationshipName: str | None = None
    cascadeDelete: bool = False
    restrictDelete: bool = False
    calculated: bool = False
    autoNumber: bool = False
    nameField: bool = False

    def __post_init__(self) -> None:
        if not self.label:
            self.label = _label_from_name(self.name)
        if self.type in {"string", "textarea", "email", "phone", "url", "picklist", "combobox"} and not self.length:
            self.length = {"textarea": 255, "picklist": 255, "phone": 40, "email": 80}.get(self.type, 255)
        if self.type in {"currency", "double", "percent"} and not self.precision:
            self.precision, self.scale = 18, 2
        if self.type == "int" and not self.digits:
            self.digits = 9
        if self.type == "id":
            self.length = 18
        if self.type == "reference" and not self.length:
            self.length = 18
        if self.type == "boolean":
            self.nillable = False
            self.defaultedOnCreate = True
            if self.default is None:
                self.default = False

    def picklist_values_add(self, values: list[tuple[str, str | None]]) -> list[str]:
        """Add ``(value, category)`` pairs to this picklist as an admin would in Setup; answers the values.

        A picklist whose values carry a category (Order Status: Draft or Activated, its StatusCode) needs
        one for each new value; any other takes none. All or nothing: ValueError before any change.
        """
        if self.type not in {"picklist", "multipicklist", "combobox"}:
            raise ValueError(f"{self.name} is not a picklist")
        allowed = set(self.categories.values())
        known = {value.lower() for value in self.picklist}
        for value, category in values:
            if not isinstance(value, str) or not value.strip() or len(value) > 255:
                raise ValueError(f"{value!r} is not a picklist value (1 to 255 characters)")
            if value.lower() in known:
                raise ValueError(f"{self.name} already has the value {value!r}")
            known.add(value.lower())
            if allowed and category not in allowed:
                raise ValueError(
                    f"{self.name} values need a category among {sorted(allowed)}; {value!r} has {category!r}"
                )
            if not allowed and category is not None:
                raise ValueError(f"{self.name} values have no category")
        for value, category in values:
            self.picklist.append(value)
            if category is not None:
                self.categories[value] = category
        return list(self.picklist)

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")

    @property
    def required(self) -> bool:
        """Must be given on create (REQUIRED_FIELD_MISSING otherwise)."""
        return (
            not self.nillable
            and self.createable
            and not self.defaultedOnCreate
            and self.default is None
            and self.type != "boolean"
        )

    def describe(self) -> dict[str, Any]:
        """This field as ``describe`` reports it."""
        return {
            "aggregatable": self.type not in {"textarea"},
            "autoNumber": self.autoNumber,
            "byteLength": self.length * 3 if self.length else 0,
            "calculated": self.calculated,
            "caseSensitive": self.caseSensitive,
            "createable": self.createable,
            "custom": self.custom,
            "defaultValue": self.default if self.type != "boolean" else bool(self.default),
            "defaultedOnCreate": self.defaultedOnCreate or self.default is not None,
            "digits": self.digits,
            "externalId": self.externalId,
            "filterable": self.type != "textarea" or self.length <= 255,
            "groupable": self.type not in NUMBER_TYPES | {"textarea", "datetime"},
            "idLookup": self.type == "id" or self.externalId,
            "label": self.label,
            "length": self.length if self.type in TEXT_TYPES | {"id", "reference"} else 0,
            "name": self.name,
            "nameField": self.nameField,
            "nillable": self.nillable,
            "picklistValues": [
                {
                    "active": True,
                    "defaultValue": value == self.default,
                    "label": value,
                    "validFor": None,
                    "value": value,
                }
                for value in self.picklist
            ],
            "precision": self.precision,
            "referenceTo": list(self.referenceTo),
            "relationshipName": self.relationshipName,
            "restrictedPicklist": self.restricted,
            "scale": self.scale,
            "soapType": SOAP_TYPES.get(self.type, "xsd:string"),
            "sortable": self.type != "textarea" or self.length <= 255,
            "type": self.type,
            "unique": self.unique,
            "updateable": self.updateable,
        }


@dataclass
class SObjectType:
    """One object (``Account``, ``Order``, a ``__e`` platform event, ...)."""

    name: str
    key_prefix: str
    label: str = ""
    label_plural: str = ""
    fields: dict[str, Field] = field(default_factory=dict)
    is_event: bool = False
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    queryable: bool = True

    def __post_init__(self) -> None:
        if not self.label:
            self.label = _label_from_name(self.name)
        if not self.label_plural:
            self.label_plural = self.label + "s"

    @property
    def custom(self) -> bool:
        return self.name.endswith(("__c", "__e"))

    def field(self, name: str) -> Field | None:
        """The field named ``name`` (API names are case-insensitive), or None."""
        return _by_api_name(self.fields, name)

    def relationship(self, name: str) -> Field | None:
        """The lookup field whose relationship name is ``name`` (``Account`` for ``AccountId``)."""
        lowered = name.lower()
        for candidate in self.fields.values():
            if candidate.relationshipName and candidate.relationshipName.lower() == lowered:
                return candidate
        return None


class _Named(Protocol):
    name: str


_NamedT = TypeVar("_NamedT", bound=_Named)


def _by_api_name(named: dict[str, _NamedT], name: str) -> _NamedT | None:
    """``named[name]``, else the entry whose ``.name`` matches case-insensitively (API names), else None."""
    found = named.get(name)
    if found is not None:
        return found
    lowered = name.lower()
    return next((candidate for candidate in named.values() if candidate.name.lower() == lowered), None)


class Schema:
    """All objects of the org, looked up case-insensitively."""

    def __init__(self, objects: dict[str, SObjectType]) -> None:
        self.objects = objects

    def get(self, name: str) -> SObjectType | None:
        """The object named ``name`` (case-insensitive), or None."""
        return _by_api_name(self.objects, name)

    def __getitem__(self, name: str) -> SObjectType:
        found = self.get(name)
        if found is None:
            raise KeyError(name)
        return found

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def by_prefix(self, prefix: str) -> SObjectType | None:
        """The record object whose ids start with ``prefix`` (platform events excluded)."""
        for candidate in self.objects.values():
            if candidate.key_prefix == prefix and not candidate.is_event:
                return candidate
        return None

    def children(self, name: str) -> list[tuple[str, SObjectType, Field]]:
        """Child relationships of ``name``: (relationship name, child object, lookup field)."""
        out = []
        for child in self.objects.values():
            for candidate in child.fields.values():
                if candidate.childRelationshipName and name in candidate.referenceTo:
                    out.append((candidate.childRelationshipName, child, candidate))
        return out

    def field_add(self, sobject: str, name: str, type: str = "string", **attrs: Any) -> Field:  # noqa: A002
        """Add (or replace) a field; ``attrs`` are :class:`Field` properties."""
        new = Field(name, type, **attrs)
        self[sobject].fields[name] = new
        return new

    def multi_currency_enable(
        self, currencies: tuple[str, ...] | list[str] = ("USD", "EUR", "GBP"), *, corporate: str | None = None
    ) -> None:
        """Make the org multi-currency: ``CurrencyIsoCode`` on every record object except User.

        As in a real org the field is a restricted picklist of the active ``currencies``, defaulted on
        create to the ``corporate`` currency (the first one unless given); OrderItem's is read-only
        (always its Order's currency) and PricebookEntry's can be set only on create.
        """
        codes = list(currencies)
        if not codes:
            raise ValueError("at least one currency is needed")
        corporate = corporate or codes[0]
        if corporate not in codes:
            raise ValueError(f"the corporate currency {corporate} is not among {codes}")
        for obj in list(self.objects.values()):
            if obj.is_event or obj.name in SETUP_OBJECTS:
                continue
            inherited = obj.name in CURRENCY_INHERITED
            self.field_add(
                obj.name,
                CURRENCY_FIELD,
                "picklist",
                label="Currency ISO Code",
                length=3,
                picklist=list(codes),
                restricted=True,
                nillable=False,
                default=corporate,
                defaultedOnCreate=True,
                createable=not inherited,
                updateable=not inherited and obj.name not in CURRENCY_CREATE_ONLY,
            )

    def field_remove(self, sobject: str, name: str) -> None:
        """Remove a field (the records keep no value for it from then on)."""
        target = self[sobject]
        found = target.field(name)
        if found is None:
            raise KeyError(name)
        del target.fields[found.name]

    def object_add(
        self, name: str, *, key_prefix: str, fields: list[Field] | tuple[Field, ...] = (), **attrs: Any
    ) -> SObjectType:
        """Add an object with the system fields every record has, plus ``fields``."""
        is_event = attrs.get("is_event", name.endswith("__e"))
        attrs["is_event"] = is_event
        new = SObjectType(name, key_prefix, **attrs)
        base = _event_fields() if is_event else _system_fields(new.label)
        for item in [*base, *fields]:
            new.fields[item.name] = item
        if is_event:
            new.updateable = new.deletable = new.queryable = False
        self.objects[name] = new
        return new

    def copy(self) -> Schema:
        """An independent deep copy."""
        return Schema(copy.deepcopy(self.objects))


def _label_from_name(name: str) -> str:
    base = name.removesuffix("__c").removesuffix("__e").replace("_", " ")
    if base.endswith("Id") and len(base) > 2:
        base = base[:-2] + " ID"
    return base


def _system_fields(label: str) -> list[Field]:
    ro: dict[str, Any] = {"createable": False, "updateable": False}
    return [
        Field("Id", "id", label=f"{label} ID", nillable=False, defaultedOnCreate=True, **ro),
        Field("IsDeleted", "boolean", label="Deleted", **ro),
        Field("CreatedDate", "datetime", nillable=False, defaultedOnCreate=True, **ro),
        _user_reference("CreatedById", "CreatedBy", **ro),
        Field("LastModifiedDate", "datetime", nillable=False, defaultedOnCreate=True, **ro),
        _user_reference("LastModifiedById", "LastModifiedBy", **ro),
        Field("SystemModstamp", "datetime", nillable=False, defaultedOnCreate=True, **ro),
    ]


def _event_fields() -> list[Field]:
    ro: dict[str, Any] = {"createable": False, "updateable": False}
    return [
        Field("ReplayId", "string", nillable=True, **ro),
        Field("CreatedDate", "datetime", nillable=False, defaultedOnCreate=True, **ro),
        _user_reference("CreatedById", "CreatedBy", **ro),
        Field("EventUuid", "string", length=36, **ro),
    ]


def _user_reference(name: str, relationship: str, **options: Any) -> Field:
    """A required, defaulted lookup to User (CreatedById, LastModifiedById, OwnerId)."""
    return Field(
        name,
        "reference",
        referenceTo=["User"],
        relationshipName=relationship,
        nillable=False,
        defaultedOnCreate=True,
        **options,
    )


def _owner() -> Field:
    return _user_reference("OwnerId", "Owner", label="Owner ID")


def _address(prefix: str, label: str) -> list[Field]:
    return [
        Field(f"{prefix}Street", "textarea", label=f"{label} Street", length=255),
        Field(f"{prefix}City", "string", label=f"{label} City", length=40),
        Field(f"{prefix}State", "string", label=f"{label} State/Province", length=80),
        Field(f"{prefix}PostalCode", "string", label=f"{label} Zip/Postal Code", length=20),
        Field(f"{prefix}Country", "string", label=f"{label} Country", length=80),
    ]


# The Role values of a new org's OpportunityContactRole (a picklist an admin may edit; not restricted).
OPPORTUNITY_CONTACT_ROLES = (
    "Business User",
    "Decision Maker",
    "Economic Buyer",
    "Economic Decision Maker",
    "Evaluator",
    "Executive Sponsor",
    "Influencer",
    "Technical Buyer",
    "Other",
)
LEAD_SOURCES = ["Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other", "Abandoned Cart"]
OPPORTUNITY_STAGES = {
    # stage: (probability, forecast category, closed, won)
    "Prospecting": (10, "Pipeline", False, False),
    "Qualification": (10, "Pipeline", False, False),
    "Needs Analysis": (20, "Pipeline", False, False),
    "Value Proposition": (50, "Pipeline", False, False),
    "Id. Decision Makers": (60, "Pipeline", False, False),
    "Perception Analysis": (70, "Pipeline", False, False),
    "Proposal/Price Quote": (75, "Pipeline", False, False),
    "Negotiation/Review": (90, "Pipeline", False, False),
    "Closed Won": (100, "Closed", True, True),
    "Closed Lost": (0, "Omitted", True, False),
}
LEAD_STATUSES = ["Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted"]
TASK_STATUSES = ["Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred"]
TASK_CLOSED_STATUSES = {"Completed"}
TASK_PRIORITIES = ["High", "Normal", "Low"]
ORDER_STATUSES = ["Draft", "Activated"]
# Status value -> status category (StatusCode); Salesforce keys rules on the category.
ORDER_STATUS_CATEGORY = {"Draft": "Draft", "Activated": "Activated"}
CUSTOMER_TIERS = ["Bronze", "Silver", "Gold", "Platinum"]
# The user permissions the stand-in models as ``Permissions<Name>`` checkboxes on PermissionSet and
# UserPermissionAccess (a real org has hundreds; these are the ones b2s needs or checks).
USER_PERMISSIONS = ["ActivateOrder", "ApiEnabled", "ConvertLeads", "EditActivatedOrders", "EditTask", "ViewSetup"]
# Setup objects: no CurrencyIsoCode even in a multi-currency org.
SETUP_OBJECTS = {"User", "PermissionSet", "PermissionSetAssignment", "UserPermissionAccess", "LeadStatus"}


def _ro(name: str, type: str, **attrs: Any) -> Field:  # noqa: A002
    return Field(name, type, createable=False, updateable=False, **attrs)


def _standard_objects() -> dict[str, tuple[dict[str, Any], list[Field]]]:
    """Standard objects: (object properties, fields beyond the system fields)."""
    return {
        "User": (
            {"key_prefix": "005", "createable": False, "deletable": False},
            [
                Field("Username", "string", length=80, nillable=False, unique=True, updateable=False),
                Field("LastName", "string", label="Last Name", length=80, nillable=False),
                Field("FirstName", "string", label="First Name", length=40),
                _ro("Name", "string", length=121, calculated=True, nameField=True, label="Full Name"),
                Field("Alias", "string", length=8, nillable=False),
                Field("Email", "email", length=128, nillable=False),
                Field("IsActive", "boolean", label="Active", default=True),
                Field(
                    "TimeZoneSidKey", "picklist", label="Time Zone", picklist=["GMT"], restricted=True, nillable=False
                ),
            ],
        ),
        **_permission_objects(),
        "Account": (
            {"key_prefix": "001"},
            [
                Field("Name", "string", label="Account Name", length=255, nillable=False, nameField=True),
                Field(
                    "Type",
                    "picklist",
                    label="Account Type",
                    picklist=["Prospect", "Customer - Direct", "Customer - Channel", "Other"],
                ),
                Field(
                    "ParentId",
                    "reference",
                    referenceTo=["Account"],
                    relationshipName="Parent",
                    childRelationshipName="ChildAccounts",
                ),
                *_address("Billing", "Billing"),
                *_address("Shipping", "Shipping"),
                Field("Phone", "phone", label="Account Phone"),
                Field("Fax", "phone", label="Account Fax"),
                Field("AccountNumber", "string", length=40),
                Field("Website", "url", length=255),
                Field("Industry", "picklist", picklist=["Retail", "Technology", "Other"]),
                Field("AnnualRevenue", "currency", precision=18, scale=0),
                Field("NumberOfEmployees", "int", label="Employees", digits=8),
                Field("Description", "textarea", label="Account Description", length=32000),
                Field("AccountSource", "picklist", picklist=LEAD_SOURCES),
                _owner(),
            ],
        ),
        "Contact": (
            {"key_prefix": "003"},
            [
                Field(
                    "AccountId",
                    "reference",
                    referenceTo=["Account"],
                    relationshipName="Account",
                    childRelationshipName="Contacts",
                    cascadeDelete=True,
                ),
                Field("LastName", "string", label="Last Name", length=80, nillable=False),
                Field("FirstName", "string", label="First Name", length=40),
                Field("Salutation", "picklist", picklist=["Mr.", "Ms.", "Mrs.", "Dr.", "Prof."]),
                _ro("Name", "string", length=121, calculated=True, nameField=True, label="Full Name"),
                *_address("Mailing", "Mailing"),
                Field("Phone", "phone", label="Business Phone"),
                Field("MobilePhone", "phone"),
                Field("Email", "email", length=80),
                Field("Title", "string", length=128),
                Field("Department", "string", length=80),
                Field("LeadSource", "picklist", picklist=LEAD_SOURCES),
                Field("Description", "textarea", label="Contact Description", length=32000),
                Field("HasOptedOutOfEmail", "boolean", label="Email Opt Out"),
                _owner(),
            ],
        ),
        "Lead": (
            {"key_prefix": "00Q"},
            [
                Field("LastName", "string", label="Last Name", length=80, nillable=False),
                Field("FirstName", "string", label="First Name", length=40),
                _ro("Name", "string", length=121, calculated=True, nameField=True, label="Full Name"),
                Field("Company", "string", length=255, nillable=False),
                Field("Title", "string", length=128),
                Field("Street", "textarea", length=255),
                Field("City", "string", length=40),
                Field("State", "string", label="State/Province", length=80),
                Field("PostalCode", "string", label="Zip/Postal Code", length=20),
                Field("Country", "string", length=80),
                Field("Phone", "phone"),
                Field("MobilePhone", "phone"),
                Field("Email", "email", length=80),
                Field("Website", "url", length=255),
                Field("Description", "textarea", length=32000),
                Field("LeadSource", "picklist", picklist=LEAD_SOURCES),
                Field(
                    "Status",
                    "picklist",
                    label="Lead Status",
                    picklist=LEAD_STATUSES,
                    restricted=True,
                    nillable=False,
                    default="Open - Not Contacted",
                ),
                Field("Industry", "picklist", picklist=["Retail", "Technology", "Other"]),
                Field("Rating", "picklist", picklist=["Hot", "Warm", "Cold"]),
                Field("NumberOfEmployees", "int", label="Employees", digits=8),
                Field("HasOptedOutOfEmail", "boolean", label="Email Opt Out"),
                _ro("IsConverted", "boolean", label="Converted"),
                _ro("ConvertedDate", "date"),
                _ro("ConvertedAccountId", "reference", referenceTo=["Account"], relationshipName="ConvertedAccount"),
                _ro("ConvertedContactId", "reference", referenceTo=["Contact"], relationshipName="ConvertedContact"),
                _ro(
                    "ConvertedOpportunityId",
                    "reference",
                    referenceTo=["Opportunity"],
                    relationshipName="ConvertedOpportunity",
                ),
                _owner(),
            ],
        ),
        "Opportunity": (
            {"key_prefix": "006", "label_plural": "Opportunities"},
            [
                Field(
                    "AccountId",
                    "reference",
                    referenceTo=["Account"],
                    relationshipName="Account",
                    childRelationshipName="Opportunities",
                    cascadeDelete=True,
                ),
                Field("Name", "string", label="Opportunity Name", length=120, nillable=False, nameField=True),
                Field("Description", "textarea", length=32000),
                Field(
                    "StageName",
                    "picklist",
                    label="Stage",
                    picklist=list(OPPORTUNITY_STAGES),
                    restricted=True,
                    nillable=False,
                ),
                Field("Amount", "currency", precision=18, scale=2),
                Field("Probability", "percent", label="Probability (%)", precision=3, scale=0),
                Field("CloseDate", "date", nillable=False),
                Field("Type", "picklist", label="Opportunity Type", picklist=["New Customer", "Existing Customer"]),
                Field("NextStep", "string", length=255),
                Field("LeadSource", "picklist", picklist=LEAD_SOURCES),
                _ro("IsClosed", "boolean", label="Closed"),
                _ro("IsWon", "boolean", label="Won"),
                Field(
                    "ForecastCategoryName",
                    "picklist",
                    label="Forecast Category",
                    picklist=["Pipeline", "Best Case", "Commit", "Omitted", "Closed"],
                    restricted=True,
                    defaultedOnCreate=True,
                ),
                Field(
                    "Pricebook2Id",
                    "reference",
                    label="Price Book ID",
                    referenceTo=["Pricebook2"],
                    relationshipName="Pricebook2",
                ),
                _owner(),
            ],
        ),
        "Task": (
            {"key_prefix": "00T"},
            [
                Field(
                    "WhoId",
                    "reference",
                    label="Name ID",
                    referenceTo=["Contact", "Lead"],
                    relationshipName="Who",
                    childRelationshipName="Tasks",
                    cascadeDelete=True,
                ),
                Field(
                    "WhatId",
                    "reference",
                    label="Related To ID",
                    referenceTo=["Account", "Opportunity", "Order", "Product2"],
                    relationshipName="What",
                    childRelationshipName="Tasks",
                    cascadeDelete=True,
                ),
                Field("Subject", "combobox", length=255, picklist=["Call", "Send Letter", "Send Quote", "Other"]),
                Field("ActivityDate", "date", label="Due Date Only"),
                Field(
                    "Status",
                    "picklist",
                    picklist=TASK_STATUSES,
                    restricted=True,
                    nillable=False,
                    default="Not Started",
                ),
                Field(
                    "Priority", "picklist", picklist=TASK_PRIORITIES, restricted=True, nillable=False, default="Normal"
                ),
                _ro("IsHighPriority", "boolean", label="High Priority"),
                Field("Description", "textarea", label="Description", length=32000),
                Field("Type", "picklist", picklist=["Call", "Email", "Meeting", "Other"]),
                _ro("IsClosed", "boolean", label="Closed"),
                Field("ReminderDateTime", "datetime", label="Reminder Date/Time"),
                Field("IsReminderSet", "boolean", label="Reminder Set"),
                _owner(),
            ],
        ),
        "Product2": (
            {"key_prefix": "01t", "label": "Product", "label_plural": "Products"},
            [
                Field("Name", "string", label="Product Name", length=255, nillable=False, nameField=True),
                Field("ProductCode", "string", length=255),
                Field("Description", "textarea", label="Product Description", length=4000),
                Field("IsActive", "boolean", label="Active", default=False),
                Field("Family", "picklist", label="Product Family", picklist=["None"]),
                Field("StockKeepingUnit", "string", label="Product SKU", length=180),
                Field("QuantityUnitOfMeasure", "picklist", label="Quantity Unit Of Measure", picklist=["Each"]),
                Field("DisplayUrl", "url", length=1000),
            ],
        ),
        "Pricebook2": (
            {"key_prefix": "01s", "label": "Price Book", "label_plural": "Price Books"},
            [
                Field("Name", "string", label="Price Book Name", length=255, nillable=False, nameField=True),
                Field("IsActive", "boolean", label="Active", default=False),
                _ro("IsStandard", "boolean", label="Is Standard Price Book"),
                _ro("IsArchived", "boolean", label="Is Archived"),
                Field("Description", "string", length=255),
            ],
        ),
        "PricebookEntry": (
            {"key_prefix": "01u", "label": "Price Book Entry", "label_plural": "Price Book Entries"},
            [
                _ro("Name", "string", label="Product Name", length=255, nameField=True),
                Field(
                    "Pricebook2Id",
                    "reference",
                    label="Price Book ID",
                    referenceTo=["Pricebook2"],
                    relationshipName="Pricebook2",
                    childRelationshipName="PricebookEntries",
                    nillable=False,
                    updateable=False,
                    cascadeDelete=True,
                ),
                Field(
                    "Product2Id",
                    "reference",
                    label="Product ID",
                    referenceTo=["Product2"],
                    relationshipName="Product2",
                    childRelationshipName="PricebookEntries",
                    nillable=False,
                    updateable=False,
                    cascadeDelete=True,
                ),
                Field("UnitPrice", "currency", label="List Price", precision=16, scale=2, nillable=False),
                Field("IsActive", "boolean", label="Active", default=False),
                Field("UseStandardPrice", "boolean", label="Use Standard Price", default=False),
                _ro("ProductCode", "string", length=255),
                _ro("IsArchived", "boolean", label="Is Archived"),
            ],
        ),
        # A Contact's role on an Opportunity (object reference "OpportunityContactRole"): OpportunityId is
        # required and fixed once created; one primary per Opportunity; the same Contact may hold several
        # roles on one Opportunity ("possible, but not recommended"): no uniqueness, and no external id.
        "OpportunityContactRole": (
            {"key_prefix": "00K", "label": "Opportunity Contact Role"},
            [
                Field(
                    "OpportunityId",
                    "reference",
                    referenceTo=["Opportunity"],
                    relationshipName="Opportunity",
                    childRelationshipName="OpportunityContactRoles",
                    nillable=False,
                    updateable=False,
                    cascadeDelete=True,
                ),
                Field(
                    "ContactId",
                    "reference",
                    referenceTo=["Contact"],
                    relationshipName="Contact",
                    childRelationshipName="OpportunityContactRoles",
                    nillable=False,
                    cascadeDelete=True,
                ),
                Field("IsPrimary", "boolean", label="Primary"),
                Field("Role", "picklist", picklist=list(OPPORTUNITY_CONTACT_ROLES)),
            ],
        ),
        "Order": (
            {"key_prefix": "801"},
            [
                Field(
                    "AccountId",
                    "reference",
                    referenceTo=["Account"],
                    relationshipName="Account",
                    childRelationshipName="Orders",
                    nillable=False,
                    restrictDelete=True,
                ),
                Field(
                    "Pricebook2Id",
                    "reference",
                    label="Price Book ID",
                    referenceTo=["Pricebook2"],
                    relationshipName="Pricebook2",
                    childRelationshipName="Orders",
                ),
                Field(
                    "OpportunityId",
                    "reference",
                    referenceTo=["Opportunity"],
                    relationshipName="Opportunity",
                    childRelationshipName="Orders",
                ),
                Field("EffectiveDate", "date", label="Order Start Date", nillable=False),
                Field("EndDate", "date", label="Order End Date"),
                Field(
                    "Status",
                    "picklist",
                    picklist=list(ORDER_STATUSES),
                    restricted=True,
                    nillable=False,
                    categories=dict(ORDER_STATUS_CATEGORY),
                ),
                _ro("StatusCode", "picklist", label="Status Category", picklist=["Draft", "Activated"]),
                Field("Name", "string", label="Order Name", length=80),
                Field("Description", "textarea", length=32000),
                Field("Type", "picklist", label="Order Type", picklist=["New", "Renewal"]),
                Field("PoNumber", "string", label="PO Number", length=80),
                Field("PoDate", "date", label="PO Date"),
                Field("OrderReferenceNumber", "string", length=80),
                _ro("OrderNumber", "string", label="Order Number", length=30, autoNumber=True, nameField=True),
                _ro("TotalAmount", "currency", label="Order Amount", precision=18, scale=2, calculated=True),
                *_address("Billing", "Billing"),
                *_address("Shipping", "Shipping"),
                Field(
                    "BillToContactId",
                    "reference",
                    label="Bill To Contact ID",
                    referenceTo=["Contact"],
                    relationshipName="BillToContact",
                ),
                Field(
                    "ShipToContactId",
                    "reference",
                    label="Ship To Contact ID",
                    referenceTo=["Contact"],
                    relationshipName="ShipToContact",
                ),
                _ro("ActivatedDate", "datetime"),
                _ro("ActivatedById", "reference", referenceTo=["User"], relationshipName="ActivatedBy"),
                _owner(),
            ],
        ),
        "OrderItem": (
            {"key_prefix": "802", "label": "Order Product", "label_plural": "Order Products"},
            [
                Field(
                    "OrderId",
                    "reference",
                    referenceTo=["Order"],
                    relationshipName="Order",
                    childRelationshipName="OrderItems",
                    nillable=False,
                    updateable=False,
                    cascadeDelete=True,
                ),
                Field(
                    "PricebookEntryId",
                    "reference",
                    label="Price Book Entry ID",
                    referenceTo=["PricebookEntry"],
                    relationshipName="PricebookEntry",
                    nillable=False,
                    updateable=False,
                ),
                Field(
                    "Product2Id",
                    "reference",
                    label="Product ID",
                    referenceTo=["Product2"],
                    relationshipName="Product2",
                    updateable=False,
                    defaultedOnCreate=True,
                ),
                Field("Quantity", "double", precision=18, scale=2, nillable=False),
                Field("UnitPrice", "currency", precision=18, scale=2, nillable=False),
                _ro("ListPrice", "currency", precision=18, scale=2),
                _ro("TotalPrice", "currency", label="Total Price", precision=18, scale=2, calculated=True),
                Field("Description", "string", label="Line Description", length=255),
                Field("ServiceDate", "date", label="Start Date"),
                Field("EndDate", "date"),
                _ro(
                    "OrderItemNumber",
                    "string",
                    label="Order Product Number",
                    length=10,
                    autoNumber=True,
                    nameField=True,
                ),
                _ro("AvailableQuantity", "double", precision=18, scale=2),
            ],
        ),
    }


def _permission_fields(*, readonly: bool) -> list[Field]:
    attrs: dict[str, Any] = {"createable": False, "updateable": False} if readonly else {}
    return [Field(f"Permissions{name}", "boolean", **attrs) for name in USER_PERMISSIONS]


def _permission_objects() -> dict[str, tuple[dict[str, Any], list[Field]]]:
    """PermissionSet, PermissionSetAssignment, UserPermissionAccess (the current user's effective
    permissions: one row, read-only) and LeadStatus (the Lead Status values, read-only)."""
    ro_object = {"createable": False, "updateable": False, "deletable": False}
    return {
        "PermissionSet": (
            {"key_prefix": "0PS", "label": "Permission Set"},
            [
                Field("Name", "string", length=80, nillable=False, unique=True),
                Field("Label", "string", length=80, nillable=False, nameField=True),
                Field("Description", "string", length=255),
                _ro("IsOwnedByProfile", "boolean", label="Is Owned By Profile"),
                *_permission_fields(readonly=False),
            ],
        ),
        "PermissionSetAssignment": (
            {"key_prefix": "0Pa", "label": "Permission Set Assignment", "updateable": False},
            [
                Field(
                    "AssigneeId",
                    "reference",
                    referenceTo=["User"],
                    relationshipName="Assignee",
                    childRelationshipName="PermissionSetAssignments",
                    nillable=False,
                    updateable=False,
                ),
                Field(
                    "PermissionSetId",
                    "reference",
                    referenceTo=["PermissionSet"],
                    relationshipName="PermissionSet",
                    childRelationshipName="Assignments",
                    nillable=False,
                    updateable=False,
                    cascadeDelete=True,
                ),
            ],
        ),
        "UserPermissionAccess": (
            {"key_prefix": "000", "label": "User Permission Access", **ro_object},
            [_ro("LastCacheUpdate", "datetime"), *_permission_fields(readonly=True)],
        ),
        "LeadStatus": (
            {"key_prefix": "01J", "label": "Lead Status", "label_plural": "Lead Status Values", **ro_object},
            [
                _ro("MasterLabel", "string", length=255, label="Master Label", nameField=True),
                _ro("ApiName", "string", length=255),
                _ro("SortOrder", "int"),
                _ro("IsDefault", "boolean"),
                _ro("IsConverted", "boolean"),
            ],
        ),
    }


def _ext_id(name: str, label: str = "") -> Field:
    return Field(name, "string", label=label, length=255, externalId=True, unique=True)


def _custom_fields() -> dict[str, list[Field]]:
    """The custom fields b2s writes (see the team brief and the field mapping)."""
    return {
        "Order": [
            _ext_id("BigCommerceOrderId__c", "BigCommerce Order ID"),
            Field("BC_Status__c", "string", label="BigCommerce Status", length=255),
            Field("Subtotal__c", "currency", precision=16, scale=2),
            Field("TaxTotal__c", "currency", label="Tax Total", precision=16, scale=2),
            Field("ShippingTotal__c", "currency", label="Shipping Total", precision=16, scale=2),
            Field("PaymentMethod__c", "string", label="Payment Method", length=255),
            Field("TransactionId__c", "string", label="Transaction ID", length=255),
            Field("TrackingNumber__c", "string", label="Tracking Number", length=255),
            Field("Discount_Total__c", "currency", precision=16, scale=2),
            Field("Refunded_Amount__c", "currency", precision=16, scale=2),
            Field("Shipping_Carrier__c", "string", length=255),
            Field("Grand_Total__c", "currency", precision=16, scale=2),
            Field("Shipped_Date__c", "date"),
            Field("Archived__c", "boolean"),
            Field("BigCommerce_Store__c", "string", label="BigCommerce Store", length=255),
        ],
        "OrderItem": [_ext_id("BigCommerceOrderItemId__c", "BigCommerce Order Item ID")],
        "Product2": [_ext_id("BigCommerceProductId__c", "BigCommerce Product ID")],
        "Account": [
            _ext_id("BigCommerceCustomerId__c", "BigCommerce Customer ID"),
            Field("CLV__c", "currency", label="Customer Lifetime Value", precision=16, scale=2),
            Field("Total_Orders__c", "double", precision=18, scale=0),
            Field("Average_Order_Value__c", "currency", precision=16, scale=2),
            Field("Customer_Tier__c", "picklist", picklist=CUSTOMER_TIERS, restricted=True),
            Field("RFM_Score__c", "string", label="RFM Score", length=3),
            Field("Last_Order_Date__c", "date"),
            Field("Customer_Tags__c", "string", length=255),
        ],
        "Contact": [_ext_id("BigCommerceCustomerId__c", "BigCommerce Customer ID")],
        "Opportunity": [
            _ext_id("Cart_ID__c", "Cart ID"),
            Field("Cart_Value__c", "currency", precision=16, scale=2),
            Field("Abandoned_Date__c", "datetime"),
        ],
        "Lead": [
            _ext_id("AbandonedCartId__c", "Abandoned Cart ID"),
            Field("AbandonedCartValue__c", "currency", label="Abandoned Cart Value", precision=16, scale=2),
            Field("AbandonedCartDate__c", "datetime", label="Abandoned Cart Date"),
            Field("Cart_Items__c", "textarea", length=131072),
        ],
        "Task": [Field("BigCommerceCartId__c", "string", label="BigCommerce Cart ID", length=255)],
    }


def _platform_events() -> dict[str, list[Field]]:
    """Platform events b2s publishes. Event fields can be Text, Number, Date, DateTime, Checkbox or Long Text."""
    order = [
        Field("EventType__c", "string", length=255),
        Field("OrderId__c", "string", label="Order ID", length=18),
        Field("BigCommerceOrderId__c", "string", label="BigCommerce Order ID", length=255),
        Field("AccountId__c", "string", label="Account ID", length=18),
        Field("TotalAmount__c", "double", precision=16, scale=2),
        Field("OrderDate__c", "datetime"),
        Field("EventKey__c", "string", label="Event Key", length=64),
    ]
    cart = [
        Field("EventType__c", "string", length=255),
        Field("CartId__c", "string", label="Cart ID", length=255),
        Field("CustomerEmail__c", "string", length=255),
        Field("CartValue__c", "double", precision=16, scale=2),
        Field("LeadId__c", "string", label="Lead ID", length=18),
        Field("OpportunityId__c", "string", label="Opportunity ID", length=18),
        Field("AbandonedDate__c", "datetime"),
        Field("EventKey__c", "string", label="Event Key", length=64),
    ]
    return {
        "BigCommerce_Order_Created__e": order,
        "BigCommerce_Order_Updated__e": order,
        "BigCommerce_Order_Shipped__e": order,
        "BigCommerce_Cart_Abandoned__e": cart,
    }


def schema_build(kind: str = "full") -> Schema:
    """A fresh schema: ``full`` (set up for b2s) or ``minimal`` (no custom fields, no events)."""
    if kind not in {"full", "minimal"}:
        raise ValueError(f"unknown schema {kind!r}: use 'full' or 'minimal'")
    schema = Schema({})
    customs = _custom_fields() if kind == "full" else {}
    for name, (attrs, fields) in _standard_objects().items():
        schema.object_add(name, fields=[*fields, *customs.get(name, [])], **attrs)
    if kind == "full":
        for name, fields in _platform_events().items():
            schema.object_add(name, key_prefix="e00", fields=copy.deepcopy(fields), is_event=True)
    return schema
