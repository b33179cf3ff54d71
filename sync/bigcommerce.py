"""The BigCommerce client: the only module that talks to BigCommerce.

One pooled ``requests`` session per store, ``X-Auth-Token``, timeouts, the rate-limit
headers honoured before the quota runs out (the quota is shared by every app on the
store), 204 answered as empty, and v2 (array) and v3 (object) error bodies turned into
one exception type. Money strings are parsed exactly with :func:`money`; dates with
:func:`sync.mapping.parse_datetime_any` (RFC 2822 on v2, ISO 8601 on v3).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import requests
from django.conf import settings
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from b2s.logging import secret_register
from sync.calls import CallCounter, CallCounting
from sync.mapping import parse_datetime_any
from sync.network import network_error_describe
from sync.usage import BIGCOMMERCE as BIGCOMMERCE_USAGE
from sync.usage import api_usage_record

if TYPE_CHECKING:
    from sync.models import Store

logger = logging.getLogger(__name__)

TIMEOUT = (5.0, 30.0)  # (connect, read) seconds
ORDER_INCLUDE = {"include": "consignments.line_items", "consignment_structure": "object"}
PAGE_LIMIT = 250
CUSTOMER_CHUNK = 50
PRODUCT_INCLUDE = {"include": "variants"}
PRODUCT_ID_CHUNK = 50  # ids per ``id:in`` list: keeps the URL short, one page of the answer
CURRENCIES_CACHE_SECONDS = 3600.0  # the store's currencies and exchange rates change rarely
# Sleep through the rest of the window when this few requests are left and the window ends soon;
# a longer wait is not spent inside a worker: the 429 goes back to the queue with its retry time.
MAX_SLEEP_SECONDS = 10.0

_counting = CallCounting("bigcommerce")


class BigCommerceError(Exception):
    """A BigCommerce request that did not succeed; the message never carries the access token."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        title: str = "",
        transient: bool | None = None,
        retry_after_seconds: float | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.title = title or message
        self.transient = (status == 0 or status == 429 or status >= 500) if transient is None else transient
        self.retry_after_seconds = retry_after_seconds
        self.body = body


class BigCommerceNotFound(BigCommerceError):
    """404: the object does not exist (any more)."""


def money(value: Any) -> Decimal:
    """Exact Decimal of a BigCommerce money value ("62.6793", 62.5, None or "" → 0)."""
    if value is None or value == "":
        return Decimal("0")
    if isinstance(value, bool):
        raise ValueError(f"not a money value: {value!r}")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        # v3 bodies carry some amounts as JSON numbers; repr is the shortest text that
        # round-trips, i.e. the digits BigCommerce wrote.
        return Decimal(repr(value))
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"not a money value: {value!r}") from None


def bigcommerce_datetime(value: Any) -> datetime | None:
    """A BigCommerce date (RFC 2822, ISO 8601 or Unix seconds) as an aware datetime; None when empty."""
    return parse_datetime_any(value)


def _error_title(body: Any) -> str:
    if isinstance(body, list):  # v2: [{"status": 404, "message": "..."}]
        messages = [str(entry.get("message", "")) for entry in body if isinstance(entry, dict)]
        return "; ".join(message for message in messages if message)
    if isinstance(body, dict):  # v3: {"status", "title", "type", "errors"?}
        title = str(body.get("title") or body.get("message") or "")
        errors = body.get("errors")
        if isinstance(errors, dict) and errors:
            title += " (" + "; ".join(f"{field}: {message}" for field, message in errors.items()) + ")"
        return title
    return str(body or "")[:300]


def _rate_limit_short(error: BaseException) -> bool:
    """A 429 whose window resets within MAX_SLEEP_SECONDS: worth sleeping out here."""
    if not isinstance(error, BigCommerceError) or error.status != 429:
        return False
    return error.retry_after_seconds is not None and error.retry_after_seconds <= MAX_SLEEP_SECONDS


def _rate_limit_reset(retry_state: RetryCallState) -> float:
    """The 429's own reset time: BigCommerce says when the window opens again."""
    error = retry_state.outcome.exception() if retry_state.outcome else None
    return getattr(error, "retry_after_seconds", None) or 0.0


def _header_int(response: requests.Response, name: str) -> int | None:
    value = response.headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class BigCommerceClient:
    """REST access to one store's API."""

    def __init__(self, *, store: Store, session: requests.Session | None = None) -> None:
        self.store = store
        self.base_url = f"{store.api_base_url.rstrip('/')}/stores/{store.store_hash}"
        secret_register(store.access_token)
        if session is None:
            session = requests.Session()
            ca_bundle = getattr(settings, "BIGCOMMERCE_CA_BUNDLE", "")
            if ca_bundle:
                session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
                session.verify = ca_bundle
            adapter = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=16)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        session.headers.update(
            {"X-Auth-Token": store.access_token, "Accept": "application/json", "Content-Type": "application/json"}
        )
        self.session = session
        self._limit_lock = threading.Lock()
        self._requests_left: int | None = None
        self._quota: int | None = None
        self._window_ends_at = 0.0  # time.monotonic() when the current window resets
        self._currencies: tuple[float, list[dict]] | None = None

    # -- rate limits -------------------------------------------------------------------------
    def _limits_read(self, response: requests.Response) -> None:
        left = _header_int(response, "X-Rate-Limit-Requests-Left")
        reset_ms = _header_int(response, "X-Rate-Limit-Time-Reset-Ms")
        quota = _header_int(response, "X-Rate-Limit-Requests-Quota")
        window_ms = _header_int(response, "X-Rate-Limit-Time-Window-Ms")
        if left is not None and quota is not None and window_ms is not None:
            # The store's usage in the current window, for the dashboard (no write per request).
            api_usage_record(
                service=BIGCOMMERCE_USAGE,
                store_id=self.store.pk,
                used=max(0, quota - left),
                limit=quota,
                window_seconds=max(1, window_ms // 1000),
            )
        with self._limit_lock:
            if left is not None:
                self._requests_left = left
            if quota is not None:
                self._quota = quota
            if reset_ms is not None:
                self._window_ends_at = time.monotonic() + reset_ms / 1000

    def _limits_wait(self) -> None:
        """Sleep out the window when the quota is nearly spent and the window ends soon."""
        with self._limit_lock:
            left, quota, ends_at = self._requests_left, self._quota, self._window_ends_at
        if left is None:
            return
        low_water = max(1, (quota or 150) // 30)
        wait = ends_at - time.monotonic()
        if left <= low_water and 0 < wait <= MAX_SLEEP_SECONDS:
            logger.info("BigCommerce quota nearly spent (%s left); waiting %.1f s for the window", left, wait)
            time.sleep(wait)
            with self._limit_lock:
                self._requests_left = None  # unknown until the next answer

    # -- requests ----------------------------------------------------------------------------
    def request(self, method: str, path: str, *, params: dict | None = None, json: Any = None) -> Any:
        """One call; ``path`` like ``/v2/orders/1``. Parsed JSON, None for 204; raises BigCommerceError."""
        # A 429 whose window resets soon is slept out once and tried again; a longer one (or a second
        # 429) goes back to the caller with its retry time, so no worker sleeps through a long window.
        retrying = Retrying(
            retry=retry_if_exception(_rate_limit_short),
            stop=stop_after_attempt(2),
            wait=_rate_limit_reset,
            reraise=True,
        )
        return retrying(self._request_once, method, path, params=params, json=json)

    def _request_once(self, method: str, path: str, *, params: dict | None, json: Any) -> Any:
        self._limits_wait()
        _counting.add()
        try:
            response = self.session.request(method, self.base_url + path, params=params, json=json, timeout=TIMEOUT)
        except requests.RequestException as error:
            permanent = network_error_describe(
                error=error, url=self.base_url, ca_setting="BIGCOMMERCE_CA_BUNDLE", url_setting="the store's API URL"
            )
            if permanent:
                # Status 0 but not transient: the same request fails the same way until the setting is fixed.
                raise BigCommerceError(f"BigCommerce {method} {path} failed: {permanent}", transient=False) from None
            raise BigCommerceError(f"BigCommerce {method} {path} failed: {type(error).__name__}", status=0) from None
        self._limits_read(response)
        if response.status_code == 429:
            reset_ms = _header_int(response, "X-Rate-Limit-Time-Reset-Ms")
            raise BigCommerceError(
                f"BigCommerce {method} {path} → 429: rate limit reached",
                status=429,
                title="Too many requests",
                retry_after_seconds=reset_ms / 1000 if reset_ms is not None else None,
                body=_body(response),
            )
        return _result(response, method=method, path=path)

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[list[dict]]:
        """v2 pages of ``limit`` until an empty (204) or short page."""
        page = int(params.pop("page", 1))
        limit = int(params.pop("limit", PAGE_LIMIT))
        while True:
            rows = self.request("GET", path, params={**params, "page": page, "limit": limit}) or []
            if rows:
                yield rows
            if len(rows) < limit:
                return
            page += 1

    def _v3_all(self, path: str, params: dict[str, Any]) -> list[dict]:
        """Every item of a v3 list, following ``meta.pagination``."""
        items: list[dict] = []
        page = int(params.pop("page", 1))
        while True:
            body = self.request("GET", path, params={**params, "page": page}) or {}
            items.extend(body.get("data") or [])
            pagination = (body.get("meta") or {}).get("pagination") or {}
            if page >= int(pagination.get("total_pages") or 1):
                return items
            page += 1

    # -- orders ------------------------------------------------------------------------------
    def order_get(self, order_id: int) -> dict:
        """GET /v2/orders/{id} with its consignments (line items included)."""
        order: dict = self.request("GET", f"/v2/orders/{int(order_id)}", params=dict(ORDER_INCLUDE))
        return order

    def orders_list(self, **filters: Any) -> list[dict]:
        """One page of /v2/orders (filters such as min_date_modified, page, limit, sort); 204 → []."""
        return self.request("GET", "/v2/orders", params={**ORDER_INCLUDE, **filters}) or []

    def orders_by_id(self, order_ids: Iterable[int]) -> dict[int, dict]:
        """The orders of ``order_ids`` the order list returns (with their consignments' lines), by id.

        Ids within one page's span (fewer than 250 apart) share one ``min_id``/``max_id`` request, so a burst
        of new orders costs one request per 250. The list leaves some orders out (Incomplete, archived):
        those are missing from the answer, for the caller to fetch one by one.
        """
        wanted = sorted({int(order_id) for order_id in order_ids})
        found: dict[int, dict] = {}
        first = 0
        while first < len(wanted):
            last = first
            while last + 1 < len(wanted) and wanted[last + 1] - wanted[first] < PAGE_LIMIT:
                last += 1
            rows = self.orders_list(min_id=wanted[first], max_id=wanted[last], limit=PAGE_LIMIT)
            chosen = set(wanted[first : last + 1])
            found.update({int(row["id"]): row for row in rows if int(row["id"]) in chosen})
            first = last + 1
        return found

    def orders_iter(self, **filters: Any) -> Iterator[dict]:
        """Every order matching ``filters``, 250 a page, until an empty or short page."""
        for rows in self._pages("/v2/orders", {**ORDER_INCLUDE, **filters}):
            yield from rows

    def orders_count(self, **filters: Any) -> int:
        """GET /v2/orders/count."""
        body = self.request("GET", "/v2/orders/count", params=filters) or {}
        return int(body.get("count", 0))

    def order_products(self, order_id: int) -> list[dict]:
        """Every line of the order (all pages)."""
        return [row for rows in self._pages(f"/v2/orders/{int(order_id)}/products", {}) for row in rows]

    def order_shipping_addresses(self, order_id: int) -> list[dict]:
        """The order's shipping addresses; 204 → []."""
        return [row for rows in self._pages(f"/v2/orders/{int(order_id)}/shipping_addresses", {}) for row in rows]

    def order_shipments(self, order_id: int) -> list[dict]:
        """The order's shipments; 204 (none) → []."""
        return [row for rows in self._pages(f"/v2/orders/{int(order_id)}/shipments", {}) for row in rows]

    def order_update(self, order_id: int, body: dict[str, Any]) -> dict:
        """PUT /v2/orders/{id} (e.g. ``{"status_id": 2}``); the order as updated."""
        order: dict = self.request("PUT", f"/v2/orders/{int(order_id)}", json=body)
        return order

    def order_shipment_create(self, order_id: int, body: dict[str, Any]) -> dict:
        """POST /v2/orders/{id}/shipments (``order_address_id``, ``items``, tracking); the shipment created."""
        shipment: dict = self.request("POST", f"/v2/orders/{int(order_id)}/shipments", json=body)
        return shipment

    def order_refunds(self, order_id: int) -> list[dict]:
        """GET /v3/orders/{id}/payment_actions/refunds."""
        body = self.request("GET", f"/v3/orders/{int(order_id)}/payment_actions/refunds") or {}
        return list(body.get("data") or [])

    def refund_get(self, refund_id: int) -> dict:
        """GET /v3/orders/payment_actions/refunds/{refund_id}."""
        body = self.request("GET", f"/v3/orders/payment_actions/refunds/{int(refund_id)}") or {}
        return body.get("data") or {}

    # -- catalog -----------------------------------------------------------------------------
    def product_get(self, product_id: int) -> dict:
        """GET /v3/catalog/products/{id}?include=variants; raises BigCommerceNotFound when it is gone."""
        body = self.request("GET", f"/v3/catalog/products/{int(product_id)}", params=dict(PRODUCT_INCLUDE)) or {}
        return body.get("data") or {}

    def products_page(self, *, after_id: int = 0, limit: int = PAGE_LIMIT) -> tuple[list[dict], int]:
        """The next page of /v3/catalog/products with their variants, ids above ``after_id`` ascending.

        Answers (products, how many products there are above ``after_id``: ``meta.pagination.total``). Walking by
        ``id:greater`` rather than page numbers: a product created or deleted meanwhile shifts no page.
        """
        params: dict[str, Any] = {**PRODUCT_INCLUDE, "sort": "id", "direction": "asc", "page": 1, "limit": limit}
        if after_id:
            params["id:greater"] = int(after_id)
        body = self.request("GET", "/v3/catalog/products", params=params) or {}
        pagination = (body.get("meta") or {}).get("pagination") or {}
        return list(body.get("data") or []), int(pagination.get("total") or 0)

    def products_by_id(self, product_ids: Iterable[int]) -> dict[int, dict]:
        """Products (with variants) by id, ``id:in`` lists of 50; ids that do not exist are simply absent."""
        wanted = sorted({int(value) for value in product_ids if int(value) > 0})
        found: dict[int, dict] = {}
        for start in range(0, len(wanted), PRODUCT_ID_CHUNK):
            chunk = wanted[start : start + PRODUCT_ID_CHUNK]
            params = {**PRODUCT_INCLUDE, "id:in": ",".join(str(value) for value in chunk), "limit": PRODUCT_ID_CHUNK}
            for product in self._v3_all("/v3/catalog/products", params):
                found[int(product["id"])] = product
        return found

    def currencies(self) -> list[dict]:
        """GET /v2/currencies (code, exchange rate from the default currency, enabled), cached for an hour."""
        with self._limit_lock:
            cached = self._currencies
        if cached is not None and time.monotonic() - cached[0] < CURRENCIES_CACHE_SECONDS:
            return cached[1]
        rows = [row for rows in self._pages("/v2/currencies", {}) for row in rows]
        with self._limit_lock:
            self._currencies = (time.monotonic(), rows)
        return rows

    # -- customers and carts -----------------------------------------------------------------
    def customers_get(self, ids: list[int]) -> dict[int, dict]:
        """Customers by id (with addresses); missing ids are simply absent."""
        found: dict[int, dict] = {}
        wanted = sorted({int(value) for value in ids if int(value) > 0})
        for start in range(0, len(wanted), CUSTOMER_CHUNK):
            chunk = wanted[start : start + CUSTOMER_CHUNK]
            params = {"id:in": ",".join(str(value) for value in chunk), "include": "addresses", "limit": CUSTOMER_CHUNK}
            for customer in self._v3_all("/v3/customers", params):
                found[int(customer["id"])] = customer
        return found

    def cart_get(self, cart_id: str) -> dict:
        """GET /v3/carts/{id}; raises BigCommerceNotFound when the cart is gone (converted or expired)."""
        body = self.request("GET", f"/v3/carts/{cart_id}") or {}
        return body.get("data") or {}

    # -- hooks -------------------------------------------------------------------------------
    def hooks_list(self, **filters: Any) -> list[dict]:
        """Every registered hook matching ``filters`` (scope, destination, is_active)."""
        return self._v3_all("/v3/hooks", dict(filters))

    def hook_create(self, body: dict) -> dict:
        """POST /v3/hooks."""
        return (self.request("POST", "/v3/hooks", json=body) or {}).get("data") or {}

    def hook_update(self, hook_id: int, body: dict) -> dict:
        """PUT /v3/hooks/{id}."""
        return (self.request("PUT", f"/v3/hooks/{int(hook_id)}", json=body) or {}).get("data") or {}

    def hook_delete(self, hook_id: int) -> dict:
        """DELETE /v3/hooks/{id}; answers the deleted hook."""
        return (self.request("DELETE", f"/v3/hooks/{int(hook_id)}") or {}).get("data") or {}


def _body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:1000]


def _result(response: requests.Response, *, method: str, path: str) -> Any:
    status = response.status_code
    if status == 204 or (200 <= status < 300 and not response.content):
        return None
    body = _body(response)
    if 200 <= status < 300:
        return body
    title = _error_title(body) or response.reason or f"HTTP {status}"
    message = f"BigCommerce {method} {path} → {status}: {title}"
    error_class = BigCommerceNotFound if status == 404 else BigCommerceError
    raise error_class(message, status=status, title=title, body=body)


_clients: dict[int, tuple[Any, BigCommerceClient]] = {}
_clients_lock = threading.Lock()


def bigcommerce_client(store: Store) -> BigCommerceClient:
    """The client for ``store``, reused until the store row changes (new token, URL, ...)."""
    with _clients_lock:
        cached = _clients.get(store.pk)
        if cached is not None and cached[0] == store.updated_at:
            return cached[1]
        client = BigCommerceClient(store=store)
        _clients[store.pk] = (store.updated_at, client)
        return client


def bigcommerce_clients_reset() -> None:
    """Forget the cached clients (tests)."""
    with _clients_lock:
        _clients.clear()


@contextmanager
def bigcommerce_calls_counted() -> Iterator[CallCounter]:
    """``counter.count`` = BigCommerce requests made inside the block (nests)."""
    with _counting.counted() as counter:
        yield counter


def bigcommerce_calls_total() -> int:
    """BigCommerce requests this process has made since it started."""
    return _counting.total
