"""The in-memory store of the BigCommerce stand-in: records, money and dates.

Only the *inputs* of an order are stored (lines, unit prices, tax rate, shipping, discounts, refunds);
every total is derived from them when rendered, so no mutation can leave an order inconsistent.
All money is ``Decimal`` rounded to the cent; BigCommerce prints it with four decimals.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# Dates of the generated catalog: fixed, so a seed always gives the same store.
CATALOG_EPOCH = datetime(2024, 3, 1, 9, 0, 0, tzinfo=UTC)

# id -> (name, system description), from the OpenAPI order status table.
ORDER_STATUSES: dict[int, tuple[str, str]] = {
    0: (
        "Incomplete",
        "An incomplete order happens when a shopper reached the payment page, but did not complete the transaction.",
    ),
    1: ("Pending", "Customer started the checkout process, but did not complete it."),
    2: (
        "Shipped",
        "Order has been shipped, but receipt has not been confirmed; seller has used the Ship Items action.",
    ),
    3: (
        "Partially Shipped",
        "Only some items in the order have been shipped, due to some products being pre-order only or other reasons.",
    ),
    4: ("Refunded", "Seller has used the Refund action."),
    5: ("Cancelled", "Seller has cancelled an order, due to a stock inconsistency or other reasons."),
    6: ("Declined", "Seller has marked the order as declined for lack of manual payment, or other reasons."),
    7: ("Awaiting Payment", "Customer has completed checkout process, but payment has yet to be confirmed."),
    8: (
        "Awaiting Pickup",
        "Order has been pulled, and is awaiting customer pickup from a seller-specified location.",
    ),
    9: (
        "Awaiting Shipment",
        "Order has been pulled and packaged, and is awaiting collection from a shipping provider.",
    ),
    10: (
        "Completed",
        "Client has paid for their digital product and their file(s) are available for download.",
    ),
    11: ("Awaiting Fulfillment", "Customer has completed the checkout process and payment has been confirmed."),
    12: ("Manual Verification Required", "Order is on hold while some aspect needs to be manually confirmed."),
    13: (
        "Disputed",
        "Customer has initiated a dispute resolution process for the PayPal transaction that paid for the order.",
    ),
    14: ("Partially Refunded", "Seller has partially refunded the order."),
}
# The control panel's display order, as in the OpenAPI example of /orders/count.
STATUS_SORT_ORDER = {0: 0, 1: 1, 7: 2, 11: 3, 9: 4, 8: 5, 3: 6, 10: 7, 2: 8, 5: 9, 6: 10, 4: 11, 13: 12, 12: 13, 14: 14}

PAYMENT_STATUS_BY_STATUS = {
    0: "",
    1: "pending",
    2: "captured",
    3: "captured",
    4: "refunded",
    5: "void",
    6: "declined",
    7: "pending",
    8: "captured",
    9: "captured",
    10: "captured",
    11: "captured",
    12: "held for review",
    13: "captured",
    14: "partially refunded",
}

# code -> (currency_id, exchange rate from the store default USD to this transactional currency)
CURRENCIES = {"USD": (1, "1.0000000000"), "EUR": (2, "0.9200000000"), "GBP": (3, "0.7900000000")}


def money(value: Any) -> Decimal:
    """Parse a money value exactly and round it to the cent (floats go through ``repr``, never binary)."""
    if isinstance(value, Decimal):
        number = value
    else:
        if isinstance(value, float):
            value = repr(value)
        try:
            number = Decimal(str(value).strip())
        except (InvalidOperation, ValueError) as exc:
            raise ValueError(f"not a money value: {value!r}") from exc
    if not number.is_finite():
        raise ValueError(f"not a money value: {value!r}")
    return number.quantize(CENT, rounding=ROUND_HALF_UP)


def money4(value: Decimal) -> str:
    """BigCommerce's money string: four decimals, e.g. ``"62.6700"``."""
    return f"{value.quantize(Decimal('0.0001')):f}"


def money_number(value: Decimal) -> float:
    """Money where the OpenAPI schema says ``number`` (v3 carts and refunds, v2 consignments)."""
    return float(value)


def tax_of(amount: Decimal, rate: Decimal) -> Decimal:
    """Tax on an ex-tax amount, rounded half-up to the cent."""
    return (amount * rate).quantize(CENT, rounding=ROUND_HALF_UP)


def allocate(amount: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Split ``amount`` over ``weights`` in cents; the shares add up to ``amount`` exactly.

    Shares are rounded down and the last one takes the remainder, so the split is stable and exact.
    """
    if not weights:
        return []
    total = sum(weights, ZERO)
    if total <= 0:
        return [ZERO] * (len(weights) - 1) + [amount]
    shares = [(amount * weight / total).quantize(CENT, rounding=ROUND_DOWN) for weight in weights[:-1]]
    return [*shares, amount - sum(shares, ZERO)]


def rfc2822(moment: datetime | None) -> str:
    """v2 date: ``Tue, 05 Mar 2019 21:40:11 +0000`` (``""`` when there is none, as BigCommerce does)."""
    if moment is None:
        return ""
    return email.utils.format_datetime(moment.astimezone(UTC).replace(microsecond=0))


def iso_z(moment: datetime) -> str:
    """v3 customers' date: ``2019-06-25T16:53:26Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_offset(moment: datetime) -> str:
    """v3 carts' and refunds' date: ``2019-06-25T16:53:26+00:00``."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def date_parse(text: str) -> datetime:
    """Parse a filter date given as RFC 2822, ISO 8601 (date or date-time) or Unix seconds."""
    value = text.strip()
    if not value:
        raise ValueError("empty date")
    if value.lstrip("-").isdigit():
        return datetime.fromtimestamp(int(value), tz=UTC)
    if value[:1].isalpha():
        # An unencoded "+0000" in a query string arrives as " 0000".
        value = re.sub(r"(\d\d:\d\d(?::\d\d)?)\s+(\d{4})$", r"\1 +\2", value)
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"not an RFC 2822 date: {text!r}") from exc
    else:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "+"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


@dataclass
class Address:
    """A v2 address (billing or shipping)."""

    first_name: str = ""
    last_name: str = ""
    company: str = ""
    street_1: str = ""
    street_2: str = ""
    city: str = ""
    state: str = ""
    zip: str = ""
    country: str = ""
    country_iso2: str = ""
    phone: str = ""
    email: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "first_name": self.first_name,
            "last_name": self.last_name,
            "company": self.company,
            "street_1": self.street_1,
            "street_2": self.street_2,
            "city": self.city,
            "state": self.state,
            "zip": self.zip,
            "country": self.country,
            "country_iso2": self.country_iso2,
            "phone": self.phone,
            "email": self.email,
        }


@dataclass
class ProductVariant:
    """A variant (a purchasable SKU) of a catalog product.

    A product without options has exactly one *base variant*: no option value, no v2 SKU record
    (``sku_id`` None), the product's own SKU. A product with options has one variant per option value, each
    with its own ``sku_id`` (the id ``store/sku/*`` callbacks carry) and SKU code.
    """

    id: int
    sku: str
    option_name: str  # e.g. "Size"; "" for a base variant
    option_value: str  # e.g. "M"
    option_id: int
    value_id: int
    sku_id: int | None = None
    price: Decimal | None = None  # None: the product's price applies
    purchasing_disabled: bool = False

    @property
    def is_base(self) -> bool:
        return not self.option_name


@dataclass
class Product:
    """A catalog product (``/v3/catalog/products``); prices are in the store's default currency (USD)."""

    id: int
    name: str
    sku: str
    price: Decimal
    brand: str
    type: str  # physical | digital
    weight: Decimal
    variants: list[ProductVariant] = field(default_factory=list)
    option_set_id: int | None = None
    description: str = ""
    is_visible: bool = True
    date_created: datetime = CATALOG_EPOCH
    date_modified: datetime = CATALOG_EPOCH
    sale_price: Decimal = ZERO
    retail_price: Decimal = ZERO
    cost_price: Decimal = ZERO
    inventory_level: int = 0

    def variant_price(self, variant: ProductVariant) -> Decimal:
        """What a variant sells for: its own price, or the product's."""
        return self.price if variant.price is None else variant.price

    @property
    def base_variant(self) -> ProductVariant | None:
        if len(self.variants) == 1 and self.variants[0].is_base:
            return self.variants[0]
        return None


@dataclass
class Line:
    """One order line (``/v2/orders/{id}/products``). ``product_id`` 0 marks a custom item."""

    id: int
    product_id: int
    variant_id: int
    name: str
    sku: str
    type: str
    price_ex_tax: Decimal
    price_tax: Decimal
    quantity: int
    brand: str = ""
    weight: Decimal = ZERO
    cost_price: Decimal = ZERO
    options: list[dict[str, Any]] = field(default_factory=list)
    option_set_id: int | None = None
    wrapping_ex_tax: Decimal = ZERO
    wrapping_tax: Decimal = ZERO
    quantity_shipped: int = 0
    quantity_refunded: int = 0
    refund_amount: Decimal = ZERO

    @property
    def price_inc_tax(self) -> Decimal:
        return self.price_ex_tax + self.price_tax

    @property
    def total_ex_tax(self) -> Decimal:
        return self.price_ex_tax * self.quantity

    @property
    def total_tax(self) -> Decimal:
        return self.price_tax * self.quantity

    @property
    def total_inc_tax(self) -> Decimal:
        return self.price_inc_tax * self.quantity


@dataclass
class Coupon:
    id: int
    coupon_id: int
    code: str
    type: int  # 0 per item, 1 percentage, 2 per total, 3 shipping, 4 free shipping, 5 promotion
    amount: Decimal  # the coupon's face value (percent for type 1)
    discount: Decimal  # what it took off this order


@dataclass
class ShippingAddress:
    id: int
    address: Address
    shipping_method: str = "Flat Rate"
    zone_id: int = 1
    zone_name: str = "United States"


@dataclass
class Shipment:
    id: int
    order_id: int
    date_created: datetime
    tracking_number: str
    shipping_provider: str
    tracking_carrier: str
    shipping_method: str
    comments: str
    order_address_id: int
    items: list[tuple[int, int, int]]  # (order_product_id, product_id, quantity)
    tracking_link: str = ""  # a custom link given on POST; BigCommerce answers "" otherwise
    merchant_shipping_cost: Decimal = ZERO


@dataclass
class RefundItem:
    item_type: str  # PRODUCT | SHIPPING | HANDLING | GIFT_WRAPPING | ORDER | FEE
    item_id: int
    quantity: int | None
    requested_amount: Decimal | None
    reason: str = ""


@dataclass
class Refund:
    id: int
    order_id: int
    created: datetime
    reason: str
    total_amount: Decimal
    total_tax: Decimal
    items: list[RefundItem]
    payment_id: int
    provider_id: str
    offline: bool


@dataclass
class Order:
    """A v2 order; totals are derived (see :func:`order_totals`)."""

    id: int
    customer_id: int
    date_created: datetime
    date_modified: datetime
    status_id: int
    currency_code: str
    tax_rate: Decimal
    billing: Address
    lines: list[Line]
    shipping: ShippingAddress | None
    cart_id: str | None = None
    channel_id: int = 1
    date_shipped: datetime | None = None
    payment_method: str = "Credit Card"
    payment_provider_id: str = ""
    shipping_cost_ex_tax: Decimal = ZERO
    handling_cost_ex_tax: Decimal = ZERO
    discount_amount: Decimal = ZERO
    coupons: list[Coupon] = field(default_factory=list)
    shipments: list[Shipment] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    is_deleted: bool = False
    order_source: str = "www"
    ip_address: str = ""
    customer_message: str = ""
    staff_notes: str = ""
    is_email_opt_in: bool = False
    customer_locale: str = "en"
    external_source: str | None = None
    external_order_id: str = ""


@dataclass
class CustomerAddress:
    id: int
    first_name: str
    last_name: str
    company: str
    address1: str
    address2: str
    city: str
    state_or_province: str
    postal_code: str
    country_code: str
    country: str
    phone: str
    address_type: str = "residential"


@dataclass
class Customer:
    id: int
    email: str
    first_name: str
    last_name: str
    date_created: datetime
    date_modified: datetime
    company: str = ""
    phone: str = ""
    customer_group_id: int = 0
    notes: str = ""
    registration_ip_address: str = ""
    accepts_marketing: bool = False
    addresses: list[CustomerAddress] = field(default_factory=list)


@dataclass
class CartItem:
    id: str
    product_id: int  # 0 for a custom item
    variant_id: int
    sku: str
    name: str
    quantity: int
    list_price: Decimal
    sale_price: Decimal
    kind: str  # physical | digital | custom
    url: str = ""
    image_url: str = ""


@dataclass
class Cart:
    id: str
    customer_id: int
    email: str
    currency_code: str
    items: list[CartItem]
    created_time: datetime
    updated_time: datetime
    channel_id: int = 1
    discount_amount: Decimal = ZERO
    coupon_code: str = ""
    coupon_discount: Decimal = ZERO
    coupon_id: int = 0
    locale: str = "en"
    version: int = 1

    @property
    def base_amount(self) -> Decimal:
        return sum((item.sale_price * item.quantity for item in self.items), ZERO)

    @property
    def cart_amount(self) -> Decimal:
        return self.base_amount - self.discount_amount - self.coupon_discount


@dataclass
class Hook:
    id: int
    scope: str
    destination: str
    is_active: bool
    headers: dict[str, str] | None
    created_at: int
    updated_at: int
    # Sandbox-only: per-hook signing override (None = use the global settings).
    sign_standard: bool | None = None
    legacy_secret: str | None = None


@dataclass
class Counters:
    """Next ids; BigCommerce numbers orders from 100."""

    customer: int = 1
    address: int = 1
    order: int = 100
    line: int = 1
    shipping_address: int = 1
    shipment: int = 1
    refund: int = 1
    refund_payment: int = 1
    coupon: int = 1
    hook: int = 22561593
    product: int = 1
    variant: int = 1
    option_value: int = 1
    sku: int = 300

    def take(self, name: str) -> int:
        value: int = getattr(self, name)
        setattr(self, name, value + 1)
        return value


@dataclass
class StoreData:
    """Everything a store holds. Not thread-safe on its own: the app guards it with one lock."""

    catalog: list[Product] = field(default_factory=list)
    # Deleted products: gone from the API (404), kept so old order lines still name them.
    deleted_products: dict[int, Product] = field(default_factory=dict)
    customers: dict[int, Customer] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    carts: dict[str, Cart] = field(default_factory=dict)
    refunds: dict[int, Refund] = field(default_factory=dict)
    hooks: dict[int, Hook] = field(default_factory=dict)
    counters: Counters = field(default_factory=Counters)

    def product(self, product_id: int) -> Product | None:
        """A live (not deleted) catalog product."""
        return next((product for product in self.catalog if product.id == product_id), None)

    def sellable(self) -> list[Product]:
        """Products a shopper can buy: visible and not deleted (what random orders and carts pick from)."""
        return [product for product in self.catalog if product.is_visible]

    def customer_by_email(self, email: str) -> Customer | None:
        wanted = email.strip().lower()
        for customer in self.customers.values():
            if customer.email.lower() == wanted:
                return customer
        return None


@dataclass
class OrderTotals:
    subtotal_ex_tax: Decimal
    subtotal_inc_tax: Decimal
    subtotal_tax: Decimal
    shipping_cost_ex_tax: Decimal
    shipping_cost_tax: Decimal
    shipping_cost_inc_tax: Decimal
    handling_cost_ex_tax: Decimal
    handling_cost_tax: Decimal
    handling_cost_inc_tax: Decimal
    wrapping_cost_ex_tax: Decimal
    wrapping_cost_tax: Decimal
    wrapping_cost_inc_tax: Decimal
    discount_amount: Decimal
    coupon_discount: Decimal
    total_inc_tax: Decimal
    total_tax: Decimal
    total_ex_tax: Decimal
    refunded_amount: Decimal
    items_total: int
    items_shipped: int


def order_totals(order: Order) -> OrderTotals:
    """Derive every total of an order (the formula is documented in ``sandbox/README.md``)."""
    subtotal_ex = sum((line.total_ex_tax for line in order.lines), ZERO)
    subtotal_tax = sum((line.total_tax for line in order.lines), ZERO)
    subtotal_inc = subtotal_ex + subtotal_tax
    shipping_tax = tax_of(order.shipping_cost_ex_tax, order.tax_rate)
    handling_tax = tax_of(order.handling_cost_ex_tax, order.tax_rate)
    wrapping_ex = sum((line.wrapping_ex_tax for line in order.lines), ZERO)
    wrapping_tax = sum((line.wrapping_tax for line in order.lines), ZERO)
    coupon_discount = sum((coupon.discount for coupon in order.coupons), ZERO)
    total_inc = (
        subtotal_inc
        + order.shipping_cost_ex_tax
        + shipping_tax
        + order.handling_cost_ex_tax
        + handling_tax
        + wrapping_ex
        + wrapping_tax
        - order.discount_amount
        - coupon_discount
    )
    # Discounts come off the tax-inclusive amount and do not reduce the tax (BigCommerce's own example,
    # order 218 in the OpenAPI file, adds up exactly this way).
    total_tax = subtotal_tax + shipping_tax + handling_tax + wrapping_tax
    return OrderTotals(
        subtotal_ex_tax=subtotal_ex,
        subtotal_inc_tax=subtotal_inc,
        subtotal_tax=subtotal_tax,
        shipping_cost_ex_tax=order.shipping_cost_ex_tax,
        shipping_cost_tax=shipping_tax,
        shipping_cost_inc_tax=order.shipping_cost_ex_tax + shipping_tax,
        handling_cost_ex_tax=order.handling_cost_ex_tax,
        handling_cost_tax=handling_tax,
        handling_cost_inc_tax=order.handling_cost_ex_tax + handling_tax,
        wrapping_cost_ex_tax=wrapping_ex,
        wrapping_cost_tax=wrapping_tax,
        wrapping_cost_inc_tax=wrapping_ex + wrapping_tax,
        discount_amount=order.discount_amount,
        coupon_discount=coupon_discount,
        total_inc_tax=total_inc,
        total_tax=total_tax,
        total_ex_tax=total_inc - total_tax,
        refunded_amount=sum((refund.total_amount for refund in order.refunds), ZERO),
        items_total=sum(line.quantity for line in order.lines),
        items_shipped=sum(line.quantity_shipped for line in order.lines),
    )


def line_discounts(order: Order) -> dict[int, list[dict[str, Any]]]:
    """The order-level discount and each coupon, spread over the lines in proportion to their totals."""
    result: dict[int, list[dict[str, Any]]] = {line.id: [] for line in order.lines}
    weights = [line.total_inc_tax for line in order.lines]
    pools: list[tuple[Decimal, dict[str, Any]]] = []
    if order.discount_amount:
        pools.append((order.discount_amount, {"id": "manual-discount", "name": "Manual Discount", "code": None}))
    for coupon in order.coupons:
        if coupon.discount:
            pools.append(
                (
                    coupon.discount,
                    {"id": str(coupon.coupon_id), "name": f"Coupon {coupon.code}", "code": coupon.code},
                )
            )
    for amount, meta in pools:
        for line, share in zip(order.lines, allocate(amount, weights), strict=True):
            if share:
                result[line.id].append({**meta, "amount": share, "target": "order"})
    return result


def order_refundable(order: Order) -> Decimal:
    """What is left to refund on an order."""
    totals = order_totals(order)
    return totals.total_inc_tax - totals.refunded_amount
