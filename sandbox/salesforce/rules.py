"""The production-org rules the stand-in enforces, each on by default and switchable one by one.

A real org is stricter than a friendly stand-in (``../shared/reference/salesforce.md``, "Where a
real org is stricter"). Every such rule is named here once; ``SalesforceSandbox.rules`` holds the
switches (all on after ``reset()``), the control API reads and sets them (``GET/POST
/__sandbox__/rules``), and a test that needs one off says so with ``app.rules_set(name=False)``.
"""

from __future__ import annotations

from collections.abc import Mapping

RULES: dict[str, str] = {
    "collate_subrequests": "composite subrequests without references run out of order unless collateSubrequests is false",
    "duplicate_rules": "standard duplicate rules for Account, Contact and Lead answer DUPLICATES_DETECTED unless allowSave",
    "permission_sets": "the integration user can only do what its assigned permission sets grant (ActivateOrder, EditActivatedOrders, ConvertLeads)",
    "activated_orders": "no deletion of an activated order's products; AccountId changes only while Draft",
    "order_contacts": "an Order's BillToContactId and ShipToContactId must be Contacts of the Order's Account",
    "enhanced_commerce_orders": "with Enhanced Commerce Orders, Quantity and UnitPrice are locked after activation",
    "external_id_extension": "an external id value in a URL whose last segment looks like a file extension answers 404",
    "lead_conversion": "a Lead converts only through convertLead; a converted status by plain update is refused",
    "jwt_audience": "a JWT assertion's aud must be login.salesforce.com, test.salesforce.com or a site URL",
    "field_lengths": "standard text fields have their real lengths (STRING_TOO_LONG beyond them)",
}


def rules_default() -> dict[str, bool]:
    """Every rule on: the stand-in is at least as strict as a production org."""
    return dict.fromkeys(RULES, True)


def rules_update(rules: dict[str, bool], changes: Mapping[str, object]) -> dict[str, bool]:
    """Apply ``{name: bool}`` switches; an unknown name is refused (ValueError) and nothing changes."""
    unknown = sorted(set(changes) - set(RULES))
    if unknown:
        raise ValueError(f"unknown rule(s) {unknown}; known: {sorted(RULES)}")
    for name, value in changes.items():
        if not isinstance(value, bool):
            raise ValueError(f"rule {name} takes true or false, not {value!r}")
    rules.update(changes)  # type: ignore[arg-type]
    return rules
