"""The shipped Salesforce DX metadata holds every field and event b2s writes by default."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sandbox.salesforce.schema import schema_build
from sync.salesforce_schema import (
    CUSTOMER_TIERS,
    KIND_DESCRIBE_TYPES,
    KIND_METADATA_TYPES,
    METADATA_OBJECT,
    REQUIRED_EVENTS,
    REQUIRED_FIELDS,
    REQUIRED_USER_PERMISSIONS,
    FieldSpec,
)
from sync.seeds import FIELD_MAPPINGS

ROOT = Path(__file__).resolve().parents[2] / "salesforce"
DEFAULT = ROOT / "force-app" / "main" / "default"
NS = {"md": "http://soap.sforce.com/2006/04/metadata"}


def _xml(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag.startswith("{" + NS["md"] + "}"), f"{path} is not in the metadata namespace"
    return root


def _text(element: ET.Element, name: str) -> str | None:
    found = element.find(f"md:{name}", NS)
    return found.text if found is not None else None


def _field_path(spec: FieldSpec) -> Path:
    folder = METADATA_OBJECT.get(spec.sobject, spec.sobject)
    return DEFAULT / "objects" / folder / "fields" / f"{spec.name}.field-meta.xml"


def _field_check(spec: FieldSpec) -> list[str]:
    """Problems of one field's metadata (empty when it is fine)."""
    path = _field_path(spec)
    if not path.is_file():
        return [f"{spec.label}: no {path.relative_to(ROOT)}"]
    root = _xml(path)
    problems = []
    field_type = _text(root, "type")
    if _text(root, "fullName") != spec.name:
        problems.append(f"{spec.label}: fullName {_text(root, 'fullName')!r}")
    if field_type not in KIND_METADATA_TYPES[spec.kind]:
        problems.append(f"{spec.label}: type {field_type} is not one of {sorted(KIND_METADATA_TYPES[spec.kind])}")
    if field_type in {"Text", "TextArea", "LongTextArea"} and int(_text(root, "length") or 0) < spec.length:
        problems.append(f"{spec.label}: length {_text(root, 'length')} < {spec.length}")
    if field_type in {"Currency", "Number"}:
        precision, scale = int(_text(root, "precision") or 0), int(_text(root, "scale") or 0)
        if not 0 < precision <= 18:
            problems.append(f"{spec.label}: precision {precision}")
        if spec.kind == "currency" and (scale != 2 or precision - scale < 10):
            problems.append(f"{spec.label}: precision/scale {precision}/{scale} cannot hold money up to 10 digits")
    if spec.external_id and (_text(root, "externalId") != "true" or _text(root, "unique") != "true"):
        problems.append(f"{spec.label}: not an external id with unique values")
    if spec.kind == "tier" and field_type == "Picklist":
        values = [value.text for value in root.findall("md:valueSet/md:valueSetDefinition/md:value/md:fullName", NS)]
        if values != list(CUSTOMER_TIERS):
            problems.append(f"{spec.label}: picklist values {values}")
    if _text(root, "required") == "true":
        problems.append(f"{spec.label}: required (b2s cannot always fill it)")
    return problems


def test_the_project_file_points_at_the_source():
    project = json.loads((ROOT / "sfdx-project.json").read_text())
    directories = [entry["path"] for entry in project["packageDirectories"]]
    assert directories == ["force-app"]
    assert float(project["sourceApiVersion"]) >= 62.0
    assert DEFAULT.is_dir()


def test_every_seeded_custom_mapping_target_is_required_and_typed():
    seeded = {(obj, field) for obj, field, *_ in FIELD_MAPPINGS if field.endswith("__c")}
    required = {(spec.sobject, spec.name): spec for spec in REQUIRED_FIELDS}
    assert seeded, "the seeds map no custom field: the derivation would prove nothing"
    assert seeded <= set(required)
    untyped = [required[key].label for key in seeded if required[key].kind == "any"]
    assert untyped == [], "give these seeded fields a type in sync/salesforce_schema.py"


def test_the_brief_fixed_fields_are_required():
    """External ids, analytics and cart fields that code (not mappings) writes."""
    required = {(spec.sobject, spec.name): spec for spec in REQUIRED_FIELDS}
    external_ids = [
        ("Order", "BigCommerceOrderId__c"),
        ("OrderItem", "BigCommerceOrderItemId__c"),
        ("Product2", "BigCommerceProductId__c"),
        ("Account", "BigCommerceCustomerId__c"),
        ("Contact", "BigCommerceCustomerId__c"),
        ("Opportunity", "Cart_ID__c"),
        ("Lead", "AbandonedCartId__c"),
    ]
    for key in external_ids:
        assert required[key].external_id, key
    assert not required[("Task", "BigCommerceCartId__c")].external_id
    for name in ("CLV__c", "Total_Orders__c", "Average_Order_Value__c", "Customer_Tier__c", "RFM_Score__c"):
        assert ("Account", name) in required
    assert required[("Lead", "Cart_Items__c")].kind == "longtext"
    assert {event.name for event in REQUIRED_EVENTS} == {
        "BigCommerce_Order_Created__e",
        "BigCommerce_Order_Updated__e",
        "BigCommerce_Order_Shipped__e",
        "BigCommerce_Cart_Abandoned__e",
    }


def test_every_required_field_is_in_the_metadata_with_a_compatible_type():
    problems = [problem for spec in REQUIRED_FIELDS for problem in _field_check(spec)]
    assert problems == []


@pytest.mark.parametrize("event", REQUIRED_EVENTS, ids=lambda event: event.name)
def test_every_platform_event_is_in_the_metadata(event):
    folder = DEFAULT / "objects" / event.name
    root = _xml(folder / f"{event.name}.object-meta.xml")
    assert _text(root, "publishBehavior") == "PublishAfterCommit"
    assert _text(root, "eventType") == "HighVolume"
    assert _text(root, "deploymentStatus") == "Deployed"
    assert _text(root, "label")
    assert _text(root, "pluralLabel")
    problems = [problem for spec in event.fields for problem in _field_check(spec)]
    assert problems == []
    # Salesforce refuses Currency (and other types) on platform events.
    for path in (folder / "fields").glob("*.field-meta.xml"):
        assert _text(_xml(path), "type") in {"Text", "Number", "Date", "DateTime", "Checkbox", "LongTextArea"}


def test_the_metadata_holds_nothing_unlisted():
    """Every shipped field file is a required one, so the list and the metadata cannot drift apart."""
    listed = {_field_path(spec) for spec in REQUIRED_FIELDS}
    listed |= {_field_path(spec) for event in REQUIRED_EVENTS for spec in event.fields}
    shipped = set(DEFAULT.glob("objects/*/fields/*.field-meta.xml"))
    assert shipped == listed
    for path in shipped:
        assert _text(_xml(path), "fullName") == path.name.removesuffix(".field-meta.xml")


def test_the_permission_set_grants_every_field_and_event():
    root = _xml(DEFAULT / "permissionsets" / "B2S_Integration.permissionset-meta.xml")
    assert _text(root, "label")
    fields = {
        _text(entry, "field"): (_text(entry, "readable"), _text(entry, "editable"))
        for entry in root.findall("md:fieldPermissions", NS)
    }
    for spec in REQUIRED_FIELDS:
        assert fields.get(f"{spec.sobject}.{spec.name}") == ("true", "true"), spec.label
    objects = {
        _text(entry, "object"): {
            name: _text(entry, name) for name in ("allowCreate", "allowEdit", "allowRead", "allowDelete")
        }
        for entry in root.findall("md:objectPermissions", NS)
    }
    for name in ("Account", "Contact", "Lead", "Opportunity", "Order", "Product2"):
        assert objects[name]["allowCreate"] == objects[name]["allowEdit"] == objects[name]["allowRead"] == "true"
        assert objects[name]["allowDelete"] == "false"
    for event in REQUIRED_EVENTS:
        assert objects[event.name]["allowCreate"] == objects[event.name]["allowRead"] == "true", event.name
    user_permissions = {
        _text(entry, "name") for entry in root.findall("md:userPermissions", NS) if _text(entry, "enabled") == "true"
    }
    required = {spec.name for spec in REQUIRED_USER_PERMISSIONS}
    assert required - user_permissions == set()
    # Later events of an activated order edit it; /limits needs View Setup and Configuration.
    assert {"ApiEnabled", "ActivateOrder", "EditActivatedOrders", "ViewSetup"} <= required


def test_every_order_event_carries_an_event_key():
    """Subscribers drop repeated order events by EventKey__c: the list, the metadata and the stand-in have it."""
    schema = schema_build("full")
    order_events = [event for event in REQUIRED_EVENTS if event.name.startswith("BigCommerce_Order_")]
    assert len(order_events) == 3
    for event in order_events:
        [spec] = [spec for spec in event.fields if spec.name == "EventKey__c"]
        assert spec.kind == "text" and spec.length >= 64
        assert _field_check(spec) == []
        assert schema.get(event.name).field("EventKey__c") is not None


def test_the_sandbox_full_schema_agrees_with_the_requirements():
    """The stand-in's 'full' org (built independently from the brief) has every required field, typed alike."""
    schema = schema_build("full")
    problems = []
    specs = [*REQUIRED_FIELDS, *(spec for event in REQUIRED_EVENTS for spec in event.fields)]
    for spec in specs:
        sobject = schema.get(spec.sobject)
        field = sobject.field(spec.name) if sobject else None
        if field is None:
            problems.append(f"{spec.label} missing")
        elif field.type not in KIND_DESCRIBE_TYPES[spec.kind]:
            problems.append(f"{spec.label} is {field.type}")
        elif spec.external_id and not field.externalId:
            problems.append(f"{spec.label} is not an external id")
    assert problems == []
