"""``BigCommerceSandbox``: the BigCommerce stand-in as a thread-safe WSGI application.

Three faces over one in-memory store:
- the REST API under ``/stores/{hash}/v2`` and ``/v3`` (what the product calls),
- the control API under ``/__sandbox__/`` (tests, demos, other processes),
- the same controls as Python methods (``order_create``, ``cart_convert``, ``deliveries_wait``, ...).
Every mutation fires the webhooks BigCommerce would fire, delivered in the background.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypedDict
from urllib.parse import urlsplit

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from sandbox.bigcommerce import generator, ops, render
from sandbox.bigcommerce.limits import Faults, Quota, RateLimiter
from sandbox.bigcommerce.store import (
    ORDER_STATUSES,
    ZERO,
    Cart,
    Coupon,
    Customer,
    Hook,
    Order,
    Product,
    ProductVariant,
    Shipment,
    StoreData,
    date_parse,
    money,
    order_totals,
)
from sandbox.bigcommerce.webhooks import (
    REORDER_MODES,
    DeliverySettings,
    Dispatcher,
    Event,
    HookTarget,
    payload_hash,
    scope_matches,
)

logger = logging.getLogger("sandbox.bigcommerce")

ERROR_TYPE = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"
HOOK_ERROR_TYPE = "/api-docs/getting-started/api-status-codes"
V2_MESSAGES = {
    400: "The request was invalid.",
    501: "The sandbox does not emulate this request.",
    401: "You are not authorized to access this resource. Check the X-Auth-Token header.",
    404: "The requested resource was not found.",
    405: "The requested method is not supported by this resource.",
    429: "Too many requests have been made in the current rate-limit window.",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
V3_TITLES = {
    401: "Unauthorized - the v3 Auth client ID or token in the request are not a valid combination for this store.",
    404: "The requested resource was not found.",
    405: "Method Not Allowed",
    429: "Too many requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
V2_SORT_FIELDS = ("id", "customer_id", "date_created", "date_modified", "status_id", "channel_id", "external_id")
ORDER_UPDATE_FIELDS = {
    "status_id",
    "products",
    "billing_address",
    "shipping_address",
    "email",
    "customer_id",
    "customer_message",
    "staff_notes",
    "payment_method",
    "payment_provider_id",
    "shipping_cost_ex_tax",
    "handling_cost_ex_tax",
    "discount_amount",
    "coupon_code",
    "coupon_discount",
    "external_order_id",
    "is_email_opt_in",
    "channel_id",
    "cart_id",
    "date_modified",
    "customer_locale",
    "ip_address",
    "external_source",
}
# PUT /v2/orders/{id} (``order_Put`` in orders.v2.oas2.yml). Emulated: these change the order.
ORDER_PUT_FIELDS = {
    "status_id",
    "staff_notes",
    "customer_message",
    "external_order_id",
    "external_source",
    "payment_method",
    "payment_provider_id",
    "billing_address",
    "customer_id",
    "channel_id",
    "customer_locale",
    "ip_address",
    "discount_amount",
    "shipping_cost_ex_tax",
    "handling_cost_ex_tax",
}
# Writable in ``order_Put`` but not emulated (lines, fees, consignments, overrides of derived totals):
# answered 501, so a client relying on them fails loudly instead of silently changing nothing.
ORDER_PUT_NOT_EMULATED = {
    "products",
    "fees",
    "consignments",
    "shipping_addresses",
    "base_handling_cost",
    "base_shipping_cost",
    "base_wrapping_cost",
    "handling_cost_inc_tax",
    "shipping_cost_inc_tax",
    "wrapping_cost_ex_tax",
    "wrapping_cost_inc_tax",
    "subtotal_ex_tax",
    "subtotal_inc_tax",
    "total_ex_tax",
    "total_inc_tax",
    "date_created",
    "order_source",
    "ebay_order_id",
    "external_merchant_id",
    "geoip_country",
    "geoip_country_iso2",
    "ip_address_v6",
    "items_shipped",
    "items_total",
    "order_is_digital",
    "refunded_amount",
}
ORDER_PUT_MONEY_FIELDS = ("discount_amount", "shipping_cost_ex_tax", "handling_cost_ex_tax")
ORDER_PUT_TEXT_LIMITS = {
    "staff_notes": 65535,
    "customer_message": 65535,
    "external_order_id": 255,
    "external_source": 255,
    "payment_method": 100,
    "customer_locale": 10,
    "ip_address": 30,
}
BILLING_ADDRESS_FIELDS = {
    "first_name",
    "last_name",
    "company",
    "street_1",
    "street_2",
    "city",
    "state",
    "zip",
    "country",
    "country_iso2",
    "phone",
    "email",
}
# POST /v2/orders/{id}/shipments (``orderShipment_Post``); ``product_id`` of an item is read-only.
SHIPMENT_POST_FIELDS = {
    "order_address_id",
    "tracking_number",
    "tracking_link",
    "merchant_shipping_cost",
    "shipping_method",
    "shipping_provider",
    "tracking_carrier",
    "comments",
    "items",
}
SHIPMENT_TEXT_LIMITS = {
    "tracking_number": 50,
    "tracking_link": 500,
    "shipping_method": 250,
    "shipping_provider": 100,
    "tracking_carrier": 100,
    "comments": 65535,
}
CART_UPDATE_FIELDS = {
    "items",
    "email",
    "customer_id",
    "discount_amount",
    "coupon_code",
    "coupon_discount",
    "updated_time",
}
CART_ITEM_UPDATE_FIELDS = {"id", "quantity", "list_price", "sale_price"}
PRODUCT_UPDATE_FIELDS = {
    "name",
    "price",
    "description",
    "is_visible",
    "sku",
    "sale_price",
    "retail_price",
    "cost_price",
    "weight",
    "inventory_level",
}
VARIANT_UPDATE_FIELDS = {"price", "sku", "purchasing_disabled"}
# What ``catalog_churn`` does, by weight.
CHURN_WEIGHTS = {
    "rename": 20,
    "price": 20,
    "sku": 5,
    "variant_price": 10,
    "variant_add": 10,
    "variant_remove": 8,
    "hide": 10,
    "delete": 3,
    "create": 8,
}
CHURN_MIN_SELLABLE = 10
CUSTOMER_UPDATE_FIELDS = {
    "email",
    "first_name",
    "last_name",
    "company",
    "phone",
    "customer_group_id",
    "notes",
    "accepts_product_review_abandoned_cart_emails",
    "addresses",
}

API_RULES = Map(
    [
        Rule("/v2/orders", endpoint="orders_list", methods=["GET"]),
        Rule("/v2/orders/count", endpoint="orders_count", methods=["GET"]),
        Rule("/v2/orders/<int:order_id>", endpoint="order_get", methods=["GET"]),
        Rule("/v2/orders/<int:order_id>", endpoint="order_put", methods=["PUT"]),
        Rule("/v2/orders/<int:order_id>/products", endpoint="order_products", methods=["GET"]),
        Rule("/v2/orders/<int:order_id>/products/<int:line_id>", endpoint="order_product", methods=["GET"]),
        Rule("/v2/orders/<int:order_id>/shipping_addresses", endpoint="order_shipping", methods=["GET"]),
        Rule("/v2/orders/<int:order_id>/shippingaddresses", endpoint="order_shipping", methods=["GET"]),
        Rule("/v2/orders/<int:order_id>/shipments", endpoint="order_shipments", methods=["GET"]),
        Rule("/v2/orders/<int:order_id>/shipments", endpoint="order_shipment_post", methods=["POST"]),
        Rule("/v2/orders/<int:order_id>/shipments/<int:shipment_id>", endpoint="order_shipment", methods=["GET"]),
        Rule("/v2/orders/<int:order_id>/consignments", endpoint="order_consignments", methods=["GET"]),
        Rule("/v2/orders/<int:order_id>/coupons", endpoint="order_coupons", methods=["GET"]),
        Rule("/v2/order_statuses", endpoint="order_statuses", methods=["GET"]),
        Rule("/v2/currencies", endpoint="currencies", methods=["GET"]),
        Rule("/v3/carts/<cart_id>", endpoint="cart_get", methods=["GET"]),
        Rule("/v3/catalog/products", endpoint="products_list", methods=["GET"]),
        Rule("/v3/catalog/products/<int:product_id>", endpoint="product_get", methods=["GET"]),
        Rule("/v3/catalog/products/<int:product_id>/variants", endpoint="product_variants", methods=["GET"]),
        Rule(
            "/v3/catalog/products/<int:product_id>/variants/<int:variant_id>",
            endpoint="product_variant",
            methods=["GET"],
        ),
        Rule("/v3/catalog/variants", endpoint="variants_list", methods=["GET"]),
        Rule("/v3/customers", endpoint="customers_list", methods=["GET"]),
        Rule("/v3/orders/<int:order_id>/payment_actions/refunds", endpoint="order_refunds", methods=["GET"]),
        Rule("/v3/orders/payment_actions/refunds", endpoint="refunds_list", methods=["GET"]),
        Rule("/v3/orders/payment_actions/refunds/<int:refund_id>", endpoint="refund_get", methods=["GET"]),
        Rule("/v3/hooks", endpoint="hooks_list", methods=["GET"]),
        Rule("/v3/hooks", endpoint="hook_create", methods=["POST"]),
        Rule("/v3/hooks/<int:hook_id>", endpoint="hook_get", methods=["GET"]),
        Rule("/v3/hooks/<int:hook_id>", endpoint="hook_update", methods=["PUT"]),
        Rule("/v3/hooks/<int:hook_id>", endpoint="hook_delete", methods=["DELETE"]),
    ],
    strict_slashes=False,
    merge_slashes=False,
)

CONTROL_RULES = Map(
    [
        Rule("/__sandbox__/state", endpoint="state", methods=["GET"]),
        Rule("/__sandbox__/reset", endpoint="reset", methods=["POST"]),
        Rule("/__sandbox__/generate", endpoint="generate", methods=["POST"]),
        Rule("/__sandbox__/config", endpoint="config_get", methods=["GET"]),
        Rule("/__sandbox__/config", endpoint="config_set", methods=["POST"]),
        Rule("/__sandbox__/faults", endpoint="faults_get", methods=["GET"]),
        Rule("/__sandbox__/faults", endpoint="faults_add", methods=["POST"]),
        Rule("/__sandbox__/faults", endpoint="faults_clear", methods=["DELETE"]),
        Rule("/__sandbox__/calls", endpoint="calls", methods=["GET"]),
        Rule("/__sandbox__/events", endpoint="events", methods=["GET"]),
        Rule("/__sandbox__/deliveries", endpoint="deliveries", methods=["GET"]),
        Rule("/__sandbox__/deliveries/wait", endpoint="deliveries_wait", methods=["POST"]),
        Rule("/__sandbox__/deliveries/release", endpoint="deliveries_release", methods=["POST"]),
        Rule("/__sandbox__/orders", endpoint="order_create", methods=["POST"]),
        Rule("/__sandbox__/orders/<int:order_id>", endpoint="order_update", methods=["POST"]),
        Rule("/__sandbox__/orders/<int:order_id>/status", endpoint="order_status_set", methods=["POST"]),
        Rule("/__sandbox__/orders/<int:order_id>/archive", endpoint="order_archive", methods=["POST"]),
        Rule("/__sandbox__/orders/<int:order_id>/shipments", endpoint="shipment_create", methods=["POST"]),
        Rule("/__sandbox__/orders/<int:order_id>/refunds", endpoint="refund_create", methods=["POST"]),
        Rule("/__sandbox__/customers", endpoint="customer_create", methods=["POST"]),
        Rule("/__sandbox__/customers/<int:customer_id>", endpoint="customer_update", methods=["POST"]),
        Rule("/__sandbox__/carts", endpoint="cart_create", methods=["POST"]),
        Rule("/__sandbox__/carts/<cart_id>", endpoint="cart_update", methods=["POST"]),
        Rule("/__sandbox__/carts/<cart_id>/abandon", endpoint="cart_abandon", methods=["POST"]),
        Rule("/__sandbox__/carts/<cart_id>/convert", endpoint="cart_convert", methods=["POST"]),
        Rule("/__sandbox__/hooks/<int:hook_id>", endpoint="hook_signing_set", methods=["POST"]),
        Rule("/__sandbox__/products", endpoint="product_create", methods=["POST"]),
        Rule("/__sandbox__/products/<int:product_id>", endpoint="product_update", methods=["POST"]),
        Rule("/__sandbox__/products/<int:product_id>", endpoint="product_delete", methods=["DELETE"]),
        Rule("/__sandbox__/products/<int:product_id>/variants", endpoint="variant_create", methods=["POST"]),
        Rule(
            "/__sandbox__/products/<int:product_id>/variants/<int:variant_id>",
            endpoint="variant_update",
            methods=["POST"],
        ),
        Rule(
            "/__sandbox__/products/<int:product_id>/variants/<int:variant_id>",
            endpoint="variant_delete",
            methods=["DELETE"],
        ),
        Rule("/__sandbox__/catalog/churn", endpoint="catalog_churn", methods=["POST"]),
    ],
    strict_slashes=False,
)

# sort= of GET /v3/catalog/products (the documented values), with the product's id breaking ties.
PRODUCT_SORTS: dict[str, Callable[[Product], Any]] = {
    "id": lambda p: p.id,
    "name": lambda p: p.name.lower(),
    "sku": lambda p: p.sku.lower(),
    "price": lambda p: p.price,
    "date_modified": lambda p: p.date_modified,
    "date_last_imported": lambda p: p.date_modified,
    "inventory_level": lambda p: p.inventory_level,
    "is_visible": lambda p: p.is_visible,
    "total_sold": lambda p: 0,
}


def _within(value: Any, low: Any, high: Any) -> bool:
    """Whether ``value`` lies inside the filter's bounds; an empty bound does not limit."""
    return not (low and value < low) and not (high and value > high)


class ApiError(Exception):
    """An answer in the API's error format for its version (v2 array, v3 object)."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        *,
        errors: dict[str, str] | None = None,
        details: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.details = details


class ControlError(Exception):
    """A control-API failure (unknown record: 404; invalid spec: 400)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Dropped(ConnectionAbortedError):
    """Raised to make the server drop the connection (Werkzeug treats it as a client disconnect)."""


class _InitialStore(TypedDict):
    """What the sandbox was built with; ``reset`` rebuilds the store from it."""

    seed: int | None
    customers: int
    orders: int
    carts: int
    base_date: datetime


@dataclasses.dataclass
class Settings:
    """The run-time knobs of a sandbox (``configure`` changes them; ``reset`` restores the initial ones)."""

    access_token: str = "sandbox-token"
    rate_limit_quota: int = 150
    rate_limit_window_ms: int = 30_000
    strict_destinations: bool = False
    fault_seed: int = 0
    delivery: DeliverySettings = dataclasses.field(default_factory=DeliverySettings)


DELIVERY_KEYS = {
    "retry_factor": "retry_factor",
    "duplicate_probability": "duplicate_probability",
    "reorder": "reorder",
    "reorder_window": "reorder_window",
    "reorder_hold_ms": "reorder_hold_ms",
    "verify_tls": "verify_tls",
    "delivery_timeout": "timeout",
    "sign_standard": "sign_standard",
    "legacy_secret": "legacy_secret",
    "client_secret": "client_secret",
    "delivery_seed": "seed",
    "delivery_workers": "workers",
}


class BigCommerceSandbox:
    """The BigCommerce stand-in (a WSGI app). See ``sandbox/README.md`` for the contract."""

    def __init__(
        self,
        *,
        store_hash: str = "sandbox",
        store_id: str = "1000001",
        client_id: str = "sandbox-client-id",
        seed: int | None = None,
        customers: int = 0,
        orders: int = 0,
        carts: int = 0,
        base_date: datetime = generator.DEFAULT_BASE_DATE,
        clock: Callable[[], datetime] | None = None,
        **settings: Any,
    ) -> None:
        self.store_hash = store_hash
        self.store_id = str(store_id)
        self.client_id = client_id
        self._clock = clock or (lambda: datetime.now(UTC))
        self._initial: _InitialStore = {
            "seed": seed,
            "customers": customers,
            "orders": orders,
            "carts": carts,
            "base_date": base_date,
        }
        self._defaults = self._settings_apply(Settings(), settings)
        self.settings = dataclasses.replace(self._defaults, delivery=dataclasses.replace(self._defaults.delivery))
        self._lock = threading.RLock()
        self._limiter = RateLimiter(quota=self.settings.rate_limit_quota, window_ms=self.settings.rate_limit_window_ms)
        self._faults = Faults(seed=self.settings.fault_seed)
        self._calls: list[dict[str, Any]] = []
        self._events: list[dict[str, Any]] = []
        self._event_seq = 0
        self._api_base_seen: str | None = None
        self._dispatcher = Dispatcher(
            settings=dataclasses.replace(self.settings.delivery),
            hook_lookup=self._hook_target,
            hook_deactivate=self._hook_deactivate,
        )
        self._data = self._data_initial()
        self._rng = random.Random((seed or 0) + 7919)
        self._churn_rng = random.Random((seed or 0) + 104729)

    # ================================================================ lifecycle and settings
    def _data_initial(self) -> StoreData:
        initial = self._initial
        if initial["seed"] is None and not (initial["customers"] or initial["orders"] or initial["carts"]):
            data = StoreData()
            data.catalog = generator.catalog_build(random.Random(0), data)
            return data
        return generator.generate(
            initial["seed"] or 0,
            initial["customers"],
            initial["orders"],
            initial["carts"],
            base_date=initial["base_date"],
        )

    @staticmethod
    def _settings_apply(current: Settings, changes: dict[str, Any]) -> Settings:
        settings = dataclasses.replace(current, delivery=dataclasses.replace(current.delivery))
        for key, value in changes.items():
            if key in DELIVERY_KEYS:
                setattr(settings.delivery, DELIVERY_KEYS[key], value)
            elif key in {f.name for f in dataclasses.fields(Settings)} and key != "delivery":
                setattr(settings, key, value)
            else:
                raise ValueError(f"unknown setting {key!r}")
        delivery = settings.delivery
        if delivery.reorder not in REORDER_MODES:
            raise ValueError(f"reorder must be one of {REORDER_MODES}")
        if not 0 <= float(delivery.duplicate_probability) <= 1:
            raise ValueError("duplicate_probability must be within 0 and 1")
        if float(delivery.retry_factor) <= 0:
            raise ValueError("retry_factor must be positive")
        if int(settings.rate_limit_quota) < 1 or int(settings.rate_limit_window_ms) < 1:
            raise ValueError("the rate limit's quota and window must be positive")
        return settings

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change settings at run time: rate_limit_quota, rate_limit_window_ms, access_token,
        strict_destinations, fault_seed, retry_factor, duplicate_probability, reorder ("shuffle" |
        "reverse" | None), reorder_window, reorder_hold_ms, verify_tls, delivery_timeout, sign_standard,
        legacy_secret, client_secret, delivery_seed, delivery_workers. ``reset`` restores the initial ones.
        """
        with self._lock:
            self.settings = self._settings_apply(self.settings, changes)
            if {"rate_limit_quota", "rate_limit_window_ms"} & changes.keys():
                self._limiter.configure(
                    quota=int(self.settings.rate_limit_quota), window_ms=int(self.settings.rate_limit_window_ms)
                )
            self._dispatcher.settings = dataclasses.replace(self.settings.delivery)
            if "delivery_seed" in changes:
                self._dispatcher.reseed(int(self.settings.delivery.seed))
            if "fault_seed" in changes:
                self._faults.reseed(int(self.settings.fault_seed))
            return self.settings_view()

    def settings_view(self) -> dict[str, Any]:
        """The settings, with secrets masked."""
        delivery = dataclasses.asdict(self.settings.delivery)
        for secret in ("client_secret", "legacy_secret"):
            if delivery.get(secret):
                delivery[secret] = "***"
        return {
            "store_hash": self.store_hash,
            "store_id": self.store_id,
            "client_id": self.client_id,
            "access_token": "***",
            "rate_limit_quota": self.settings.rate_limit_quota,
            "rate_limit_window_ms": self.settings.rate_limit_window_ms,
            "strict_destinations": self.settings.strict_destinations,
            "fault_seed": self.settings.fault_seed,
            "delivery": delivery,
        }

    def reset(self) -> None:
        """Back to the initial state: store data, hooks, faults, calls, events, deliveries, quota, settings."""
        with self._lock:
            self.settings = dataclasses.replace(self._defaults, delivery=dataclasses.replace(self._defaults.delivery))
            self._data = self._data_initial()
            self._rng = random.Random((self._initial["seed"] or 0) + 7919)
            self._churn_rng = random.Random((self._initial["seed"] or 0) + 104729)
            self._calls.clear()
            self._events.clear()
            self._event_seq = 0
            self._limiter.configure(
                quota=int(self.settings.rate_limit_quota), window_ms=int(self.settings.rate_limit_window_ms)
            )
            self._faults.reset(seed=self.settings.fault_seed)
            delivery = dataclasses.replace(self.settings.delivery)
        # Outside the store lock: in-flight deliveries may need it to finish.
        self._dispatcher.reset(delivery)

    def generate(
        self, seed: int, customers: int, orders: int, carts: int, *, base_date: datetime | None = None
    ) -> dict[str, int]:
        """Replace the store's records with generated ones (hooks are kept; no webhook fires)."""
        data = generator.generate(seed, customers, orders, carts, base_date=base_date or generator.DEFAULT_BASE_DATE)
        with self._lock:
            data.hooks = self._data.hooks
            data.counters.hook = self._data.counters.hook
            self._data = data
            self._rng = random.Random(seed + 7919)
            return self._counts()

    def close(self) -> None:
        """Stop the delivery threads (a served sandbox is normally just left to the process' end)."""
        self._dispatcher.close()

    def _counts(self) -> dict[str, int]:
        return {
            "customers": len(self._data.customers),
            "orders": len(self._data.orders),
            "carts": len(self._data.carts),
            "refunds": len(self._data.refunds),
            "hooks": len(self._data.hooks),
            "products": len(self._data.catalog),
        }

    # ================================================================ read-only Python views
    def _api_base(self) -> str:
        return self._api_base_seen or f"https://api.bigcommerce.com/stores/{self.store_hash}"

    def state(self) -> dict[str, Any]:
        """Every store object as JSON (what ``GET /__sandbox__/state`` answers)."""
        with self._lock:
            base = self._api_base()
            data = self._data
            return {
                "store": {"hash": self.store_hash, "store_id": self.store_id, "client_id": self.client_id},
                "counts": self._counts(),
                "customers": [render.customer_v3(c, include=frozenset({"addresses"})) for c in data.customers.values()],
                "orders": [
                    {
                        "order": render.order_v2(order, base),
                        "lines": render.order_products_v2(order),
                        "shipping_addresses": render.shipping_addresses_v2(order, base),
                        "shipments": [render.shipment_v2(order, s) for s in order.shipments],
                        "coupons": render.coupons_v2(order),
                        "refunds": [render.refund_v3(r, single=True) for r in order.refunds],
                    }
                    for order in data.orders.values()
                ],
                "carts": [render.cart_v3(cart) for cart in data.carts.values()],
                "products": [render.product_v3(p, include=frozenset({"variants"})) for p in data.catalog],
                "deleted_products": sorted(data.deleted_products),
                "hooks": [self._hook_view(hook) for hook in data.hooks.values()],
                "faults": self._faults.listing(),
                "settings": self.settings_view(),
            }

    def calls(self) -> list[dict[str, Any]]:
        """Every API request received: method, path, query, status, whether it counted against the quota."""
        with self._lock:
            return [dict(call) for call in self._calls]

    def events(self) -> list[dict[str, Any]]:
        """Every webhook event fired (whether or not a hook listened)."""
        with self._lock:
            return [dict(event) for event in self._events]

    def deliveries(self) -> list[dict[str, Any]]:
        """Every delivery attempt: hook, scope, attempt number, HTTP status (None: no answer), payload."""
        return self._dispatcher.records()

    def deliveries_wait(self, timeout: float = 10.0) -> bool:
        """Block until every webhook delivery (retries included) is done; ``TimeoutError`` after ``timeout``."""
        return self._dispatcher.wait(timeout)

    def deliveries_release(self) -> None:
        """Send deliveries held back by the ``reorder`` knob now."""
        self._dispatcher.release()

    def order_get(self, order_id: int) -> dict[str, Any]:
        """The v2 order as ``GET /v2/orders/{id}`` answers it."""
        with self._lock:
            return render.order_v2(self._order(order_id), self._api_base())

    def fault_add(self, **spec: Any) -> dict[str, Any]:
        """Inject a fault; see ``limits.fault_parse`` for the spec."""
        return self._faults.add(spec).as_dict()

    def faults_clear(self) -> None:
        self._faults.reset(seed=self.settings.fault_seed)

    # ================================================================ mutations (Python API)
    def _now(self) -> datetime:
        return self._clock()

    def _unix(self) -> int:
        return int(self._clock().timestamp())

    def _order(self, order_id: int) -> Order:
        order = self._data.orders.get(int(order_id))
        if order is None:
            raise ControlError(404, f"no order {order_id}")
        return order

    def _customer(self, customer_id: int) -> Customer:
        customer = self._data.customers.get(int(customer_id))
        if customer is None:
            raise ControlError(404, f"no customer {customer_id}")
        return customer

    def _cart(self, cart_id: str) -> Cart:
        cart = self._data.carts.get(str(cart_id))
        if cart is None:
            raise ControlError(404, f"no cart {cart_id}")
        return cart

    def _fire(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        for scope, data in events:
            self._emit(scope, data)

    def order_create(self, spec: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        """Create an order from a spec (what it leaves out is generated); fires store/order/created.

        Returns the v2 order. Spec keys: see ``generator.order_from_spec``.
        """
        merged = {**(spec or {}), **fields}
        with self._lock:
            try:
                order = generator.order_from_spec(self._data, self._rng, merged, now=self._now())
            except (ValueError, TypeError, KeyError) as exc:
                raise ControlError(400, str(exc)) from exc
            self._data.orders[order.id] = order
            body = render.order_v2(order, self._api_base())
        self._fire([("store/order/created", {"type": "order", "id": order.id})])
        return body

    def order_update(self, order_id: int, **fields: Any) -> dict[str, Any]:
        """Change an order's fields or lines; fires store/order/updated (and statusUpdated on a status change)."""
        unknown = set(fields) - ORDER_UPDATE_FIELDS
        if unknown:
            raise ControlError(400, f"unknown order fields: {sorted(unknown)}")
        body, events = self._order_change(order_id, fields)
        self._fire(events)
        return body

    def _order_change(
        self, order_id: int, fields: dict[str, Any]
    ) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
        """Apply ``fields`` to an order (all or nothing); answers the v2 order and the events to fire.

        Shared by the control API and ``PUT /v2/orders/{id}``: statusUpdated (when the status changed),
        then store/order/updated. Raises ``ControlError`` (404 unknown order, 400 refused change).
        """
        events: list[tuple[str, dict[str, Any]]] = []
        with self._lock:
            current = self._order(order_id)
            # Work on a copy (sharing the immutable shipments and refunds): a failed update changes nothing.
            shared = {id(record): record for record in (*current.shipments, *current.refunds)}
            order = copy.deepcopy(current, memo=shared)
            try:
                previous = self._order_apply(order, fields)
            except (ValueError, TypeError, KeyError) as exc:
                raise ControlError(400, str(exc)) from exc
            self._data.orders[order.id] = order
            if previous is not None and previous != order.status_id:
                events.append(self._status_event(order.id, previous, order.status_id))
            events.append(("store/order/updated", {"type": "order", "id": order.id}))
            body = render.order_v2(order, self._api_base())
        return body, events

    def _order_apply(self, order: Order, fields: dict[str, Any]) -> int | None:
        now = self._now()
        previous = None
        if "products" in fields:
            if order.shipments or order.refunds:
                raise ValueError("cannot replace the lines of an order with shipments or refunds")
            order.lines = generator.lines_from_spec(
                self._data, self._rng, fields["products"], currency=order.currency_code, rate=order.tax_rate
            )
        if "customer_id" in fields:
            customer_id = int(fields["customer_id"] or 0)
            if customer_id and customer_id not in self._data.customers:
                raise ValueError(f"no customer {customer_id}")
            order.customer_id = customer_id
        if "email" in fields:
            order.billing.email = str(fields["email"])
        for key, target in (
            ("billing_address", order.billing),
            ("shipping_address", order.shipping.address if order.shipping else None),
        ):
            if key in fields:
                if target is None:
                    raise ValueError("this order has no shipping address")
                for name, value in dict(fields[key]).items():
                    if not hasattr(target, name):
                        raise ValueError(f"unknown address field {name!r}")
                    setattr(target, name, "" if value is None else str(value))
        for key in (
            "customer_message",
            "staff_notes",
            "payment_method",
            "payment_provider_id",
            "external_order_id",
            "customer_locale",
            "ip_address",
        ):
            if key in fields:
                setattr(order, key, "" if fields[key] is None else str(fields[key]))
        if "external_source" in fields:
            order.external_source = None if fields["external_source"] is None else str(fields["external_source"])
        for key in ("shipping_cost_ex_tax", "handling_cost_ex_tax", "discount_amount"):
            if key in fields:
                value = money(fields[key])
                if value < 0:
                    raise ValueError(f"{key} cannot be negative")
                setattr(order, key, value)
        if "coupon_code" in fields or "coupon_discount" in fields:
            code = fields.get("coupon_code", order.coupons[0].code if order.coupons else "")
            if code:
                discount = money(fields.get("coupon_discount", order.coupons[0].discount if order.coupons else "5.00"))
                order.coupons = [Coupon(self._data.counters.take("coupon"), 1000, str(code), 2, discount, discount)]
            else:
                order.coupons = []
        if "is_email_opt_in" in fields:
            order.is_email_opt_in = bool(fields["is_email_opt_in"])
        if "channel_id" in fields:
            order.channel_id = int(fields["channel_id"])
        if "cart_id" in fields:
            order.cart_id = None if fields["cart_id"] is None else str(fields["cart_id"])
        if "status_id" in fields:
            previous = ops.status_set(order, int(fields["status_id"]), now=now)
        totals = order_totals(order)
        if totals.discount_amount + totals.coupon_discount > totals.subtotal_inc_tax:
            raise ValueError("discounts exceed the order subtotal")
        if totals.refunded_amount > totals.total_inc_tax:
            raise ValueError("the order total would fall below what was already refunded")
        order.date_modified = (
            date_parse(str(fields["date_modified"])) if fields.get("date_modified") else max(order.date_modified, now)
        )
        return previous

    @staticmethod
    def _status_event(order_id: int, previous: int, new: int) -> tuple[str, dict[str, Any]]:
        return (
            "store/order/statusUpdated",
            {"type": "order", "id": order_id, "status": {"previous_status_id": previous, "new_status_id": new}},
        )

    def order_status_set(self, order_id: int, status_id: int) -> dict[str, Any]:
        """Change an order's status; fires store/order/statusUpdated and store/order/updated."""
        with self._lock:
            order = self._order(order_id)
            try:
                previous = ops.status_set(order, int(status_id), now=self._now())
            except (ValueError, TypeError) as exc:
                raise ControlError(400, str(exc)) from exc
            body = render.order_v2(order, self._api_base())
        if previous != order.status_id:
            self._fire(
                [
                    self._status_event(order.id, previous, order.status_id),
                    ("store/order/updated", {"type": "order", "id": order.id}),
                ]
            )
        return body

    def order_archive(self, order_id: int) -> dict[str, Any]:
        """Archive an order (``is_deleted``: true; hidden from lists by default); fires store/order/archived."""
        with self._lock:
            order = self._order(order_id)
            order.is_deleted = True
            order.date_modified = max(order.date_modified, self._now())
            body = render.order_v2(order, self._api_base())
        self._fire([("store/order/archived", {"type": "order", "id": order.id})])
        return body

    def shipment_create(
        self,
        order_id: int,
        *,
        items: list[dict[str, Any]] | None = None,
        tracking_number: str | None = None,
        shipping_provider: str = "ups",
        tracking_carrier: str = "",
        comments: str = "",
    ) -> dict[str, Any]:
        """Ship ``items`` (``[{order_product_id, quantity}]``) or everything left; fires
        store/shipment/created (data.orderId), then statusUpdated (if it changed) and store/order/updated.
        Returns the v2 shipment.
        """
        with self._lock:
            order = self._order(order_id)
            previous = order.status_id
            try:
                shipment = ops.shipment_add(
                    self._data,
                    order,
                    rng=self._rng,
                    now=self._now(),
                    items=items,
                    tracking=tracking_number,
                    shipping_provider=shipping_provider,
                    tracking_carrier=tracking_carrier,
                    comments=comments,
                )
            except (ValueError, TypeError) as exc:
                raise ControlError(400, str(exc)) from exc
            events = self._shipment_events(order, shipment, previous)
            body = render.shipment_v2(order, shipment)
        self._fire(events)
        return body

    def _shipment_events(
        self, order: Order, shipment: Shipment, previous_status: int
    ) -> list[tuple[str, dict[str, Any]]]:
        """What BigCommerce fires after a shipment: store/shipment/created (data.orderId), statusUpdated
        when shipping moved the order to Shipped / Partially Shipped, then store/order/updated."""
        events: list[tuple[str, dict[str, Any]]] = [
            ("store/shipment/created", {"type": "shipment", "id": shipment.id, "orderId": order.id})
        ]
        if previous_status != order.status_id:
            events.append(self._status_event(order.id, previous_status, order.status_id))
        events.append(("store/order/updated", {"type": "order", "id": order.id}))
        return events

    def refund_create(
        self,
        order_id: int,
        amount: Any = None,
        *,
        items: list[dict[str, Any]] | None = None,
        reason: str = "",
    ) -> dict[str, Any]:
        """Refund ``items`` (``[{order_product_id, quantity}]``), an ``amount``, or (neither) all that is left.

        Updates refunded_amount and the status (14, or 4 when fully refunded); fires
        store/order/refund/created (data.refund.refund_id), statusUpdated (if changed), store/order/updated.
        Returns the refund as ``GET /v3/orders/payment_actions/refunds/{id}`` gives its ``data``.
        """
        events: list[tuple[str, dict[str, Any]]] = []
        with self._lock:
            order = self._order(order_id)
            previous = order.status_id
            try:
                refund = ops.refund_add(self._data, order, now=self._now(), amount=amount, items=items, reason=reason)
            except (ValueError, TypeError) as exc:
                raise ControlError(400, str(exc)) from exc
            events.append(
                ("store/order/refund/created", {"type": "order", "id": order.id, "refund": {"refund_id": refund.id}})
            )
            if previous != order.status_id:
                events.append(self._status_event(order.id, previous, order.status_id))
            events.append(("store/order/updated", {"type": "order", "id": order.id}))
            body = render.refund_v3(refund, single=True)
        self._fire(events)
        return body

    def customer_create(self, **fields: Any) -> dict[str, Any]:
        """Register a customer (what ``fields`` leave out is generated); fires store/customer/created."""
        with self._lock:
            try:
                customer = generator.customer_from_spec(self._data, self._rng, fields, now=self._now())
            except (ValueError, TypeError, KeyError) as exc:
                raise ControlError(400, str(exc)) from exc
            self._data.customers[customer.id] = customer
            body = render.customer_v3(customer, include=frozenset({"addresses"}))
        self._fire([("store/customer/created", {"type": "customer", "id": customer.id})])
        return body

    def customer_update(self, customer_id: int, **fields: Any) -> dict[str, Any]:
        """Change a customer; fires store/customer/updated, or store/customer/address/updated for each
        address when only ``addresses`` change (BigCommerce does not fire customer/updated for those).
        """
        unknown = set(fields) - CUSTOMER_UPDATE_FIELDS
        if unknown:
            raise ControlError(400, f"unknown customer fields: {sorted(unknown)}")
        events: list[tuple[str, dict[str, Any]]] = []
        with self._lock:
            customer = self._customer(customer_id)
            if "email" in fields:
                email = str(fields["email"]).strip()
                other = self._data.customer_by_email(email)
                if "@" not in email or (other is not None and other.id != customer.id):
                    raise ControlError(400, f"email {email!r} is invalid or taken")
                customer.email = email
            for key in ("first_name", "last_name", "company", "phone", "notes"):
                if key in fields:
                    setattr(customer, key, str(fields[key]))
            if "customer_group_id" in fields:
                customer.customer_group_id = int(fields["customer_group_id"])
            if "accepts_product_review_abandoned_cart_emails" in fields:
                customer.accepts_marketing = bool(fields["accepts_product_review_abandoned_cart_emails"])
            if "addresses" in fields:
                customer.addresses = [
                    generator.customer_address_build(self._data, self._rng, customer, dict(entry))
                    for entry in fields["addresses"]
                ]
                for address in customer.addresses:
                    events.append(
                        (
                            "store/customer/address/updated",
                            {"type": "customer", "id": address.id, "address": {"customer_id": customer.id}},
                        )
                    )
            customer.date_modified = max(customer.date_modified, self._now())
            if set(fields) - {"addresses"}:
                events.append(("store/customer/updated", {"type": "customer", "id": customer.id}))
            body = render.customer_v3(customer, include=frozenset({"addresses"}))
        self._fire(events)
        return body

    def cart_create(self, spec: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        """Open a cart (what the spec leaves out is generated); fires store/cart/created and store/cart/updated.

        Returns the v3 cart.
        """
        merged = {**(spec or {}), **fields}
        with self._lock:
            try:
                cart = generator.cart_from_spec(self._data, self._rng, merged, now=self._now())
            except (ValueError, TypeError, KeyError) as exc:
                raise ControlError(400, str(exc)) from exc
            if "created_time" not in merged:
                cart.created_time = cart.updated_time = self._now()
            if cart.id in self._data.carts:
                raise ControlError(400, f"cart {cart.id} exists")
            self._data.carts[cart.id] = cart
            body = render.cart_v3(cart)
        # BigCommerce: "Cart creation also fires the store/cart/updated webhook".
        self._fire(
            [
                ("store/cart/created", {"type": "cart", "id": cart.id}),
                ("store/cart/updated", {"type": "cart", "id": cart.id}),
            ]
        )
        return body

    def cart_get(self, cart_id: str) -> dict[str, Any]:
        """The cart as ``GET /v3/carts/{id}`` gives its ``data`` (ControlError 404 when unknown or converted)."""
        with self._lock:
            return render.cart_v3(self._cart(cart_id))

    def cart_update(self, cart_id: str, **fields: Any) -> dict[str, Any]:
        """Change a cart as a shopper or an app would; returns the v3 cart.

        ``items``: line changes, like BigCommerce's cart item endpoints: ``{"id": line, "quantity": n}``
        (and/or ``list_price``, ``sale_price``) changes a line, quantity 0 removes it; an entry without
        ``id`` adds a line (the ``cart_create`` item spec); lines not listed stay. ``email``,
        ``customer_id`` (a registered customer signs in: the cart takes their email), ``discount_amount``,
        ``coupon_code`` + ``coupon_discount`` (``""`` removes the coupon), ``updated_time`` (default now).
        The money stays consistent: amounts are recomputed from the lines, and discounts may not exceed
        them. Fires store/cart/lineItem/created|updated|deleted per changed line
        (``{"type": "cart_line_item", "id": line, "cartId": cart}``), store/cart/couponApplied
        (``couponId``) for a new coupon, then store/cart/updated. Removing the last line deletes the cart,
        as BigCommerce does (store/cart/updated, then store/cart/deleted; ``GET`` answers 404).
        """
        unknown = set(fields) - CART_UPDATE_FIELDS
        if unknown:
            raise ControlError(400, f"unknown cart fields: {sorted(unknown)}")
        with self._lock:
            # Work on a copy: a refused update changes nothing.
            cart = copy.deepcopy(self._cart(cart_id))
            try:
                events = self._cart_apply(cart, fields)
                updated = date_parse(str(fields["updated_time"])) if fields.get("updated_time") else self._now()
            except (ValueError, TypeError, KeyError) as exc:
                raise ControlError(400, str(exc)) from exc
            cart.version += 1
            cart.updated_time = max(updated, cart.created_time)
            events.append(("store/cart/updated", {"type": "cart", "id": cart.id}))
            if cart.items:
                self._data.carts[cart.id] = cart
            else:
                del self._data.carts[cart.id]
                events.append(("store/cart/deleted", {"type": "cart", "id": cart.id}))
            body = render.cart_v3(cart)
        self._fire(events)
        return body

    def _cart_apply(self, cart: Cart, fields: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """Apply ``cart_update`` fields to ``cart``; answers the line and coupon events to fire."""
        events: list[tuple[str, dict[str, Any]]] = []

        def line_event(action: str, line_id: str) -> None:
            events.append(
                (f"store/cart/lineItem/{action}", {"type": "cart_line_item", "id": line_id, "cartId": cart.id})
            )

        for entry in fields.get("items") or []:
            if not isinstance(entry, dict):
                raise ValueError("each entry of items is an object")
            if not entry.get("id"):
                added = generator.cart_item_from_spec(self._data, self._rng, cart.currency_code, entry)
                cart.items.append(added)
                line_event("created", added.id)
                continue
            unknown = set(entry) - CART_ITEM_UPDATE_FIELDS
            if unknown:
                raise ValueError(f"unknown cart item fields: {sorted(unknown)}")
            item = next((line for line in cart.items if line.id == str(entry["id"])), None)
            if item is None:
                raise ControlError(404, f"no line item {entry['id']} in cart {cart.id}")
            if int(entry.get("quantity", item.quantity)) == 0:
                cart.items.remove(item)
                line_event("deleted", item.id)
                continue
            quantity = int(entry.get("quantity", item.quantity))
            if quantity < 0:
                raise ValueError("quantity cannot be negative")
            item.quantity = quantity
            for key in ("list_price", "sale_price"):
                if key in entry:
                    price = money(entry[key])
                    if price <= 0:
                        raise ValueError(f"{key} must be positive")
                    setattr(item, key, price)
            if item.kind == "custom" and "list_price" in entry:
                item.sale_price = item.list_price  # a custom item has one price
            line_event("updated", item.id)
        if "customer_id" in fields:
            customer_id = int(fields["customer_id"] or 0)
            if customer_id:
                customer = self._data.customers.get(customer_id)
                if customer is None:
                    raise ValueError(f"no customer {customer_id}")
                cart.email = customer.email
            cart.customer_id = customer_id
        if "email" in fields:
            email = str(fields["email"] or "").strip()
            if email and "@" not in email:
                raise ValueError(f"email {email!r} is invalid")
            cart.email = email
        if "discount_amount" in fields:
            cart.discount_amount = money(fields["discount_amount"])
            if cart.discount_amount < 0:
                raise ValueError("discount_amount cannot be negative")
        if "coupon_code" in fields or "coupon_discount" in fields:
            code = str(fields.get("coupon_code", cart.coupon_code) or "")
            if not code:
                cart.coupon_code, cart.coupon_discount, cart.coupon_id = "", ZERO, 0
            else:
                discount = money(fields.get("coupon_discount", cart.coupon_discount or "5.00"))
                if discount < 0:
                    raise ValueError("coupon_discount cannot be negative")
                applied = code != cart.coupon_code
                cart.coupon_code, cart.coupon_discount = code, discount
                cart.coupon_id = 1 + sum(map(ord, code)) % 50  # as cart_create numbers coupons
                if applied:
                    events.append(
                        ("store/cart/couponApplied", {"type": "cart", "id": cart.id, "couponId": cart.coupon_id})
                    )
        if not cart.items:
            # BigCommerce deletes a cart whose last line is removed; nothing is left to discount.
            cart.discount_amount, cart.coupon_code, cart.coupon_discount, cart.coupon_id = ZERO, "", ZERO, 0
        elif cart.cart_amount < 0:
            raise ValueError(
                f"the discounts ({cart.discount_amount + cart.coupon_discount}) exceed the cart's items "
                f"({cart.base_amount})"
            )
        return events

    def cart_abandon(self, cart_id: str) -> dict[str, Any]:
        """Declare a cart abandoned (BigCommerce does so after an hour unchanged); fires store/cart/abandoned."""
        with self._lock:
            cart = self._cart(cart_id)
            body = render.cart_v3(cart)
        self._fire([("store/cart/abandoned", {"type": "cart", "id": cart.id})])
        return body

    def cart_convert(self, cart_id: str, **order_fields: Any) -> dict[str, Any]:
        """Check a cart out: create its order, delete the cart (``GET`` answers 404 from then on), fire
        store/order/created and store/cart/converted (data.orderId). Returns the v2 order.
        """
        with self._lock:
            cart = self._cart(cart_id)
            spec: dict[str, Any] = {
                "customer_id": cart.customer_id,
                "currency_code": cart.currency_code,
                "cart_id": cart.id,
                "discount_amount": str(cart.discount_amount),
                "coupon_code": cart.coupon_code,
                "products": [
                    {
                        "product_id": item.product_id,
                        "variant_id": item.variant_id,
                        "name": item.name,
                        "sku": item.sku,
                        "price_ex_tax": str(item.sale_price),
                        "quantity": item.quantity,
                        "type": "digital" if item.kind == "digital" else "physical",
                    }
                    for item in cart.items
                ],
            }
            if cart.coupon_code:
                spec["coupon_discount"] = str(cart.coupon_discount)
            if cart.email:
                spec["email"] = cart.email
            spec.update(order_fields)
            try:
                order = generator.order_from_spec(self._data, self._rng, spec, now=self._now())
            except (ValueError, TypeError, KeyError) as exc:
                raise ControlError(400, str(exc)) from exc
            self._data.orders[order.id] = order
            del self._data.carts[cart.id]
            body = render.order_v2(order, self._api_base())
        self._fire(
            [
                ("store/order/created", {"type": "order", "id": order.id}),
                ("store/cart/converted", {"type": "cart", "id": cart.id, "orderId": order.id}),
            ]
        )
        return body

    # ---------------------------------------------------------------- catalog
    def _product(self, product_id: int) -> Product:
        product = self._data.product(int(product_id))
        if product is None:
            raise ControlError(404, f"no product {product_id}")
        return product

    @staticmethod
    def _sku_event(action: str, product: Product, variant: ProductVariant) -> tuple[str, dict[str, Any]]:
        return (
            f"store/sku/{action}",
            {"type": "sku", "id": variant.sku_id, "sku": {"product_id": product.id, "variant_id": variant.id}},
        )

    @staticmethod
    def _product_event(action: str, product: Product) -> tuple[str, dict[str, Any]]:
        return (f"store/product/{action}", {"type": "product", "id": product.id})

    def _product_view(self, product: Product) -> dict[str, Any]:
        return render.product_v3(product, include=frozenset({"variants"}))

    def product_create(self, spec: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        """Create a catalog product (``generator.product_build`` spec: name and price required); fires
        store/product/created, then store/sku/created for each option variant. Returns the v3 product with
        its variants."""
        merged = {**(spec or {}), **fields}
        with self._lock:
            try:
                product = generator.product_build(self._data, merged, now=self._now())
            except (ValueError, TypeError, KeyError, InvalidOperation) as exc:
                raise ControlError(400, str(exc)) from exc
            self._data.catalog.append(product)
            events = [self._product_event("created", product)]
            events += [self._sku_event("created", product, v) for v in product.variants if not v.is_base]
            body = self._product_view(product)
        self._fire(events)
        return body

    def product_update(self, product_id: int, **fields: Any) -> dict[str, Any]:
        """Change a product's ``PRODUCT_UPDATE_FIELDS`` (prices in the store's default currency); fires
        store/product/updated. A product's SKU is its base variant's SKU too."""
        unknown = set(fields) - PRODUCT_UPDATE_FIELDS
        if unknown:
            raise ControlError(400, f"unknown product fields: {sorted(unknown)}")
        if not fields:
            raise ControlError(400, "nothing to change")
        with self._lock:
            current = self._product(product_id)
            product = copy.deepcopy(current)  # a refused change changes nothing
            try:
                self._product_apply(product, fields)
            except (ValueError, TypeError, InvalidOperation) as exc:
                raise ControlError(400, str(exc)) from exc
            product.date_modified = max(product.date_modified, self._now())
            self._data.catalog[self._data.catalog.index(current)] = product
            body = self._product_view(product)
        self._fire([self._product_event("updated", product)])
        return body

    def _product_apply(self, product: Product, fields: dict[str, Any]) -> None:
        if "name" in fields:
            name = str(fields["name"] or "").strip()
            if not name or len(name) > 250:
                raise ValueError("a product needs a name of 1 to 250 characters")
            product.name = name
        if "sku" in fields:
            sku = str(fields["sku"] or "")
            generator.sku_check(self._data, sku, product_id=product.id)
            product.sku = sku
            if product.base_variant is not None:
                product.base_variant.sku = sku
        for key in ("price", "sale_price", "retail_price", "cost_price"):
            if key in fields:
                setattr(product, key, generator.price_check(fields[key], key))
        if "weight" in fields:
            product.weight = generator.price_check(fields["weight"], "weight")
        if "description" in fields:
            product.description = str(fields["description"] or "")
        if "is_visible" in fields:
            if not isinstance(fields["is_visible"], bool):
                raise ValueError("is_visible is true or false")
            product.is_visible = fields["is_visible"]
        if "inventory_level" in fields:
            product.inventory_level = int(fields["inventory_level"])

    def product_delete(self, product_id: int) -> dict[str, Any]:
        """Delete a product with its variants: the API answers 404 from then on (old order lines keep its
        id); fires store/product/deleted only. Returns ``{"deleted": id}``."""
        with self._lock:
            product = self._product(product_id)
            self._data.catalog.remove(product)
            self._data.deleted_products[product.id] = product
        self._fire([self._product_event("deleted", product)])
        return {"deleted": product.id}

    def variant_create(self, product_id: int, **fields: Any) -> dict[str, Any]:
        """Add an option variant ``{option_name, option_value, sku?, price?, purchasing_disabled?}``; fires
        store/sku/created. The first option variant of a product without options replaces its base
        variant (as in BigCommerce; the base variant had no SKU record, so no sku event for it) and also
        fires store/product/updated. Returns the v3 variant."""
        with self._lock:
            current = self._product(product_id)
            product = copy.deepcopy(current)
            was_simple = product.base_variant is not None
            if was_simple:
                product.variants = []
            try:
                variant = generator.variant_build(self._data, product, fields)
            except (ValueError, TypeError, InvalidOperation) as exc:
                raise ControlError(400, str(exc)) from exc
            product.variants.append(variant)
            product.date_modified = max(product.date_modified, self._now())
            self._data.catalog[self._data.catalog.index(current)] = product
            events = [self._sku_event("created", product, variant)]
            if was_simple:
                events.append(self._product_event("updated", product))
            body = render.variant_v3(product, variant)
        self._fire(events)
        return body

    def _variant(self, product: Product, variant_id: int) -> ProductVariant:
        variant = next((v for v in product.variants if v.id == int(variant_id)), None)
        if variant is None:
            raise ControlError(404, f"no variant {variant_id} of product {product.id}")
        return variant

    def variant_update(self, product_id: int, variant_id: int, **fields: Any) -> dict[str, Any]:
        """Change a variant's ``price`` (null: inherit the product's), ``sku`` or ``purchasing_disabled``;
        fires store/sku/updated. A base variant *is* its product: its price and SKU are the product's, and
        the change fires store/product/updated instead. Returns the v3 variant."""
        unknown = set(fields) - VARIANT_UPDATE_FIELDS
        if unknown:
            raise ControlError(400, f"unknown variant fields: {sorted(unknown)}")
        with self._lock:
            current = self._product(product_id)
            product = copy.deepcopy(current)
            variant = self._variant(product, variant_id)
            try:
                if variant.is_base:
                    changes = {key: value for key, value in fields.items() if key != "purchasing_disabled"}
                    if changes.get("price", 0) is None:
                        raise ValueError("a base variant's price is its product's: it cannot be null")
                    self._product_apply(product, changes)
                else:
                    if "sku" in fields:
                        generator.sku_check(self._data, str(fields["sku"] or ""), variant_id=variant.id)
                        variant.sku = str(fields["sku"])
                    if "price" in fields:
                        price = fields["price"]
                        variant.price = None if price is None else generator.price_check(price, "price")
                if "purchasing_disabled" in fields:
                    variant.purchasing_disabled = bool(fields["purchasing_disabled"])
            except (ValueError, TypeError, InvalidOperation) as exc:
                raise ControlError(400, str(exc)) from exc
            product.date_modified = max(product.date_modified, self._now())
            self._data.catalog[self._data.catalog.index(current)] = product
            event = (
                self._product_event("updated", product)
                if variant.is_base
                else self._sku_event("updated", product, variant)
            )
            body = render.variant_v3(product, variant)
        self._fire([event])
        return body

    def variant_delete(self, product_id: int, variant_id: int) -> dict[str, Any]:
        """Delete an option variant; fires store/sku/deleted. Deleting the last one leaves the product
        without options: it gets a new base variant (its own SKU, no SKU record) and store/product/updated
        fires too. A base variant cannot be deleted (400: delete the product). Returns the v3 product."""
        with self._lock:
            current = self._product(product_id)
            product = copy.deepcopy(current)
            variant = self._variant(product, variant_id)
            if variant.is_base:
                raise ControlError(400, "a base variant cannot be deleted; delete the product")
            product.variants.remove(variant)
            events = [self._sku_event("deleted", product, variant)]
            if not product.variants:
                product.variants.append(ProductVariant(self._data.counters.take("variant"), product.sku, "", "", 0, 0))
                product.option_set_id = None
                events.append(self._product_event("updated", product))
            product.date_modified = max(product.date_modified, self._now())
            self._data.catalog[self._data.catalog.index(current)] = product
            body = self._product_view(product)
        self._fire(events)
        return body

    def catalog_churn(self, *, changes: int = 1, seed: int | None = None) -> list[dict[str, Any]]:
        """Make ``changes`` random catalog changes, as a merchant editing the catalog would, each through
        the methods above (so each fires its webhooks): renames, price changes (product or variant),
        SKU changes, variants added or removed, products hidden or shown again, created, deleted. At
        least ``CHURN_MIN_SELLABLE`` visible products always stay. Returns what was done:
        ``[{"action", "product_id", "variant_id"?, ...}]``. ``seed`` makes a run repeatable.
        """
        rng = random.Random(seed) if seed is not None else self._churn_rng
        done: list[dict[str, Any]] = []
        for _ in range(max(0, int(changes))):
            with self._lock:
                # Snapshot the choices under the lock; the change itself takes the lock again.
                live = [
                    (p.id, p.is_visible, p.base_variant is not None, [v.id for v in p.variants])
                    for p in self._data.catalog
                ]
                sellable = sum(1 for _, visible, _, _ in live if visible)
                serial = self._data.counters.product
            action = generator.weighted(rng, CHURN_WEIGHTS)
            product_id, visible, simple, variant_ids = rng.choice(live)
            if action in ("hide", "delete") and sellable <= CHURN_MIN_SELLABLE:
                action = "price"
            record: dict[str, Any] = {"action": action, "product_id": product_id}
            try:
                if action == "rename":
                    name = f"{rng.choice(generator.CHURN_ADJECTIVES)} {rng.choice(generator.PRODUCT_WORDS)[1]}"
                    self.product_update(product_id, name=f"{name} {serial}-{len(done)}")
                elif action == "price":
                    record["price"] = f"{rng.randint(5, 240)}.{rng.choice(('00', '50', '95', '99'))}"
                    self.product_update(product_id, price=record["price"])
                elif action == "sku":
                    record["sku"] = f"CH-{product_id}-{rng.randint(1000, 9999)}"
                    if simple:
                        self.product_update(product_id, sku=record["sku"])
                    else:
                        record["variant_id"] = rng.choice(variant_ids)
                        self.variant_update(product_id, record["variant_id"], sku=record["sku"])
                elif action == "variant_price" and not simple:
                    record["variant_id"] = rng.choice(variant_ids)
                    record["price"] = rng.choice((None, f"{rng.randint(5, 240)}.00"))
                    self.variant_update(product_id, record["variant_id"], price=record["price"])
                elif action == "variant_add":
                    with self._lock:
                        taken = {v.option_value for v in self._product(product_id).variants}
                        option = next(
                            (v.option_name for v in self._product(product_id).variants if not v.is_base), "Edition"
                        )
                    value = f"{rng.choice(generator.CHURN_VALUES)} {len(taken) + 1}"
                    price = rng.choice((None, f"{rng.randint(5, 240)}.00"))
                    created = self.variant_create(product_id, option_name=option, option_value=value, price=price)
                    record.update(variant_id=created["id"], option_value=value, price=price)
                elif action == "variant_remove" and not simple:
                    record["variant_id"] = rng.choice(variant_ids)
                    self.variant_delete(product_id, record["variant_id"])
                elif action == "hide":
                    record["is_visible"] = not visible
                    self.product_update(product_id, is_visible=not visible)
                elif action == "delete":
                    self.product_delete(product_id)
                elif action == "create":
                    spec: dict[str, Any] = {
                        "name": f"{rng.choice(generator.CHURN_ADJECTIVES)} {rng.choice(generator.PRODUCT_WORDS)[1]}"
                        f" {serial}",
                        "price": f"{rng.randint(5, 240)}.00",
                    }
                    if rng.random() < 0.5:
                        spec["variants"] = [
                            {"option_name": "Size", "option_value": size, "price": rng.choice((None, "99.00"))}
                            for size in generator.SIZES[: rng.randint(1, 4)]
                        ]
                    record["product_id"] = self.product_create(spec)["id"]
                else:  # a variant change drawn for a product without options: change its price instead
                    record.update(action="price", price=f"{rng.randint(5, 240)}.00")
                    self.product_update(product_id, price=record["price"])
            except ControlError as exc:  # e.g. a drawn SKU already taken: nothing changed
                record["refused"] = exc.message
            done.append(record)
        return done

    def hook_create(
        self, scope: str, destination: str, *, headers: dict[str, str] | None = None, is_active: bool = True
    ) -> dict[str, Any]:
        """Register a hook as ``POST /v3/hooks`` would; returns its ``data``."""
        try:
            with self._lock:
                hook = self._hook_validate_create(
                    {"scope": scope, "destination": destination, "headers": headers, "is_active": is_active}
                )
                return self._hook_view(hook)
        except ApiError as exc:
            raise ControlError(exc.status, f"{exc.message}: {exc.errors}") from exc

    def hook_signing_set(
        self, hook_id: int, *, sign_standard: bool | None = None, legacy_secret: str | None = None
    ) -> dict[str, Any]:
        """Per-hook signing (a sandbox knob, no BigCommerce API): None falls back to the global settings."""
        with self._lock:
            hook = self._data.hooks.get(int(hook_id))
            if hook is None:
                raise ControlError(404, f"no hook {hook_id}")
            hook.sign_standard = sign_standard
            hook.legacy_secret = legacy_secret
            return self._hook_view(hook)

    # ================================================================ webhooks
    def _emit(self, scope: str, data: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._event_seq += 1
            payload = {
                "scope": scope,
                "store_id": self.store_id,
                "data": data,
                "hash": payload_hash(data),
                "created_at": self._unix(),
                "producer": f"stores/{self.store_hash}",
            }
            hook_ids = [
                hook.id for hook in self._data.hooks.values() if hook.is_active and scope_matches(hook.scope, scope)
            ]
            self._events.append({"seq": self._event_seq, "payload": payload, "hook_ids": hook_ids})
            event = Event(self._event_seq, scope, payload, json.dumps(payload, separators=(",", ":")).encode())
            self._dispatcher.enqueue(event, hook_ids)
        return payload

    def _hook_target(self, hook_id: int) -> HookTarget | None:
        with self._lock:
            hook = self._data.hooks.get(hook_id)
            if hook is None:
                return None
            return HookTarget(
                id=hook.id,
                destination=hook.destination,
                headers=dict(hook.headers or {}),
                is_active=hook.is_active,
                sign_standard=hook.sign_standard,
                legacy_secret=hook.legacy_secret,
            )

    def _hook_deactivate(self, hook_id: int) -> None:
        with self._lock:
            hook = self._data.hooks.get(hook_id)
            if hook is not None:
                hook.is_active = False
                hook.updated_at = self._unix()

    def _hook_view(self, hook: Hook) -> dict[str, Any]:
        return render.hook_v3(hook, client_id=self.client_id, store_hash=self.store_hash)

    def _hook_check(self, body: dict[str, Any], *, partial: bool) -> dict[str, Any]:
        errors: dict[str, str] = {}
        clean: dict[str, Any] = {}
        for key in ("scope", "destination"):
            if key in body:
                value = body[key]
                if not isinstance(value, str) or not value.strip():
                    errors[key] = "error.type.string" if not isinstance(value, str) else "error.path.missing."
                else:
                    clean[key] = value.strip()
            elif not partial:
                errors[key] = "error.path.missing."
        scope = clean.get("scope")
        if scope is not None and not scope.startswith("store/"):
            errors["scope"] = "error.scope.invalid"
        destination = clean.get("destination")
        if destination is not None:
            parts = urlsplit(destination)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                errors["destination"] = "error.url.invalid"
            elif self.settings.strict_destinations and (parts.scheme != "https" or (parts.port or 443) != 443):
                errors["destination"] = "Destination must be served over HTTPS on port 443"
        if "is_active" in body:
            if not isinstance(body["is_active"], bool):
                errors["is_active"] = "error.expected.jsboolean"
            else:
                clean["is_active"] = body["is_active"]
        if "headers" in body:
            headers = body["headers"]
            if headers is not None and (
                not isinstance(headers, dict)
                or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
            ):
                errors["headers"] = "error.expected.jsobject of strings"
            else:
                clean["headers"] = dict(headers) if headers is not None else None
        if errors:
            raise ApiError(422, "JSON data is missing or invalid", errors=errors)
        return clean

    def _hook_validate_create(self, body: dict[str, Any]) -> Hook:
        clean = self._hook_check(body, partial=False)
        for hook in self._data.hooks.values():
            if hook.scope == clean["scope"] and hook.destination == clean["destination"]:
                raise ApiError(
                    422,
                    "JSON data is missing or invalid",
                    errors={"scope": "A hook with this scope and destination already exists."},
                )
        now = self._unix()
        hook = Hook(
            id=self._data.counters.take("hook"),
            scope=clean["scope"],
            destination=clean["destination"],
            is_active=clean.get("is_active", True),
            headers=clean.get("headers"),
            created_at=now,
            updated_at=now,
        )
        self._data.hooks[hook.id] = hook
        return hook

    # ================================================================ WSGI
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        if request.path.startswith("/__sandbox__/") or request.path == "/__sandbox__":
            response = self._control(request)
        else:
            response = self._api(request)
        return response(environ, start_response)

    # ---------------------------------------------------------------- REST API
    def _api(self, request: Request) -> Response:
        path = request.path
        store_hash, _, rest = (
            path.removeprefix("/stores/").partition("/") if path.startswith("/stores/") else ("", "", "")
        )
        version = "v2" if rest.startswith("v2/") else "v3"
        call = {
            "method": request.method,
            "path": path,
            "query": request.query_string.decode("latin-1"),
            "counted": False,
        }
        quota: Quota | None = None
        rate_headers = True
        try:
            if store_hash != self.store_hash or not rest.startswith(("v2/", "v3/")):
                raise ApiError(404)
            if request.headers.get("X-Auth-Token", "") != self.settings.access_token:
                raise ApiError(401)
            delay, fault = self._faults.pick(request.method, path)
            if delay:
                time.sleep(delay)
            if fault is not None and fault.kind == "status" and fault.status == 429:
                # Platform load: a 429 without the rate-limit headers, not counted against the quota.
                rate_headers = False
                raise ApiError(429)
            quota = self._limiter.take()
            if not quota.allowed:
                raise ApiError(429)
            call["counted"] = True
            if fault is not None and fault.kind == "drop":
                self._call_log(call, None)
                self._drop(request)
            if fault is not None:
                raise ApiError(fault.status)
            self._api_base_seen = f"{request.host_url.rstrip('/')}/stores/{self.store_hash}"
            adapter = API_RULES.bind("sandbox", path_info="/" + rest, url_scheme="https")
            endpoint, args = adapter.match(method=request.method)
            response: Response = getattr(self, f"_api_{endpoint}")(request, **args)
        except ApiError as exc:
            response = self._error(version, exc)
        except MethodNotAllowed:
            response = self._error(version, ApiError(405))
        except NotFound:
            response = self._error(version, ApiError(404))
        if rate_headers:
            response.headers.update((quota or self._limiter.peek()).headers())
        self._call_log(call, response.status_code)
        return response

    def _call_log(self, call: dict[str, Any], status: int | None) -> None:
        with self._lock:
            self._calls.append({**call, "status": status, "at": time.time()})

    @staticmethod
    def _drop(request: Request) -> None:
        sock = request.environ.get("werkzeug.socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        raise _Dropped("sandbox fault: connection dropped")

    @staticmethod
    def _json(body: Any, status: int = 200) -> Response:
        return Response(json.dumps(body), status=status, mimetype="application/json")

    @staticmethod
    def _no_content() -> Response:
        response = Response(status=204)
        response.headers.pop("Content-Type", None)
        return response

    def _error(self, version: str, error: ApiError) -> Response:
        status = error.status
        if version == "v2":
            entry: dict[str, Any] = {"status": status, "message": error.message or V2_MESSAGES.get(status, "Error")}
            if error.details:
                entry["details"] = error.details
            return self._json([entry], status)
        body: dict[str, Any] = {
            "status": status,
            "title": error.message or V3_TITLES.get(status, "Error"),
            "type": ERROR_TYPE,
        }
        if error.errors is not None:
            body["errors"] = error.errors
        return self._json(body, status)

    # -- argument parsing
    @staticmethod
    def _arg_int(request: Request, name: str, *, default: int | None = None, low: int | None = None) -> int | None:
        raw = request.args.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            try:
                value = int(float(raw))
            except ValueError as exc:
                raise ApiError(400, f"The filter '{name}' is invalid.") from exc
        if low is not None and value < low:
            raise ApiError(400, f"The filter '{name}' is invalid.")
        return value

    @staticmethod
    def _arg_date(request: Request, name: str) -> datetime | None:
        raw = request.args.get(name)
        if not raw:
            return None
        try:
            return date_parse(raw)
        except ValueError as exc:
            raise ApiError(400, f"The filter '{name}' is not a valid RFC 2822 or ISO 8601 date.") from exc

    @staticmethod
    def _arg_money(request: Request, name: str) -> Any:
        raw = request.args.get(name)
        if not raw:
            return None
        try:
            return money(raw)
        except ValueError as exc:
            raise ApiError(400, f"The filter '{name}' is invalid.") from exc

    @staticmethod
    def _arg_bool(request: Request, name: str) -> bool | None:
        raw = request.args.get(name)
        if raw is None or raw == "":
            return None
        if raw.lower() in ("true", "1"):
            return True
        if raw.lower() in ("false", "0"):
            return False
        raise ApiError(400, f"The filter '{name}' is invalid.")

    def _page(self, request: Request, *, default_limit: int = 50, max_limit: int = 250) -> tuple[int, int]:
        page = self._arg_int(request, "page", default=1) or 1
        limit = self._arg_int(request, "limit", default=default_limit) or default_limit
        return max(1, page), max(1, min(limit, max_limit))

    @staticmethod
    def _includes(request: Request) -> frozenset[str]:
        raw = request.args.get("include", "")
        return frozenset(part.strip() for part in raw.split(",") if part.strip())

    # -- v2
    def _orders_filtered(self, request: Request) -> list[Order]:
        min_id = self._arg_int(request, "min_id")
        max_id = self._arg_int(request, "max_id")
        min_total = self._arg_money(request, "min_total")
        max_total = self._arg_money(request, "max_total")
        customer_id = self._arg_int(request, "customer_id")
        status_id = self._arg_int(request, "status_id")
        channel_id = self._arg_int(request, "channel_id")
        email = (request.args.get("email") or "").strip().lower()
        cart_id = request.args.get("cart_id") or None
        payment_method = request.args.get("payment_method") or None
        external_order_id = request.args.get("external_order_id") or None
        dates = {
            name: self._arg_date(request, name)
            for name in ("min_date_created", "max_date_created", "min_date_modified", "max_date_modified")
        }
        is_deleted = self._arg_bool(request, "is_deleted")
        if is_deleted is None:
            is_deleted = False
        result = []
        for order in self._data.orders.values():
            if order.is_deleted != is_deleted:
                continue
            if (min_id is not None and order.id < min_id) or (max_id is not None and order.id > max_id):
                continue
            if min_total is not None or max_total is not None:
                total = order_totals(order).total_inc_tax
                if (min_total is not None and total < min_total) or (max_total is not None and total > max_total):
                    continue
            if customer_id is not None and order.customer_id != customer_id:
                continue
            if status_id is not None and order.status_id != status_id:
                continue
            if channel_id is not None and order.channel_id != channel_id:
                continue
            if email and order.billing.email.lower() != email:
                continue
            if cart_id is not None and order.cart_id != cart_id:
                continue
            if payment_method is not None and order.payment_method != payment_method:
                continue
            if external_order_id is not None and order.external_order_id != external_order_id:
                continue
            if not _within(order.date_created, dates["min_date_created"], dates["max_date_created"]):
                continue
            if not _within(order.date_modified, dates["min_date_modified"], dates["max_date_modified"]):
                continue
            result.append(order)
        return result

    def _api_orders_list(self, request: Request) -> Response:
        sort = request.args.get("sort", "id:asc") or "id:asc"
        field_name, _, direction = sort.partition(":")
        direction = direction or "asc"
        if field_name not in V2_SORT_FIELDS or direction not in ("asc", "desc"):
            raise ApiError(400, f"The sort parameter '{sort}' is invalid.")
        page, limit = self._page(request)
        include = self._includes(request)
        object_structure = request.args.get("consignment_structure") == "object"
        with self._lock:
            orders = self._orders_filtered(request)
            orders.sort(key=lambda order: (self._sort_value(order, field_name), order.id), reverse=direction == "desc")
            chunk = orders[(page - 1) * limit : page * limit]
            if not chunk:
                return self._no_content()
            base = self._api_base()
            return self._json(
                [render.order_v2(order, base, include=include, consignment_object=object_structure) for order in chunk]
            )

    @staticmethod
    def _sort_value(order: Order, field_name: str) -> Any:
        if field_name == "external_id":
            return order.external_order_id
        return getattr(order, field_name)

    def _api_orders_count(self, request: Request) -> Response:
        with self._lock:
            return self._json(render.order_count_v2(self._orders_filtered(request)))

    def _api_order(self, order_id: int) -> Order:
        order = self._data.orders.get(order_id)
        if order is None:
            raise ApiError(404)
        return order

    def _api_order_get(self, request: Request, order_id: int) -> Response:
        include = self._includes(request)
        object_structure = request.args.get("consignment_structure") == "object"
        with self._lock:
            order = self._api_order(order_id)
            return self._json(
                render.order_v2(order, self._api_base(), include=include, consignment_object=object_structure)
            )

    def _api_order_products(self, request: Request, order_id: int) -> Response:
        page, limit = self._page(request)
        with self._lock:
            lines = render.order_products_v2(self._api_order(order_id))
        chunk = lines[(page - 1) * limit : page * limit]
        return self._json(chunk) if chunk else self._no_content()

    def _api_order_product(self, request: Request, order_id: int, line_id: int) -> Response:
        with self._lock:
            lines = render.order_products_v2(self._api_order(order_id))
        for line in lines:
            if line["id"] == line_id:
                return self._json(line)
        raise ApiError(404)

    def _api_order_shipping(self, request: Request, order_id: int) -> Response:
        with self._lock:
            addresses = render.shipping_addresses_v2(self._api_order(order_id), self._api_base())
        return self._json(addresses) if addresses else self._no_content()

    def _api_order_shipments(self, request: Request, order_id: int) -> Response:
        page, limit = self._page(request)
        with self._lock:
            order = self._api_order(order_id)
            shipments = [render.shipment_v2(order, shipment) for shipment in order.shipments]
        chunk = shipments[(page - 1) * limit : page * limit]
        return self._json(chunk) if chunk else self._no_content()

    def _api_order_shipment(self, request: Request, order_id: int, shipment_id: int) -> Response:
        with self._lock:
            order = self._api_order(order_id)
            for shipment in order.shipments:
                if shipment.id == shipment_id:
                    return self._json(render.shipment_v2(order, shipment))
        raise ApiError(404)

    # -- v2 writes (PUT /orders/{id}, POST /orders/{id}/shipments)
    @staticmethod
    def _field_invalid(name: str, reason: str) -> ApiError:
        return ApiError(400, f"The field '{name}' is invalid.", details={"invalid_reason": reason})

    @staticmethod
    def _field_read_only(name: str) -> ApiError:
        return ApiError(
            400, f"The field '{name}' cannot be written to. Please remove it from your request before trying again."
        )

    @staticmethod
    def _field_required(name: str) -> ApiError:
        return ApiError(400, f"The required field '{name}' was not supplied.")

    def _text_check(self, body: dict[str, Any], limits: dict[str, int], *, nullable: frozenset[str]) -> None:
        for name, limit in limits.items():
            if name not in body:
                continue
            value = body[name]
            if value is None and name in nullable:
                continue
            if not isinstance(value, str):
                raise self._field_invalid(name, "must be a string")
            if len(value) > limit:
                raise self._field_invalid(name, f"must be at most {limit} characters")

    def _money_check(self, name: str, value: Any) -> Decimal:
        """A v2 money input: "Float, Float-As-String, Integer", never negative."""
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise self._field_invalid(name, "must be a number or a numeric string")
        try:
            amount = money(value)
        except ValueError as exc:
            raise self._field_invalid(name, "must be a number or a numeric string") from exc
        if amount < 0:
            raise self._field_invalid(name, "can't be negative")
        return amount

    @staticmethod
    def _is_int(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    def _order_put_fields(self, body: dict[str, Any]) -> dict[str, Any]:
        """Validate a ``PUT /v2/orders/{id}`` body (``order_Put``); answers the changes for ``_order_change``."""
        for name in body:
            if name in ORDER_PUT_NOT_EMULATED:
                raise ApiError(501, f"The sandbox does not emulate writing '{name}' on an order.")
            if name not in ORDER_PUT_FIELDS:
                raise self._field_read_only(name)
        self._text_check(body, ORDER_PUT_TEXT_LIMITS, nullable=frozenset({"external_order_id", "external_source"}))
        fields = dict(body)
        if "status_id" in body:
            status_id = body["status_id"]
            if not self._is_int(status_id) or status_id not in ORDER_STATUSES:
                raise self._field_invalid("status_id", f"{status_id!r} is not an order status id (0-14)")
        if "customer_id" in body:
            customer_id = body["customer_id"]
            if not self._is_int(customer_id) or (customer_id and customer_id not in self._data.customers):
                raise self._field_invalid("customer_id", f"no customer {customer_id!r}")
        if "channel_id" in body:
            channel_id = body["channel_id"]
            channels = {1} | {order.channel_id for order in self._data.orders.values()}
            if not self._is_int(channel_id) or channel_id not in channels:
                raise self._field_invalid("channel_id", f"no enabled channel {channel_id!r}")
        if "payment_provider_id" in body:
            provider = body["payment_provider_id"]
            if provider is not None and (isinstance(provider, bool) or not isinstance(provider, (str, int, float))):
                raise self._field_invalid("payment_provider_id", "must be a string or a number")
        for name in ORDER_PUT_MONEY_FIELDS:
            if name in body:
                fields[name] = str(self._money_check(name, body[name]))
        if "billing_address" in body:
            address = body["billing_address"]
            if not isinstance(address, dict):
                raise self._field_invalid("billing_address", "must be an object")
            for key, value in address.items():
                if key == "form_fields":
                    raise ApiError(501, "The sandbox does not emulate writing 'billing_address.form_fields'.")
                if key not in BILLING_ADDRESS_FIELDS:
                    raise self._field_read_only(f"billing_address.{key}")
                if not isinstance(value, str):
                    raise self._field_invalid(f"billing_address.{key}", "must be a string")
            email = address.get("email")
            if email is not None and "@" not in email:
                raise self._field_invalid("billing_address.email", f"{email!r} is not an email address")
        return fields

    def _api_order_put(self, request: Request, order_id: int) -> Response:
        """``PUT /v2/orders/{id}``: the emulated ``order_Put`` fields; fires what ``_order_change`` says."""
        body = self._json_body(request)
        with self._lock:
            self._api_order(order_id)
            fields = self._order_put_fields(body)
            if not fields:
                # Nothing asked: the order as it is, nothing fired.
                return self._json(render.order_v2(self._api_order(order_id), self._api_base()))
            try:
                rendered, events = self._order_change(order_id, fields)
            except ControlError as exc:
                raise ApiError(exc.status, None if exc.status == 404 else exc.message) from exc
        self._fire(events)
        return self._json(rendered)

    def _shipment_post_check(self, body: dict[str, Any]) -> list[dict[str, int]]:
        """Validate an ``orderShipment_Post`` body; answers its items."""
        for name in body:
            if name not in SHIPMENT_POST_FIELDS:
                raise self._field_read_only(name)
        for name in ("order_address_id", "items"):
            if name not in body:
                raise self._field_required(name)
        if not self._is_int(body["order_address_id"]):
            raise self._field_invalid("order_address_id", "must be an integer")
        self._text_check(body, SHIPMENT_TEXT_LIMITS, nullable=frozenset())
        if "merchant_shipping_cost" in body:
            self._money_check("merchant_shipping_cost", body["merchant_shipping_cost"])
        items = body["items"]
        if not isinstance(items, list) or not items:
            raise self._field_invalid("items", "must be a non-empty array of {order_product_id, quantity}")
        checked = []
        for entry in items:
            if not isinstance(entry, dict):
                raise self._field_invalid("items", "each item is an object {order_product_id, quantity}")
            for key in entry:
                if key not in ("order_product_id", "quantity"):
                    raise self._field_read_only(key)
            for key in ("order_product_id", "quantity"):
                if key not in entry:
                    raise self._field_required(f"items.{key}")
                if not self._is_int(entry[key]):
                    raise self._field_invalid(f"items.{key}", "must be an integer")
            if entry["quantity"] < 1:
                raise self._field_invalid("items.quantity", "must be at least 1")
            checked.append({"order_product_id": entry["order_product_id"], "quantity": entry["quantity"]})
        return checked

    def _api_order_shipment_post(self, request: Request, order_id: int) -> Response:
        """``POST /v2/orders/{id}/shipments``: 201 with the shipment; the order becomes Shipped (2) when every
        physical unit has shipped, else Partially Shipped (3) (refund statuses stay); fires
        store/shipment/created, statusUpdated (if the status moved), store/order/updated."""
        body = self._json_body(request)
        with self._lock:
            order = self._api_order(order_id)
            items = self._shipment_post_check(body)
            address_id = body["order_address_id"]
            if order.shipping is None or order.shipping.id != address_id:
                raise self._field_invalid("order_address_id", f"order {order_id} has no shipping address {address_id}")
            previous = order.status_id
            try:
                shipment = ops.shipment_add(
                    self._data,
                    order,
                    rng=self._rng,
                    now=self._now(),
                    items=items,
                    tracking=body.get("tracking_number", ""),
                    shipping_provider=body.get("shipping_provider", ""),
                    tracking_carrier=body.get("tracking_carrier", ""),
                    comments=body.get("comments", ""),
                    shipping_method=body.get("shipping_method"),
                    tracking_link=body.get("tracking_link", ""),
                    merchant_shipping_cost=money(body.get("merchant_shipping_cost", "0")),
                )
            except ValueError as exc:
                raise self._field_invalid("items", str(exc)) from exc
            events = self._shipment_events(order, shipment, previous)
            rendered = render.shipment_v2(order, shipment)
        self._fire(events)
        return self._json(rendered, 201)

    def _api_order_consignments(self, request: Request, order_id: int) -> Response:
        include = self._includes(request)
        with self._lock:
            order = self._api_order(order_id)
            body = render.consignments_v2(order, self._api_base(), line_items="consignments.line_items" in include)
        return self._json(body)

    def _api_order_coupons(self, request: Request, order_id: int) -> Response:
        with self._lock:
            coupons = render.coupons_v2(self._api_order(order_id))
        return self._json(coupons) if coupons else self._no_content()

    def _api_order_statuses(self, request: Request) -> Response:
        return self._json(
            [
                {
                    "id": status_id,
                    "name": name,
                    "system_label": name,
                    "custom_label": name,
                    "system_description": description,
                    "order": status_id,
                }
                for status_id, (name, description) in ORDER_STATUSES.items()
            ]
        )

    def _api_currencies(self, request: Request) -> Response:
        """The store's currencies: USD the default (catalog prices are in it), EUR and GBP transactional,
        auto-converted from the catalog price at a static rate (the rates orders are priced with)."""
        return self._json(render.currencies_v2())

    # -- v3
    @staticmethod
    def _v3_list_arg(request: Request, name: str) -> list[str] | None:
        raw = request.args.get(name)
        if raw is None:
            return None
        return [part.strip() for part in raw.split(",") if part.strip()]

    def _v3_int_list(self, request: Request, name: str) -> list[int] | None:
        values = self._v3_list_arg(request, name)
        if values is None:
            return None
        try:
            return [int(value) for value in values]
        except ValueError as exc:
            raise ApiError(422, "The filter is invalid", errors={name: "must be a list of integers"}) from exc

    def _v3_date(self, request: Request, name: str) -> datetime | None:
        raw = request.args.get(name)
        if not raw:
            return None
        try:
            return date_parse(raw)
        except ValueError as exc:
            raise ApiError(422, "The filter is invalid", errors={name: "must be a date"}) from exc

    def _v3_page(self, request: Request) -> tuple[int, int]:
        try:
            page = int(request.args.get("page") or 1)
            limit = int(request.args.get("limit") or 50)
        except ValueError as exc:
            raise ApiError(422, "The filter is invalid", errors={"page": "page and limit must be integers"}) from exc
        if page < 1 or limit < 1:
            raise ApiError(422, "The filter is invalid", errors={"page": "page and limit must be positive"})
        return page, min(limit, 250)

    @staticmethod
    def _pagination(total: int, count: int, page: int, limit: int, request: Request) -> dict[str, Any]:
        total_pages = max(1, -(-total // limit)) if total else 0
        others = [f"{k}={v}" for k, v in request.args.items(multi=True) if k not in ("page", "limit")]

        def href(number: int) -> str:
            return "?" + "&".join([*others, f"page={number}", f"limit={limit}"])

        links = {"current": href(page)}
        if page > 1:
            links["previous"] = href(page - 1)
        if page < total_pages:
            links["next"] = href(page + 1)
        return {
            "total": total,
            "count": count,
            "per_page": limit,
            "current_page": page,
            "total_pages": total_pages,
            "links": links,
        }

    def _api_cart_get(self, request: Request, cart_id: str) -> Response:
        with self._lock:
            cart = self._data.carts.get(cart_id)
            if cart is None:
                raise ApiError(404, "Cart not found")
            return self._json({"data": render.cart_v3(cart), "meta": {}})

    # -- v3 catalog
    def _api_products_list(self, request: Request) -> Response:
        one = self._arg_int(request, "id")
        ids = self._v3_int_list(request, "id:in")
        not_ids = self._v3_int_list(request, "id:not_in")
        id_min, id_max = self._arg_int(request, "id:min"), self._arg_int(request, "id:max")
        id_greater, id_less = self._arg_int(request, "id:greater"), self._arg_int(request, "id:less")
        name = request.args.get("name")
        name_like = (request.args.get("name:like") or "").lower() or None
        sku = (request.args.get("sku") or "").lower() or None
        skus = [value.lower() for value in self._v3_list_arg(request, "sku:in") or []] or None
        kind = request.args.get("type") or None
        is_visible = self._arg_bool(request, "is_visible")
        modified_min = self._v3_date(request, "date_modified:min")
        modified_max = self._v3_date(request, "date_modified:max")
        sort = request.args.get("sort") or "id"
        direction = (request.args.get("direction") or "asc").lower()
        if sort not in PRODUCT_SORTS or direction not in ("asc", "desc"):
            raise ApiError(422, "The filter is invalid", errors={"sort": f"unsupported sort {sort!r} {direction!r}"})
        include = self._includes(request)
        page, limit = self._v3_page(request)
        with self._lock:
            found = [
                product
                for product in self._data.catalog
                if (one is None or product.id == one)
                and (ids is None or product.id in ids)
                and (not_ids is None or product.id not in not_ids)
                and (id_min is None or product.id >= id_min)
                and (id_max is None or product.id <= id_max)
                and (id_greater is None or product.id > id_greater)
                and (id_less is None or product.id < id_less)
                and (name is None or product.name == name)
                and (name_like is None or name_like in product.name.lower())
                and (sku is None or product.sku.lower() == sku)
                and (skus is None or product.sku.lower() in skus)
                and (kind is None or product.type == kind)
                and (is_visible is None or product.is_visible == is_visible)
                and _within(product.date_modified, modified_min, modified_max)
            ]
            found.sort(key=lambda p: (PRODUCT_SORTS[sort](p), p.id), reverse=direction == "desc")
            chunk = found[(page - 1) * limit : page * limit]
            body = {
                "data": [render.product_v3(product, include=include) for product in chunk],
                "meta": {"pagination": self._pagination(len(found), len(chunk), page, limit, request)},
            }
        return self._json(body)

    def _api_product(self, product_id: int) -> Product:
        product = self._data.product(product_id)
        if product is None:
            raise ApiError(404)
        return product

    def _api_product_get(self, request: Request, product_id: int) -> Response:
        include = self._includes(request)
        with self._lock:
            return self._json({"data": render.product_v3(self._api_product(product_id), include=include), "meta": {}})

    def _api_product_variants(self, request: Request, product_id: int) -> Response:
        page, limit = self._v3_page(request)
        with self._lock:
            product = self._api_product(product_id)
            chunk = product.variants[(page - 1) * limit : page * limit]
            return self._json(
                {
                    "data": [render.variant_v3(product, variant) for variant in chunk],
                    "meta": {"pagination": self._pagination(len(product.variants), len(chunk), page, limit, request)},
                }
            )

    def _api_product_variant(self, request: Request, product_id: int, variant_id: int) -> Response:
        with self._lock:
            product = self._api_product(product_id)
            for variant in product.variants:
                if variant.id == variant_id:
                    return self._json({"data": render.variant_v3(product, variant), "meta": {}})
        raise ApiError(404)

    def _api_variants_list(self, request: Request) -> Response:
        one = self._arg_int(request, "id")
        sku = (request.args.get("sku") or "").lower() or None
        product_ids = self._v3_int_list(request, "product_id:in")
        page, limit = self._v3_page(request)
        with self._lock:
            found = [
                (product, variant)
                for product in self._data.catalog
                if product_ids is None or product.id in product_ids
                for variant in product.variants
                if (one is None or variant.id == one) and (sku is None or variant.sku.lower() == sku)
            ]
            found.sort(key=lambda pair: pair[1].id)
            chunk = found[(page - 1) * limit : page * limit]
            return self._json(
                {
                    "data": [render.variant_v3(product, variant) for product, variant in chunk],
                    "meta": {"pagination": self._pagination(len(found), len(chunk), page, limit, request)},
                }
            )

    def _api_customers_list(self, request: Request) -> Response:
        ids = self._v3_int_list(request, "id:in")
        emails = [e.lower() for e in self._v3_list_arg(request, "email:in") or []] or None
        companies = self._v3_list_arg(request, "company:in")
        groups = self._v3_int_list(request, "customer_group_id:in")
        names = [n.lower() for n in self._v3_list_arg(request, "name:in") or []] or None
        likes = [n.lower() for n in self._v3_list_arg(request, "name:like") or []] or None
        bounds = {
            name: self._v3_date(request, name)
            for name in ("date_created:min", "date_created:max", "date_modified:min", "date_modified:max")
        }
        sort = request.args.get("sort") or ""
        sort_field, _, sort_direction = sort.partition(":")
        if sort and (
            sort_field not in ("date_created", "date_modified", "last_name") or sort_direction not in ("asc", "desc")
        ):
            raise ApiError(422, "The filter is invalid", errors={"sort": f"unsupported sort {sort!r}"})
        include = self._includes(request)
        page, limit = self._v3_page(request)
        with self._lock:
            found = []
            for customer in self._data.customers.values():
                full_name = f"{customer.first_name} {customer.last_name}".lower()
                if ids is not None and customer.id not in ids:
                    continue
                if emails is not None and customer.email.lower() not in emails:
                    continue
                if companies is not None and customer.company not in companies:
                    continue
                if groups is not None and customer.customer_group_id not in groups:
                    continue
                if names is not None and full_name not in names:
                    continue
                if likes is not None and not any(like in full_name for like in likes):
                    continue
                if not _within(customer.date_created, bounds["date_created:min"], bounds["date_created:max"]):
                    continue
                if not _within(customer.date_modified, bounds["date_modified:min"], bounds["date_modified:max"]):
                    continue
                found.append(customer)
            if sort:
                found.sort(key=lambda c: (getattr(c, sort_field), c.id), reverse=sort_direction == "desc")
            chunk = found[(page - 1) * limit : page * limit]
            body = {
                "data": [render.customer_v3(customer, include=include) for customer in chunk],
                "meta": {"pagination": self._pagination(len(found), len(chunk), page, limit, request)},
            }
        return self._json(body)

    def _api_order_refunds(self, request: Request, order_id: int) -> Response:
        with self._lock:
            order = self._data.orders.get(order_id)
            if order is None:
                raise ApiError(404, f"Order {order_id} not found")
            return self._json(
                {"data": [render.refund_v3(refund, single=False) for refund in order.refunds], "meta": {}}
            )

    def _api_refund_get(self, request: Request, refund_id: int) -> Response:
        with self._lock:
            refund = self._data.refunds.get(refund_id)
            if refund is None:
                raise ApiError(404, f"Refund {refund_id} not found")
            return self._json({"data": render.refund_v3(refund, single=True), "meta": {}})

    def _api_refunds_list(self, request: Request) -> Response:
        order_ids = self._v3_int_list(request, "order_id:in")
        ids = self._v3_int_list(request, "id:in")
        created_min = self._v3_date(request, "created:min")
        created_max = self._v3_date(request, "created:max")
        page, limit = self._v3_page(request)
        with self._lock:
            found = [
                refund
                for refund in sorted(self._data.refunds.values(), key=lambda r: r.id)
                if (order_ids is None or refund.order_id in order_ids)
                and (ids is None or refund.id in ids)
                and (created_min is None or refund.created >= created_min)
                and (created_max is None or refund.created <= created_max)
            ]
            chunk = found[(page - 1) * limit : page * limit]
            return self._json(
                {
                    "data": [render.refund_v3(refund, single=False) for refund in chunk],
                    "meta": {"pagination": self._pagination(len(found), len(chunk), page, limit, request)},
                }
            )

    def _hook_404(self, hook_id: int) -> ApiError:
        return ApiError(404, f"Webhook with id [{hook_id}] not found")

    def _error_hook(self, error: ApiError) -> Response:
        body: dict[str, Any] = {
            "status": error.status,
            "title": error.message or V3_TITLES.get(error.status, "Error"),
            "type": HOOK_ERROR_TYPE,
        }
        if error.errors is not None:
            body["errors"] = error.errors
        return self._json(body, error.status)

    def _api_hooks_list(self, request: Request) -> Response:
        is_active = request.args.get("is_active")
        scope = request.args.get("scope")
        destination = request.args.get("destination")
        page, limit = self._v3_page(request)
        with self._lock:
            found = [
                hook
                for hook in self._data.hooks.values()
                if (is_active is None or hook.is_active == (is_active.lower() in ("true", "1")))
                and (scope is None or hook.scope == scope)
                and (destination is None or hook.destination == destination)
            ]
            chunk = found[(page - 1) * limit : page * limit]
            return self._json(
                {
                    "data": [self._hook_view(hook) for hook in chunk],
                    "meta": {"pagination": self._pagination(len(found), len(chunk), page, limit, request)},
                }
            )

    def _json_body(self, request: Request) -> dict[str, Any]:
        try:
            body = json.loads(request.get_data(as_text=True) or "null")
        except ValueError as exc:
            raise ApiError(400, "Input is invalid.") from exc
        if not isinstance(body, dict):
            raise ApiError(400, "Input is invalid.")
        return body

    def _api_hook_create(self, request: Request) -> Response:
        try:
            body = self._json_body(request)
            with self._lock:
                hook = self._hook_validate_create(body)
                return self._json({"data": self._hook_view(hook), "meta": {}})
        except ApiError as exc:
            return self._error_hook(exc)

    def _api_hook_get(self, request: Request, hook_id: int) -> Response:
        with self._lock:
            hook = self._data.hooks.get(hook_id)
            if hook is None:
                return self._error_hook(self._hook_404(hook_id))
            return self._json({"data": self._hook_view(hook), "meta": {}})

    def _api_hook_update(self, request: Request, hook_id: int) -> Response:
        try:
            body = self._json_body(request)
            with self._lock:
                hook = self._data.hooks.get(hook_id)
                if hook is None:
                    raise self._hook_404(hook_id)
                clean = self._hook_check(body, partial=True)
                if not clean:
                    raise ApiError(
                        422, "JSON data is missing or invalid", errors={"body": "At least one field is required."}
                    )
                for key, value in clean.items():
                    setattr(hook, key, value)
                hook.updated_at = self._unix()
                return self._json({"data": self._hook_view(hook), "meta": {}})
        except ApiError as exc:
            return self._error_hook(exc)

    def _api_hook_delete(self, request: Request, hook_id: int) -> Response:
        with self._lock:
            hook = self._data.hooks.pop(hook_id, None)
            if hook is None:
                return self._error_hook(self._hook_404(hook_id))
            return self._json({"data": self._hook_view(hook), "meta": {}})

    # ---------------------------------------------------------------- control API
    def _control(self, request: Request) -> Response:
        adapter = CONTROL_RULES.bind("sandbox", path_info=request.path)
        try:
            endpoint, args = adapter.match(method=request.method)
            body = self._control_body(request)
            result = getattr(self, f"_control_{endpoint}")(body, **args)
            return self._json(result, 201 if endpoint.endswith("_create") else 200)
        except ControlError as exc:
            return self._json({"error": exc.message}, exc.status)
        except (ValueError, TypeError) as exc:
            return self._json({"error": str(exc)}, 400)
        except TimeoutError as exc:
            return self._json({"error": str(exc)}, 504)
        except HTTPException as exc:
            return self._json({"error": exc.description}, exc.code or 500)

    @staticmethod
    def _control_body(request: Request) -> Any:
        if request.method not in ("POST", "PUT"):
            return {}
        raw = request.get_data(as_text=True)
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ControlError(400, f"invalid JSON: {exc}") from exc

    @staticmethod
    def _object(body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ControlError(400, "the body must be a JSON object")
        return body

    def _control_state(self, body: Any) -> Any:
        return self.state()

    def _control_reset(self, body: Any) -> Any:
        self.reset()
        return {"reset": True, "counts": self._counts()}

    def _control_generate(self, body: Any) -> Any:
        spec = self._object(body)
        base_date = date_parse(str(spec["base_date"])) if spec.get("base_date") else None
        return self.generate(
            int(spec.get("seed", 0)),
            int(spec.get("customers", 0)),
            int(spec.get("orders", 0)),
            int(spec.get("carts", 0)),
            base_date=base_date,
        )

    def _control_config_get(self, body: Any) -> Any:
        return self.settings_view()

    def _control_config_set(self, body: Any) -> Any:
        return self.configure(**self._object(body))

    def _control_faults_get(self, body: Any) -> Any:
        return self._faults.listing()

    def _control_faults_add(self, body: Any) -> Any:
        if isinstance(body, dict) and body.get("clear"):
            self.faults_clear()
            return []
        specs = body if isinstance(body, list) else [self._object(body)]
        return [self._faults.add(spec).as_dict() for spec in specs]

    def _control_faults_clear(self, body: Any) -> Any:
        self.faults_clear()
        return []

    def _control_calls(self, body: Any) -> Any:
        return self.calls()

    def _control_events(self, body: Any) -> Any:
        return self.events()

    def _control_deliveries(self, body: Any) -> Any:
        return self.deliveries()

    def _control_deliveries_wait(self, body: Any) -> Any:
        timeout = float(self._object(body).get("timeout", 10.0))
        self.deliveries_wait(timeout)
        return {"pending": 0}

    def _control_deliveries_release(self, body: Any) -> Any:
        self.deliveries_release()
        return {"released": True}

    def _control_order_create(self, body: Any) -> Any:
        return self.order_create(self._object(body))

    def _control_order_update(self, body: Any, order_id: int) -> Any:
        return self.order_update(order_id, **self._object(body))

    def _control_order_status_set(self, body: Any, order_id: int) -> Any:
        spec = self._object(body)
        if "status_id" not in spec:
            raise ControlError(400, "status_id is required")
        return self.order_status_set(order_id, int(spec["status_id"]))

    def _control_order_archive(self, body: Any, order_id: int) -> Any:
        return self.order_archive(order_id)

    def _control_shipment_create(self, body: Any, order_id: int) -> Any:
        spec = self._object(body)
        return self.shipment_create(
            order_id,
            items=spec.get("items"),
            tracking_number=spec.get("tracking_number"),
            shipping_provider=str(spec.get("shipping_provider", "ups")),
            tracking_carrier=str(spec.get("tracking_carrier", "")),
            comments=str(spec.get("comments", "")),
        )

    def _control_refund_create(self, body: Any, order_id: int) -> Any:
        spec = self._object(body)
        return self.refund_create(
            order_id, spec.get("amount"), items=spec.get("items"), reason=str(spec.get("reason", ""))
        )

    def _control_customer_create(self, body: Any) -> Any:
        return self.customer_create(**self._object(body))

    def _control_customer_update(self, body: Any, customer_id: int) -> Any:
        return self.customer_update(customer_id, **self._object(body))

    def _control_cart_create(self, body: Any) -> Any:
        return self.cart_create(self._object(body))

    def _control_cart_update(self, body: Any, cart_id: str) -> Any:
        return self.cart_update(cart_id, **self._object(body))

    def _control_cart_abandon(self, body: Any, cart_id: str) -> Any:
        return self.cart_abandon(cart_id)

    def _control_cart_convert(self, body: Any, cart_id: str) -> Any:
        return self.cart_convert(cart_id, **self._object(body))

    def _control_hook_signing_set(self, body: Any, hook_id: int) -> Any:
        spec = self._object(body)
        return self.hook_signing_set(
            hook_id, sign_standard=spec.get("sign_standard"), legacy_secret=spec.get("legacy_secret")
        )

    def _control_product_create(self, body: Any) -> Any:
        return self.product_create(self._object(body))

    def _control_product_update(self, body: Any, product_id: int) -> Any:
        return self.product_update(product_id, **self._object(body))

    def _control_product_delete(self, body: Any, product_id: int) -> Any:
        return self.product_delete(product_id)

    def _control_variant_create(self, body: Any, product_id: int) -> Any:
        return self.variant_create(product_id, **self._object(body))

    def _control_variant_update(self, body: Any, product_id: int, variant_id: int) -> Any:
        return self.variant_update(product_id, variant_id, **self._object(body))

    def _control_variant_delete(self, body: Any, product_id: int, variant_id: int) -> Any:
        return self.variant_delete(product_id, variant_id)

    def _control_catalog_churn(self, body: Any) -> Any:
        spec = self._object(body)
        seed = spec.get("seed")
        return self.catalog_churn(changes=int(spec.get("changes", 1)), seed=None if seed is None else int(seed))
