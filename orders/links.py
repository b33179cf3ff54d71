"""Connected records: which Contact and which Opportunity an Order points at (``BillToContactId``,
``ShipToContactId``, ``OpportunityId``), decided without a Salesforce request.

* The Contact is the order's customer's, the one its own graph (or batch) upserts: a reference to
  it, never a looked-up id. A Person Account has no separate Contact and a customer without a name
  or email gets none, so those orders carry no contact links. A Contact that stays under another
  customer's Account (``CustomerMatch.keep_contact_account``) is not linked either: an Order's
  contacts are taken to belong to its Account (the stand-in enforces this, ``order_contacts``).
* Ship-to is the same Contact only when every shipping address names the billing person (same
  first and last name, and the same email where the address has one): b2s creates no Contact for a
  gift recipient, so anyone else leaves ``ShipToContactId`` empty (the address fields say where).
* The Opportunity is the one cart recovery made of the order's cart (the v2 order's ``cart_id``).
  Recovery sits above orders, so it lends its lookup (a local read of its Cart rows) at start-up
  (``cart_opportunities_provide``, from ``RecoveryConfig.ready``), as audit receives sync's outcomes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sync.models import Store

CartOpportunities = Callable[["Store", Collection[str]], dict[str, str]]
_providers: list[CartOpportunities] = []


def cart_opportunities_provide(provider: CartOpportunities) -> CartOpportunities:
    """Register ``provider(store, cart ids) → {cart id: Opportunity Id}`` (idempotent)."""
    if provider not in _providers:
        _providers.append(provider)
    return provider


def cart_opportunities(*, store: Store, cart_ids: Iterable[str]) -> dict[str, str]:
    """The Opportunity Id of each cart that has one (no request: the providers read local rows)."""
    wanted = sorted({str(cart_id) for cart_id in cart_ids if cart_id})
    found: dict[str, str] = {}
    if not wanted:
        return found
    for provider in _providers:
        found.update({key: value for key, value in provider(store, wanted).items() if value})
    return found


def _person(first: Any, last: Any) -> tuple[str, str]:
    return (str(first or "").strip().casefold(), str(last or "").strip().casefold())


def ship_to_is_billing_person(billing: dict[str, Any], shipping_addresses: list[dict[str, Any]]) -> bool:
    """Whether the order ships to its billing person only (so the billing Contact is the ship-to Contact).

    No shipping address (a digital or pickup-less order) says nothing about a recipient: False.
    """
    name = _person(billing.get("first_name"), billing.get("last_name"))
    email = str(billing.get("email") or "").strip().casefold()
    if not shipping_addresses or not any(name):
        return False
    for address in shipping_addresses:
        if _person(address.get("first_name"), address.get("last_name")) != name:
            return False
        other = str(address.get("email") or "").strip().casefold()
        if other and email and other != email:
            return False
    return True
