"""Links out of the admin: a Salesforce record in Lightning Experience, a BigCommerce resource in its control panel.

Pure: the org's URL and the store's hash come in as arguments (``sync.admin_display`` finds them).

* Lightning: ``https://<domain>.lightning.force.com/lightning/r/<Object>/<Id>/view``, where the org's My
  Domain is ``https://<domain>.my.salesforce.com`` (sandboxes ``<org>--<name>.sandbox.my.salesforce.com``,
  scratch orgs ``<name>.scratch.my.salesforce.com``, Developer Edition ``<name>.develop.my.salesforce.com``:
  the same suffix swap). The record page URL names the object, taken from the Id's key prefix; an Id of
  another object, or an org URL that is no My Domain, links to ``<org URL>/<Id>``, the classic record
  address that Salesforce redirects to the record's page.
* BigCommerce control panel: ``https://store-<hash>.mybigcommerce.com/manage/orders/<id>``,
  ``/manage/customers/<id>/edit``, ``/manage/products/edit/<id>``. Carts have no page of their own there.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

MY_DOMAIN_SUFFIX = ".my.salesforce.com"
LIGHTNING_SUFFIX = ".lightning.force.com"
# The first three characters of an Id name its object (the key prefix); those b2s writes or reads.
SALESFORCE_KEY_PREFIXES = {
    "001": "Account",
    "003": "Contact",
    "005": "User",
    "006": "Opportunity",
    "00Q": "Lead",
    "00T": "Task",
    "00U": "Event",
    "01s": "Pricebook2",
    "01t": "Product2",
    "01u": "PricebookEntry",
    "500": "Case",
    "801": "Order",
    "802": "OrderItem",
}
_SALESFORCE_ID = re.compile(r"[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?")
_STORE_HASH = re.compile(r"[a-z0-9]{1,63}")
_NUMERIC_ID = re.compile(r"[0-9]{1,20}")
BIGCOMMERCE_PATHS = {
    "order": "/manage/orders/{id}",
    "customer": "/manage/customers/{id}/edit",
    "product": "/manage/products/edit/{id}",
}


def salesforce_lightning_origin(org_url: str) -> str:
    """The Lightning Experience origin of an org's My Domain URL, or "" when ``org_url`` is no My Domain."""
    parts = urlsplit(org_url.strip())
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not host.endswith(MY_DOMAIN_SUFFIX) or host == MY_DOMAIN_SUFFIX[1:]:
        return ""
    return f"https://{host[: -len(MY_DOMAIN_SUFFIX)]}{LIGHTNING_SUFFIX}"


def salesforce_object_of(record_id: str) -> str:
    """The object an Id belongs to, from its key prefix ("" when b2s does not know the prefix)."""
    return SALESFORCE_KEY_PREFIXES.get(record_id[:3], "")


def salesforce_record_url(*, org_url: str, record_id: str) -> str:
    """Where a person opens the record in a browser, or "" when the Id or the org URL is unusable."""
    record_id = record_id.strip()
    org = org_url.strip().rstrip("/")
    if not _SALESFORCE_ID.fullmatch(record_id) or urlsplit(org).scheme not in ("https", "http"):
        return ""
    lightning = salesforce_lightning_origin(org)
    sobject = salesforce_object_of(record_id)
    if lightning and sobject:
        return f"{lightning}/lightning/r/{sobject}/{record_id}/view"
    return f"{org}/{record_id}"


def bigcommerce_control_panel_url(*, store_hash: str, kind: str, resource_id: str | int) -> str:
    """The store's control-panel page of an order, a customer or a product; "" for anything else."""
    path = BIGCOMMERCE_PATHS.get(kind)
    resource = str(resource_id).strip()
    if path is None or not _STORE_HASH.fullmatch(store_hash) or not _NUMERIC_ID.fullmatch(resource):
        return ""
    return f"https://store-{store_hash}.mybigcommerce.com{path.format(id=resource)}"
