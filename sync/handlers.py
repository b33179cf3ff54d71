"""The dispatch table ``{scope: handler}`` that processing uses.

A handler takes the stored :class:`~sync.models.WebhookEvent` and returns a
:class:`HandlerResult`; it raises :class:`SkipEvent` when there is nothing to do and
any other exception when the sync failed (classified transient or permanent by the
processing service). Modules register their handlers at import::

    @handler_register("store/customer/created", "store/customer/updated")
    def customer_event_handle(event: WebhookEvent) -> HandlerResult: ...

``handlers_load()`` imports the modules that hold handlers (``HANDLER_MODULES`` plus the
``handlers`` module of every installed app), so the table is complete in the web
process (which needs it to tell handled scopes from ignored ones) and in workers.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.utils.module_loading import autodiscover_modules

if TYPE_CHECKING:
    from sync.models import Store, WebhookEvent


@dataclass
class HandlerResult:
    """What one sync did, for the event row and the audit log."""

    operation: str
    bigcommerce_id: str
    salesforce_ids: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


# The services called by handlers (customer_sync, order_sync, ...) return the same shape.
SyncResult = HandlerResult


class SkipEvent(Exception):
    """Nothing to do for this event (e.g. the cart is gone); the event ends ``skipped``."""


class EventRefused(Exception):
    """A handler's own verdict that the event cannot succeed as things stand (e.g. a write-back conflict
    flagged for review): permanent, shown with ``code``, logged without a traceback. Replay retries it."""

    code = "REFUSED"


Handler = Callable[["WebhookEvent"], HandlerResult]
HANDLERS: dict[str, Handler] = {}
# BigCommerce's webhook scopes. The inbox also holds events b2s makes itself (``b2s/...``: Order changes the
# Salesforce poll read): never registered as hooks, never accepted from a delivery.
BIGCOMMERCE_SCOPE_PREFIX = "store/"

# A batch handler takes claimed events of one store (all of scopes it registered) and answers, per event
# id, the result or the exception its single handler would have raised; an event it leaves out is run by
# its single handler. Order events use one: a burst shares its BigCommerce and Salesforce requests.
BatchOutcome = HandlerResult | Exception
BatchHandler = Callable[["Store", list["WebhookEvent"]], dict[int, BatchOutcome]]
BATCH_HANDLERS: dict[str, BatchHandler] = {}

# Modules of this app whose import registers handlers; every installed app's ``handlers`` module is
# imported too (the order feature's ``orders.handlers``, ``recovery.handlers``). Each must import: a
# missing or broken one raises, so a handler is never silently absent.
HANDLER_MODULES: tuple[str, ...] = ("sync.customers",)

_loaded = False
_load_lock = threading.Lock()


def handler_register(*scopes: str) -> Callable[[Handler], Handler]:
    """Decorator: ``handler`` processes events of each of ``scopes``."""

    def decorate(handler: Handler) -> Handler:
        for scope in scopes:
            existing = HANDLERS.get(scope)
            if existing is not None and existing is not handler and _qualname(existing) != _qualname(handler):
                raise ValueError(f"Scope {scope!r} already has a handler ({_qualname(existing)}).")
            HANDLERS[scope] = handler
        return handler

    return decorate


def batch_handler_register(*scopes: str) -> Callable[[BatchHandler], BatchHandler]:
    """Decorator: ``handler`` processes claimed events of ``scopes`` together (see ``BatchHandler``)."""

    def decorate(handler: BatchHandler) -> BatchHandler:
        for scope in scopes:
            BATCH_HANDLERS[scope] = handler
        return handler

    return decorate


def batch_handler_for(scope: str) -> BatchHandler | None:
    """The batch handler for ``scope``, or None when its events run one by one."""
    handlers_load()
    return BATCH_HANDLERS.get(scope)


def _qualname(function: Callable[..., Any]) -> str:
    return f"{function.__module__}.{function.__qualname__}"


def handlers_load() -> dict[str, Handler]:
    """Import every handler module once; returns the complete table."""
    global _loaded
    if _loaded:
        return HANDLERS
    with _load_lock:
        if not _loaded:
            for name in HANDLER_MODULES:
                importlib.import_module(name)
            autodiscover_modules("handlers")
            _loaded = True
    return HANDLERS


def handler_for(scope: str) -> Handler | None:
    """The handler for ``scope``, or None when b2s does not handle it."""
    return handlers_load().get(scope)


OPERATION_BY_PREFIX: tuple[tuple[str, str], ...] = (
    ("store/order/refund/", "REFUND_SYNC"),
    ("store/order/", "ORDER_SYNC"),
    ("store/shipment/", "SHIPMENT_SYNC"),
    ("store/product/", "PRODUCT_SYNC"),
    ("store/sku/", "PRODUCT_SYNC"),
    ("store/customer/", "CUSTOMER_SYNC"),
    ("store/cart/converted", "CART_CONVERSION"),
    ("store/cart/", "CART_SYNC"),
    ("b2s/salesforce/order/", "ORDER_WRITEBACK"),
)


def scope_operation(scope: str) -> str:
    """The audit operation for an event of ``scope`` (used when a handler failed before returning)."""
    for prefix, operation in OPERATION_BY_PREFIX:
        if scope.startswith(prefix):
            return operation
    parts = scope.split("/")
    # Bounded by the audit column (40): an odd scope must not make the failure's own audit entry fail.
    return f"{parts[1].upper()[:35]}_SYNC" if len(parts) > 1 else "SYNC"
