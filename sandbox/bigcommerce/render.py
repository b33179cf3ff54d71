"""Render store records as BigCommerce's JSON bodies (shapes from the OpenAPI files).

``api_base`` is the store's API root as this stand-in is reached, e.g.
``https://127.0.0.1:8443/stores/sandbox``, so link objects point back at the stand-in.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sandbox.bigcommerce.store import (
    CURRENCIES,
    ORDER_STATUSES,
    PAYMENT_STATUS_BY_STATUS,
    STATUS_SORT_ORDER,
    ZERO,
    Cart,
    Customer,
    Hook,
    Line,
    Order,
    Product,
    ProductVariant,
    Refund,
    Shipment,
    iso_offset,
    iso_z,
    line_discounts,
    money4,
    money_number,
    order_totals,
    rfc2822,
)

STORE_DEFAULT_CURRENCY = "USD"
SHIPPING_PROVIDER_NAMES = {"ups": "UPS", "usps": "USPS", "fedex": "FedEx", "royalmail": "Royal Mail", "": ""}


def link(api_base: str, resource: str) -> dict[str, str]:
    """A v2 link object ``{url, resource}``."""
    return {"url": f"{api_base}/v2{resource}", "resource": resource}


def order_v2(
    order: Order,
    api_base: str,
    *,
    include: frozenset[str] = frozenset(),
    consignment_object: bool = False,
) -> dict[str, Any]:
    """``GET /v2/orders/{id}``; ``include`` may hold consignments, consignments.line_items, fees."""
    t = order_totals(order)
    currency_id, rate = CURRENCIES.get(order.currency_code, (1, "1.0000000000"))
    status_name = ORDER_STATUSES[order.status_id][0]
    body: dict[str, Any] = {
        "id": order.id,
        "customer_id": order.customer_id,
        "date_created": rfc2822(order.date_created),
        "date_modified": rfc2822(order.date_modified),
        "date_shipped": rfc2822(order.date_shipped),
        "status_id": order.status_id,
        "status": status_name,
        "subtotal_ex_tax": money4(t.subtotal_ex_tax),
        "subtotal_inc_tax": money4(t.subtotal_inc_tax),
        "subtotal_tax": money4(t.subtotal_tax),
        "base_shipping_cost": money4(t.shipping_cost_ex_tax),
        "shipping_cost_ex_tax": money4(t.shipping_cost_ex_tax),
        "shipping_cost_inc_tax": money4(t.shipping_cost_inc_tax),
        "shipping_cost_tax": money4(t.shipping_cost_tax),
        "shipping_cost_tax_class_id": 2,
        "base_handling_cost": money4(t.handling_cost_ex_tax),
        "handling_cost_ex_tax": money4(t.handling_cost_ex_tax),
        "handling_cost_inc_tax": money4(t.handling_cost_inc_tax),
        "handling_cost_tax": money4(t.handling_cost_tax),
        "handling_cost_tax_class_id": 2,
        "base_wrapping_cost": money4(t.wrapping_cost_ex_tax),
        "wrapping_cost_ex_tax": money4(t.wrapping_cost_ex_tax),
        "wrapping_cost_inc_tax": money4(t.wrapping_cost_inc_tax),
        "wrapping_cost_tax": money4(t.wrapping_cost_tax),
        "wrapping_cost_tax_class_id": 3,
        "total_ex_tax": money4(t.total_ex_tax),
        "total_inc_tax": money4(t.total_inc_tax),
        "total_tax": money4(t.total_tax),
        "is_tax_inclusive_pricing": False,
        "items_total": t.items_total,
        "items_shipped": t.items_shipped,
        "payment_method": order.payment_method,
        "payment_provider_id": order.payment_provider_id,
        "payment_status": PAYMENT_STATUS_BY_STATUS[order.status_id],
        "refunded_amount": money4(t.refunded_amount),
        "order_is_digital": all(line.type == "digital" for line in order.lines),
        "store_credit_amount": "0.0000",
        "gift_certificate_amount": "0.0000",
        "ip_address": order.ip_address,
        "ip_address_v6": "",
        "geoip_country": order.billing.country if order.ip_address else "",
        "geoip_country_iso2": order.billing.country_iso2 if order.ip_address else "",
        "currency_id": currency_id,
        "currency_code": order.currency_code,
        "currency_exchange_rate": "1.0000000000",
        "default_currency_id": currency_id,
        "default_currency_code": order.currency_code,
        "staff_notes": order.staff_notes,
        "customer_message": order.customer_message,
        "discount_amount": money4(t.discount_amount),
        "coupon_discount": money4(t.coupon_discount),
        "shipping_address_count": 1 if order.shipping else 0,
        "is_deleted": order.is_deleted,
        "ebay_order_id": "0",
        "cart_id": order.cart_id,
        "billing_address": {**order.billing.as_dict(), "form_fields": []},
        "is_email_opt_in": order.is_email_opt_in,
        "credit_card_type": None,
        "order_source": order.order_source,
        "channel_id": order.channel_id,
        "external_source": order.external_source,
        "products": link(api_base, f"/orders/{order.id}/products"),
        "shipping_addresses": link(api_base, f"/orders/{order.id}/shippingaddresses"),
        "coupons": link(api_base, f"/orders/{order.id}/coupons"),
        "external_id": None,
        "external_merchant_id": None,
        "tax_provider_id": "BasicTaxProvider",
        "store_default_currency_code": STORE_DEFAULT_CURRENCY,
        "store_default_to_transactional_exchange_rate": rate,
        "custom_status": status_name,
        "customer_locale": order.customer_locale,
        "external_order_id": order.external_order_id,
    }
    if "consignments" in include or "consignments.line_items" in include:
        consignments = consignments_v2(order, api_base, line_items="consignments.line_items" in include)
        if consignment_object:
            body["consignments"] = consignments
        else:
            # The legacy structure (before ``consignment_structure=object``): one single-key object per
            # consignment type that has entries.
            body["consignments"] = [{kind: value} for kind, value in consignments.items() if value]
    if "fees" in include:
        body["fees"] = []
    return body


def order_product_v2(order: Order, line: Line, discounts: list[dict[str, Any]]) -> dict[str, Any]:
    """One line of ``GET /v2/orders/{id}/products`` (the schema forbids any other key)."""
    discount_total = sum((entry["amount"] for entry in discounts), ZERO)
    options = [{**option, "order_product_id": line.id} for option in line.options]
    address_id = order.shipping.id if order.shipping and line.type == "physical" else 0
    return {
        "id": line.id,
        "order_id": order.id,
        "product_id": line.product_id,
        "variant_id": line.variant_id,
        "order_address_id": address_id,
        "name": line.name,
        "name_customer": line.name,
        "name_merchant": line.name,
        "sku": line.sku,
        "upc": "",
        "type": line.type,
        "base_price": money4(line.price_ex_tax),
        "price_ex_tax": money4(line.price_ex_tax),
        "price_inc_tax": money4(line.price_inc_tax),
        "price_tax": money4(line.price_tax),
        "base_total": money4(line.total_ex_tax),
        "total_ex_tax": money4(line.total_ex_tax),
        "total_inc_tax": money4(line.total_inc_tax),
        "total_tax": money4(line.total_tax),
        "weight": money4(line.weight),
        "width": "0.0000",
        "height": "0.0000",
        "depth": "0.0000",
        "quantity": line.quantity,
        "base_cost_price": money4(line.cost_price),
        "cost_price_inc_tax": money4(line.cost_price),
        "cost_price_ex_tax": money4(line.cost_price),
        "cost_price_tax": "0.0000",
        "is_refunded": line.quantity_refunded >= line.quantity,
        "quantity_refunded": line.quantity_refunded,
        "refund_amount": money4(line.refund_amount),
        "return_id": 0,
        "wrapping_id": 1 if line.wrapping_ex_tax else 0,
        "wrapping_name": "Gift Wrap" if line.wrapping_ex_tax else "",
        "base_wrapping_cost": money4(line.wrapping_ex_tax),
        "wrapping_cost_ex_tax": money4(line.wrapping_ex_tax),
        "wrapping_cost_inc_tax": money4(line.wrapping_ex_tax + line.wrapping_tax),
        "wrapping_cost_tax": money4(line.wrapping_tax),
        "wrapping_message": "",
        "quantity_shipped": line.quantity_shipped,
        "event_name": None,
        "event_date": None,
        "fixed_shipping_cost": "0.0000",
        "ebay_item_id": "",
        "ebay_transaction_id": "",
        "option_set_id": line.option_set_id,
        "parent_order_product_id": None,
        "is_bundled_product": False,
        "bin_picking_number": "",
        "external_id": None,
        "brand": line.brand,
        "applied_discounts": [{**entry, "amount": money4(entry["amount"])} for entry in discounts],
        "product_options": options,
        "configurable_fields": [],
        "gift_certificate_id": None,
        "discounted_total_inc_tax": money4(line.total_inc_tax - discount_total),
    }


def order_products_v2(order: Order) -> list[dict[str, Any]]:
    discounts = line_discounts(order)
    return [order_product_v2(order, line, discounts[line.id]) for line in order.lines]


def _physical_counts(order: Order) -> tuple[int, int]:
    physical = [line for line in order.lines if line.type == "physical"]
    return sum(line.quantity for line in physical), sum(line.quantity_shipped for line in physical)


def shipping_addresses_v2(order: Order, api_base: str) -> list[dict[str, Any]]:
    """``GET /v2/orders/{id}/shipping_addresses``: money as strings."""
    if order.shipping is None:
        return []
    t = order_totals(order)
    items_total, items_shipped = _physical_counts(order)
    shipping = order.shipping
    return [
        {
            "id": shipping.id,
            "order_id": order.id,
            **shipping.address.as_dict(),
            "items_total": items_total,
            "items_shipped": items_shipped,
            "shipping_method": shipping.shipping_method,
            "base_cost": money4(t.shipping_cost_ex_tax),
            "cost_ex_tax": money4(t.shipping_cost_ex_tax),
            "cost_inc_tax": money4(t.shipping_cost_inc_tax),
            "cost_tax": money4(t.shipping_cost_tax),
            "cost_tax_class_id": 2,
            "base_handling_cost": money4(t.handling_cost_ex_tax),
            "handling_cost_ex_tax": money4(t.handling_cost_ex_tax),
            "handling_cost_inc_tax": money4(t.handling_cost_inc_tax),
            "handling_cost_tax": money4(t.handling_cost_tax),
            "handling_cost_tax_class_id": 2,
            "shipping_zone_id": shipping.zone_id,
            "shipping_zone_name": shipping.zone_name,
            "shipping_quotes": link(api_base, f"/orders/{order.id}/shippingaddresses/{shipping.id}/shippingquotes"),
            "form_fields": [],
        }
    ]


def consignments_v2(order: Order, api_base: str, *, line_items: bool) -> dict[str, Any]:
    """``orderConsignment_Get``: the shipping consignment carries its lines (links or full lines).

    Its money is ``number`` here, unlike ``/shipping_addresses`` (that is what the OpenAPI file says).
    """
    products = {product["id"]: product for product in order_products_v2(order)}

    def items(lines: list[Line]) -> list[dict[str, Any]]:
        if line_items:
            return [products[line.id] for line in lines]
        return [link(api_base, f"/orders/{order.id}/products/{line.id}") for line in lines]

    shipping: list[dict[str, Any]] = []
    if order.shipping is not None:
        t = order_totals(order)
        items_total, items_shipped = _physical_counts(order)
        consignment = order.shipping
        shipping.append(
            {
                "id": consignment.id,
                **consignment.address.as_dict(),
                "form_fields": [],
                "shipping_method": consignment.shipping_method,
                "line_items": items([line for line in order.lines if line.type == "physical"]),
                "items_total": items_total,
                "items_shipped": items_shipped,
                "base_cost": money_number(t.shipping_cost_ex_tax),
                "cost_ex_tax": money_number(t.shipping_cost_ex_tax),
                "cost_inc_tax": money_number(t.shipping_cost_inc_tax),
                "cost_tax": money_number(t.shipping_cost_tax),
                "cost_tax_class_id": 2,
                "base_handling_cost": money_number(t.handling_cost_ex_tax),
                "handling_cost_ex_tax": money_number(t.handling_cost_ex_tax),
                "handling_cost_inc_tax": money_number(t.handling_cost_inc_tax),
                "handling_cost_tax": money_number(t.handling_cost_tax),
                "handling_cost_tax_class_id": 2,
                "shipping_zone_id": consignment.zone_id,
                "shipping_zone_name": consignment.zone_name,
                "shipping_quotes": link(
                    api_base, f"/orders/{order.id}/consignments/shipping/{consignment.id}/shipping_quotes"
                ),
            }
        )
    digital = [line for line in order.lines if line.type == "digital"]
    downloads = [{"recipient_email": order.billing.email, "line_items": items(digital)}] if digital else []
    return {"pickups": [], "shipping": shipping, "downloads": downloads, "email": {"gift_certificates": []}}


def coupons_v2(order: Order) -> list[dict[str, Any]]:
    return [
        {
            "id": coupon.id,
            "coupon_id": coupon.coupon_id,
            "order_id": order.id,
            "code": coupon.code,
            "amount": money4(coupon.amount),
            "type": coupon.type,
            "discount": money_number(coupon.discount),
        }
        for coupon in order.coupons
    ]


def shipment_v2(order: Order, shipment: Shipment) -> dict[str, Any]:
    shipping_address = order.shipping.address.as_dict() if order.shipping else {}
    billing = order.billing.as_dict()
    generated = (
        f"https://track.example.com/{shipment.shipping_provider}/{shipment.tracking_number}"
        if shipment.tracking_number and shipment.shipping_provider
        else ""
    )
    return {
        "id": shipment.id,
        "order_id": order.id,
        "customer_id": order.customer_id,
        "order_address_id": shipment.order_address_id,
        "date_created": rfc2822(shipment.date_created),
        "tracking_number": shipment.tracking_number,
        "merchant_shipping_cost": money4(shipment.merchant_shipping_cost),
        "shipping_method": shipment.shipping_method,
        "comments": shipment.comments,
        "shipping_provider": shipment.shipping_provider,
        "tracking_carrier": shipment.tracking_carrier,
        "tracking_link": shipment.tracking_link,
        "billing_address": billing,
        "shipping_address": shipping_address,
        "items": [
            {"order_product_id": line_id, "product_id": product_id, "quantity": quantity}
            for line_id, product_id, quantity in shipment.items
        ],
        "shipping_provider_display_name": SHIPPING_PROVIDER_NAMES.get(
            shipment.shipping_provider, shipment.shipping_provider
        ),
        "generated_tracking_link": generated,
    }


def order_count_v2(orders: list[Order]) -> dict[str, Any]:
    counts = {status_id: 0 for status_id in ORDER_STATUSES}
    for order in orders:
        counts[order.status_id] += 1
    statuses = []
    for status_id in sorted(ORDER_STATUSES, key=STATUS_SORT_ORDER.__getitem__):
        name, description = ORDER_STATUSES[status_id]
        statuses.append(
            {
                "id": status_id,
                "name": name,
                "system_label": name,
                "custom_label": name,
                "system_description": description,
                "count": counts[status_id],
                "sort_order": STATUS_SORT_ORDER[status_id],
            }
        )
    return {"statuses": statuses, "count": len(orders)}


def customer_v3(customer: Customer, *, include: frozenset[str] = frozenset()) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": customer.id,
        "authentication": {"force_password_reset": False},
        "company": customer.company,
        "customer_group_id": customer.customer_group_id,
        "email": customer.email,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "notes": customer.notes,
        "phone": customer.phone,
        "registration_ip_address": customer.registration_ip_address,
        "tax_exempt_category": "",
        "date_created": iso_z(customer.date_created),
        "date_modified": iso_z(customer.date_modified),
        "accepts_product_review_abandoned_cart_emails": customer.accepts_marketing,
        "origin_channel_id": 1,
        "address_count": len(customer.addresses),
        "attribute_count": 0,
    }
    if "addresses" in include:
        body["addresses"] = [
            {
                "id": address.id,
                "customer_id": customer.id,
                "first_name": address.first_name,
                "last_name": address.last_name,
                "company": address.company,
                "address1": address.address1,
                "address2": address.address2,
                "city": address.city,
                "state_or_province": address.state_or_province,
                "postal_code": address.postal_code,
                "country_code": address.country_code,
                "country": address.country,
                "phone": address.phone,
                "address_type": address.address_type,
            }
            for address in customer.addresses
        ]
    if "storecredit" in include:
        body["store_credit_amounts"] = [{"amount": 0}]
    return body


def cart_v3(cart: Cart) -> dict[str, Any]:
    """``GET /v3/carts/{id}`` data: money as numbers; custom items carry no product id."""
    physical: list[dict[str, Any]] = []
    digital: list[dict[str, Any]] = []
    custom: list[dict[str, Any]] = []
    for item in cart.items:
        if item.kind == "custom":
            # The OpenAPI schema types a custom item's quantity and list_price as strings.
            custom.append(
                {
                    "id": item.id,
                    "sku": item.sku,
                    "name": item.name,
                    "quantity": str(item.quantity),
                    "list_price": money4(item.list_price),
                    "extended_list_price": money_number(item.list_price * item.quantity),
                }
            )
            continue
        entry = {
            "id": item.id,
            "variant_id": item.variant_id,
            "product_id": item.product_id,
            "sku": item.sku,
            "name": item.name,
            "url": item.url,
            "quantity": item.quantity,
            "taxable": True,
            "image_url": item.image_url,
            "discounts": [],
            "coupons": [],
            "discount_amount": 0,
            "coupon_amount": 0,
            "original_price": money_number(item.list_price),
            "list_price": money_number(item.list_price),
            "sale_price": money_number(item.sale_price),
            "extended_list_price": money_number(item.list_price * item.quantity),
            "extended_sale_price": money_number(item.sale_price * item.quantity),
            "is_require_shipping": item.kind == "physical",
            "is_mutable": True,
            "added_by_promotion": False,
        }
        (physical if item.kind == "physical" else digital).append(entry)
    coupons = []
    if cart.coupon_code:
        coupons.append(
            {
                "code": cart.coupon_code,
                "id": str(cart.coupon_id),
                "coupon_type": "2",
                "discounted_amount": money_number(cart.coupon_discount),
                "display_name": f"{money4(cart.coupon_discount)} off the order total",
            }
        )
    discounts = [{"id": "1", "discounted_amount": money_number(cart.discount_amount)}] if cart.discount_amount else []
    return {
        "id": cart.id,
        "customer_id": cart.customer_id,
        "channel_id": cart.channel_id,
        "email": cart.email,
        "currency": {"code": cart.currency_code},
        "tax_included": False,
        "base_amount": money_number(cart.base_amount),
        "discount_amount": money_number(cart.discount_amount),
        "manual_discount_amount": 0,
        "cart_amount": money_number(cart.cart_amount),
        "coupons": coupons,
        "discounts": discounts,
        "line_items": {
            "physical_items": physical,
            "digital_items": digital,
            "gift_certificates": [],
            "custom_items": custom,
        },
        "created_time": iso_offset(cart.created_time),
        "updated_time": iso_offset(cart.updated_time),
        "locale": cart.locale,
        "version": cart.version,
    }


def refund_v3(refund: Refund, *, single: bool) -> dict[str, Any]:
    """A refund. The OpenAPI file gives two shapes for an item's ``requested_amount``.

    ``GET .../refunds/{id}`` (``single``): a string, or null for a quantity-bound item;
    the lists: a number, absent for a quantity-bound item.
    """
    items = []
    for item in refund.items:
        entry: dict[str, Any] = {"item_type": item.item_type, "item_id": item.item_id}
        if item.quantity is not None:
            entry["quantity"] = item.quantity
        if single:
            entry["requested_amount"] = money4(item.requested_amount) if item.requested_amount is not None else None
        elif item.requested_amount is not None:
            entry["requested_amount"] = money_number(item.requested_amount)
        if item.reason:
            entry["reason"] = item.reason
        items.append(entry)
    return {
        "id": refund.id,
        "order_id": refund.order_id,
        "user_id": 0,
        "created": iso_offset(refund.created),
        "reason": refund.reason,
        "total_amount": money_number(refund.total_amount),
        "total_tax": money_number(refund.total_tax),
        "uses_merchant_override_values": False,
        "payments": [
            {
                "id": refund.payment_id,
                "provider_id": refund.provider_id,
                "amount": money_number(refund.total_amount),
                "offline": refund.offline,
                "is_declined": False,
                "declined_message": "",
            }
        ],
        "items": items,
    }


def hook_v3(hook: Hook, *, client_id: str, store_hash: str) -> dict[str, Any]:
    return {
        "id": hook.id,
        "client_id": client_id,
        "store_hash": store_hash,
        "scope": hook.scope,
        "destination": hook.destination,
        "headers": dict(hook.headers) if hook.headers is not None else None,
        "is_active": hook.is_active,
        "created_at": hook.created_at,
        "updated_at": hook.updated_at,
    }


# Brand ids of the generated catalog's brands (BigCommerce products carry a brand id, not a name).
BRAND_IDS = {"Common Good": 36, "Fieldstone": 37, "Northwind": 38, "Harbor & Pine": 39, "Lumen": 40}


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")


def variant_v3(product: Product, variant: ProductVariant) -> dict[str, Any]:
    """``productVariant_Full``: ``price`` null means the product's price applies (``calculated_price`` has it);
    a base variant has no ``sku_id`` (null) and no ``option_values``."""
    price = product.variant_price(variant)
    calculated = product.sale_price if product.sale_price and variant.price is None else price
    return {
        "id": variant.id,
        "product_id": product.id,
        "sku": variant.sku,
        "sku_id": variant.sku_id,
        "price": None if variant.is_base else money_number_or_none(variant.price),
        "calculated_price": money_number(calculated),
        "sale_price": None,
        "retail_price": None,
        "weight": None,
        "calculated_weight": float(product.weight),
        "width": None,
        "height": None,
        "depth": None,
        "is_free_shipping": False,
        "fixed_cost_shipping_price": None,
        "purchasing_disabled": variant.purchasing_disabled,
        "purchasing_disabled_message": "",
        "image_url": "",
        "cost_price": None if not variant.is_base else money_number(product.cost_price),
        "upc": "",
        "mpn": "",
        "gtin": "",
        "inventory_level": product.inventory_level if variant.is_base else 0,
        "inventory_warning_level": 0,
        "bin_picking_number": "",
        "option_values": (
            []
            if variant.is_base
            else [
                {
                    "id": variant.value_id,
                    "label": variant.option_value,
                    "option_id": variant.option_id,
                    "option_display_name": variant.option_name,
                }
            ]
        ),
    }


def money_number_or_none(value: Decimal | None) -> float | None:
    return None if value is None else money_number(value)


def product_v3(product: Product, *, include: frozenset[str] = frozenset()) -> dict[str, Any]:
    """``product_Full``; ``include=variants`` adds ``variants`` (``productVariant_Full``), ``images`` adds
    ``images`` (the stand-in has none: ``[]``). Money is a JSON number, dates ISO 8601 with an offset."""
    base = product.base_variant
    body: dict[str, Any] = {
        "id": product.id,
        "name": product.name,
        "type": product.type,
        "sku": product.sku,
        "description": product.description,
        "weight": float(product.weight),
        "width": 0,
        "depth": 0,
        "height": 0,
        "price": money_number(product.price),
        "cost_price": money_number(product.cost_price),
        "retail_price": money_number(product.retail_price),
        "sale_price": money_number(product.sale_price),
        "map_price": 0,
        "tax_class_id": 0,
        "product_tax_code": "",
        "calculated_price": money_number(product.sale_price or product.price),
        "categories": [23],
        "brand_id": BRAND_IDS.get(product.brand, 0),
        "option_set_id": product.option_set_id,
        "option_set_display": "right",
        "inventory_level": product.inventory_level,
        "inventory_warning_level": 0,
        "inventory_tracking": "product" if base is not None else "variant",
        "reviews_rating_sum": 0,
        "reviews_count": 0,
        "total_sold": 0,
        "fixed_cost_shipping_price": 0,
        "is_free_shipping": False,
        "is_visible": product.is_visible,
        "is_featured": False,
        "related_products": [-1],
        "warranty": "",
        "bin_picking_number": "",
        "layout_file": "product.html",
        "upc": "",
        "mpn": "",
        "gtin": "",
        "date_last_imported": "",
        "search_keywords": "",
        "availability": "available",
        "availability_description": "",
        "gift_wrapping_options_type": "any",
        "gift_wrapping_options_list": [],
        "sort_order": 0,
        "condition": "New",
        "is_condition_shown": False,
        "order_quantity_minimum": 0,
        "order_quantity_maximum": 0,
        "page_title": "",
        "meta_keywords": [],
        "meta_description": "",
        "date_created": iso_offset(product.date_created),
        "date_modified": iso_offset(product.date_modified),
        "view_count": 0,
        "preorder_release_date": None,
        "preorder_message": "",
        "is_preorder_only": False,
        "is_price_hidden": False,
        "price_hidden_label": "",
        "custom_url": {"url": f"/{_slug(product.name)}/", "is_customized": False},
        "base_variant_id": base.id if base is not None else None,
        "open_graph_type": "product",
        "open_graph_title": "",
        "open_graph_description": "",
        "open_graph_use_meta_description": True,
        "open_graph_use_product_name": True,
        "open_graph_use_image": True,
    }
    if "variants" in include:
        body["variants"] = [variant_v3(product, variant) for variant in product.variants]
    if "images" in include:
        body["images"] = []
    return body


# code -> (name, token, country, default for countries)
CURRENCY_DISPLAY = {
    "USD": ("US Dollar", "$", "US", ["US", "CA"]),
    "EUR": ("Euro", "€", "", ["DE", "FR", "NL", "IE"]),
    "GBP": ("Pound Sterling", "£", "GB", ["GB"]),
}


def currencies_v2() -> list[dict[str, Any]]:
    """``GET /v2/currencies`` (``currency_Full``): the exchange rate is "the amount of this currency
    equivalent to one unit of the default currency", a string."""
    body = []
    for code, (currency_id, rate) in CURRENCIES.items():
        name, token, country, countries = CURRENCY_DISPLAY[code]
        body.append(
            {
                "id": currency_id,
                "is_default": code == STORE_DEFAULT_CURRENCY,
                "last_updated": "Fri, 01 Mar 2024 09:00:00 +0000",
                "country_iso2": country,
                "default_for_country_codes": countries,
                "currency_code": code,
                "currency_exchange_rate": rate,
                "name": name,
                "token": token,
                "auto_update": False,
                "token_location": "left",
                "decimal_token": ".",
                "thousands_token": ",",
                "decimal_places": 2,
                "enabled": True,
                "is_transactional": True,
            }
        )
    return body
