"""Pure rules of catalog sync: BigCommerce products (v3, with variants) → the documents Product2 is built from.

No I/O here: ``orders.catalog`` fetches and writes.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils.html import strip_tags

from sync.bigcommerce import money

CENT = Decimal("0.01")
# Tags whose end is a line break in the text (paragraphs, list items, table rows, headings, <br>).
_BLOCK_END = re.compile(r"(?i)<\s*(br|/p|/div|/li|/tr|/h[1-6])\b[^>]*>")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


@dataclass(frozen=True)
class CatalogVariant:
    """One Product2 of the catalog: a product's variant (a product without options has one, its base variant)."""

    key: str  # BigCommerceProductId__c: {store_hash}:{product_id}:{variant_id}, the key order lines use
    product_id: int
    variant_id: int
    document: dict[str, Any]  # what the Product2 field mappings read (name, sku, description, price, ...)
    description: str  # plain text
    active: bool
    price: Decimal


def html_text(value: Any) -> str:
    """Plain text of a BigCommerce HTML description: tags removed, entities decoded, blocks on their own lines."""
    text = _BLOCK_END.sub("\n", str(value or ""))
    text = html.unescape(strip_tags(text))
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def variant_name(product_name: str, option_values: list[dict[str, Any]]) -> str:
    """The product's name, with the variant's option values after it: ``Tee (Blue, M)``; the name alone without."""
    labels = [str(value.get("label") or "").strip() for value in option_values or [] if isinstance(value, dict)]
    labels = [label for label in labels if label]
    return f"{product_name} ({', '.join(labels)})" if labels else product_name


def catalog_variants(store_hash: str, product: dict[str, Any]) -> list[CatalogVariant]:
    """The Product2 records a v3 product (fetched with ``include=variants``) stands for, one per variant.

    Per variant, not per product: order lines name the variant they sold (``variant_id``; a product without
    options sells its base variant), so each variant is the Product2 its orders point at, with its own SKU
    and price. Active: the product is visible (a hidden product is kept, inactive).
    """
    product_id = int(product["id"])
    name = str(product.get("name") or product.get("sku") or f"Product {product_id}")
    description = html_text(product.get("description"))
    active = bool(product.get("is_visible", True))
    shared = {key: value for key, value in product.items() if key not in ("variants", "description")}
    variants: list[CatalogVariant] = []
    for variant in product.get("variants") or []:
        variant_id = int(variant["id"])
        price = variant.get("price")
        price = money(product.get("price") if price is None else price)
        document = {
            **shared,
            **{key: value for key, value in variant.items() if value is not None},
            "id": variant_id,
            "product_id": product_id,
            "variant_id": variant_id,
            "name": variant_name(name, variant.get("option_values") or []),
            "product_name": name,
            "sku": str(variant.get("sku") or product.get("sku") or ""),
            "description": description,
            "price": price,
            "is_visible": active,
        }
        variants.append(
            CatalogVariant(
                key=f"{store_hash}:{product_id}:{variant_id}",
                product_id=product_id,
                variant_id=variant_id,
                document=document,
                description=description,
                active=active,
                price=price,
            )
        )
    return variants


def variant_prices(price: Decimal, rates: dict[str, Decimal]) -> dict[str, Decimal]:
    """The entry's UnitPrice in each currency: the catalog price (default currency) at the store's exchange rates.

    ``rates``: {CurrencyIsoCode: rate from the store's default currency}, {"": 1} in a single-currency org.
    """
    return {currency: (price * rate).quantize(CENT, rounding=ROUND_HALF_UP) for currency, rate in rates.items()}


def product_key_prefix(store_hash: str, product_id: int) -> str:
    """The start every variant key of the product shares."""
    return f"{store_hash}:{int(product_id)}:"
