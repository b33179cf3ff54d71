"""Deterministic, realistic store data: ``generate(seed, customers, orders, carts)``.

Everything comes from one ``random.Random(seed)`` and a fixed base date (no wall clock), so the same
arguments always give the same store, id for id and cent for cent. The same builders fill in whatever a
control-API spec leaves out (``order_from_spec``, ``cart_from_spec``, ``customer_from_spec``).
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sandbox.bigcommerce import ops
from sandbox.bigcommerce.store import (
    CATALOG_EPOCH,
    CENT,
    ORDER_STATUSES,
    ZERO,
    Address,
    Cart,
    CartItem,
    Coupon,
    Customer,
    CustomerAddress,
    Line,
    Order,
    Product,
    ProductVariant,
    ShippingAddress,
    StoreData,
    date_parse,
    line_discounts,
    money,
    order_totals,
    tax_of,
)

DEFAULT_BASE_DATE = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
STORE_URL = "https://sandbox-store.example.com"

# fmt: off
FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Oliver", "Sophia", "Elijah", "Isabella", "James", "Mia",
    "William", "Amelia", "Benjamin", "Harper", "Lucas", "Evelyn", "Henry", "Abigail", "Alexander", "Emily",
    "Daniel", "Ella", "Matthew", "Chloe", "Jackson", "Grace", "Sebastian", "Zoe", "Mateo", "Nora", "Hannah",
    "Leo", "Lena", "Jonas", "Clara", "Paul", "Marie", "Hugo", "Chloé", "Louis", "Jade", "Arthur", "Freya",
    "George", "Isla", "Oscar", "Ruby",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee",
    "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson", "Walker", "Young", "Allen", "King",
    "Wright", "Scott", "Nguyen", "Hill", "Green", "Adams", "Baker", "Nelson", "Carter", "Mitchell",
    "Müller", "Schmidt", "Schneider", "Fischer", "Dubois", "Moreau", "Laurent", "Evans", "Hughes",
    "O'Brien",
)
# fmt: on
COMPANIES = (
    "Acme Outfitters",
    "Northwind Traders",
    "Bluebird Design Co",
    "Summit Supply",
    "Harbor & Pine",
    "Lumen Labs",
    "Copperleaf Studio",
    "Fieldstone Goods",
)
STREETS = (
    "Main Street",
    "Oak Avenue",
    "Maple Drive",
    "Cedar Lane",
    "Park Road",
    "High Street",
    "Station Road",
    "Elm Street",
    "Lake View",
    "Mill Lane",
)
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
# country -> (name, currency, tax rates, [(city, state, zip)])
COUNTRIES: dict[str, tuple[str, str, tuple[str, ...], tuple[tuple[str, str, str], ...]]] = {
    "US": (
        "United States",
        "USD",
        ("0", "0.0625", "0.0725", "0.0825", "0.0875"),
        (
            ("Austin", "Texas", "78751"),
            ("Seattle", "Washington", "98101"),
            ("Denver", "Colorado", "80202"),
            ("Portland", "Oregon", "97205"),
            ("Chicago", "Illinois", "60601"),
            ("Boston", "Massachusetts", "02108"),
            ("Miami", "Florida", "33131"),
        ),
    ),
    "CA": (
        "Canada",
        "USD",
        ("0.05",),
        (("Toronto", "Ontario", "M5H 2N2"), ("Vancouver", "British Columbia", "V6B 1A1")),
    ),
    "GB": ("United Kingdom", "GBP", ("0.2",), (("London", "", "SW1A 1AA"), ("Manchester", "", "M1 1AE"))),
    "DE": ("Germany", "EUR", ("0.19",), (("Berlin", "Berlin", "10115"), ("München", "Bayern", "80331"))),
    "FR": ("France", "EUR", ("0.2",), (("Paris", "Île-de-France", "75001"), ("Lyon", "Rhône", "69001"))),
    "NL": ("Netherlands", "EUR", ("0.21",), (("Amsterdam", "Noord-Holland", "1012 JS"),)),
    "IE": ("Ireland", "EUR", ("0.23",), (("Dublin", "Dublin", "D02 X285"),)),
}
COUNTRY_WEIGHTS = {"US": 75, "CA": 5, "GB": 8, "DE": 5, "FR": 4, "NL": 2, "IE": 1}
# USD prices are the catalog's; other currencies at the store's exchange rate.
PRICE_RATE = {"USD": Decimal("1"), "EUR": Decimal("0.92"), "GBP": Decimal("0.79")}
CURRENCY_WEIGHTS = {"USD": 80, "EUR": 12, "GBP": 8}

STATUS_WEIGHTS = {0: 3, 1: 3, 2: 14, 3: 4, 4: 4, 5: 4, 6: 2, 7: 6, 8: 2, 9: 5, 10: 25, 11: 16, 12: 2, 13: 2, 14: 5}
PAYMENT_WEIGHTS = {"Credit Card": 55, "PayPal": 20, "Test Payment Gateway": 10, "Cash on Delivery": 5, "Manual": 5}
ONLINE_METHODS = {"Credit Card", "PayPal", "Test Payment Gateway"}
UNPAID_STATUSES = {0, 1, 6, 7}
SHIPPING_OPTIONS = (
    ("Free Shipping", "0.00"),
    ("Flat Rate", "4.99"),
    ("Flat Rate", "7.99"),
    ("UPS Ground", "9.99"),
    ("UPS Ground", "14.99"),
    ("Express Delivery", "24.99"),
)
COUPONS = (("WELCOME10", 1, "10"), ("SPRING15", 1, "15"), ("SAVE5", 2, "5.00"), ("TAKE10", 2, "10.00"))
MESSAGES = ("Please leave at the back door.", "Gift - no invoice please.", "Call before delivery.")

PRODUCT_WORDS = (
    ("Organic Cotton", "Tee", "Apparel"),
    ("Merino Wool", "Sweater", "Apparel"),
    ("Canvas", "Tote Bag", "Bags"),
    ("Leather", "Wallet", "Accessories"),
    ("Ceramic", "Coffee Mug", "Kitchen"),
    ("Stainless", "Water Bottle", "Kitchen"),
    ("Linen", "Tea Towel", "Home"),
    ("Scented", "Soy Candle", "Home"),
    ("Bamboo", "Cutting Board", "Kitchen"),
    ("Trail", "Running Shoes", "Footwear"),
    ("Waxed", "Rain Jacket", "Apparel"),
    ("Wireless", "Headphones", "Electronics"),
    ("Walnut", "Desk Organizer", "Office"),
    ("Hand-thrown", "Serving Bowl", "Kitchen"),
    ("Recycled", "Notebook", "Office"),
    ("Cast Iron", "Skillet", "Kitchen"),
    ("Alpaca", "Scarf", "Accessories"),
    ("Vintage", "Poster", "Home"),
)
BRANDS = ("Common Good", "Fieldstone", "Northwind", "Harbor & Pine", "Lumen")
DIGITAL_PRODUCTS = (
    ("Cooking Masterclass (video)", "24.00"),
    ("Field Guide (e-book)", "9.99"),
    ("Pattern Pack (PDF)", "14.50"),
)
SIZES = ("S", "M", "L", "XL")
COLORS = ("Black", "Natural", "Navy", "Olive")
CHURN_ADJECTIVES = ("Renewed", "Everyday", "Signature", "Pocket", "Deluxe", "Field", "Ultra-light", "Café")
CHURN_VALUES = ("Edition", "Pack", "Bundle", "Refill")
CUSTOM_ITEMS = (("Custom Engraving", "12.00"), ("Gift Message Card", "3.50"), ("Monogram Service", "8.00"))


def weighted(rng: random.Random, weights: dict[Any, int]) -> Any:
    """One key of ``weights``, drawn with those weights (dict order is fixed, so this is deterministic)."""
    keys = list(weights)
    return rng.choices(keys, weights=[weights[key] for key in keys])[0]


def uuid_from(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def ipv4(rng: random.Random) -> str:
    # Documentation ranges (RFC 5737): realistic-looking, never a real shopper's address.
    prefix = rng.choice(("192.0.2", "198.51.100", "203.0.113"))
    return f"{prefix}.{rng.randint(1, 254)}"


def phone(rng: random.Random) -> str:
    return f"555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"


def _description(name: str, brand: str) -> str:
    """A product description as merchants write them: HTML, as BigCommerce stores it."""
    return (
        f"<p><strong>{name}</strong> by {brand}.</p>"
        "<ul><li>Made to last &amp; easy to care for</li><li>Ships within 2 business days</li></ul>"
    )


def catalog_build(rng: random.Random, data: StoreData) -> list[Product]:
    """About 30 live products: physical ones (some with size or colour variants) and a few digital ones,
    then (see :func:`catalog_extras`) hidden products with their own variant prices and deleted products.

    Every product has at least one variant: a product without options has its base variant (no ``sku_id``,
    the product's SKU), a product with options one variant per option value (each with a ``sku_id``).
    """
    products: list[Product] = []
    product_id = 77
    variant_id = 100
    option_value_id = 60
    for index, (adjective, noun, _category) in enumerate(PRODUCT_WORDS):
        for edition in ("", " Classic")[: 1 + (index % 3 == 0)]:
            name = f"{adjective} {noun}{edition}"
            band = rng.random()
            low, high = (5, 30) if band < 0.4 else (30, 90) if band < 0.8 else (90, 250)
            price = money(f"{rng.randint(low, high - 1)}.{rng.choice(('00', '50', '95', '99'))}")
            sku = "".join(word[0] for word in name.split()).upper() + f"-{product_id}"
            product = Product(
                id=product_id,
                name=name,
                sku=sku,
                price=price,
                brand=rng.choice(BRANDS),
                type="physical",
                weight=money(rng.randint(1, 40) / 10),
            )
            kind = rng.random()
            if kind < 0.35:
                option_name, values = (
                    ("Size", SIZES)
                    if noun in ("Tee", "Sweater", "Rain Jacket", "Running Shoes") or kind < 0.2
                    else ("Color", COLORS)
                )
                product.option_set_id = 10 + len(products)
                for value in values:
                    product.variants.append(
                        ProductVariant(
                            id=variant_id,
                            sku=f"{sku}-{value[:3].upper()}",
                            option_name=option_name,
                            option_value=value,
                            option_id=18 if option_name == "Size" else 3,
                            value_id=option_value_id,
                            sku_id=data.counters.take("sku"),
                        )
                    )
                    variant_id += 1
                    option_value_id += 1
            else:
                product.variants.append(ProductVariant(variant_id, sku, "", "", 0, 0))
                variant_id += 1
            products.append(product)
            product_id += 1
    for name, price_text in DIGITAL_PRODUCTS:
        sku = "DIG-" + str(product_id)
        products.append(
            Product(
                id=product_id,
                name=name,
                sku=sku,
                price=money(price_text),
                brand=rng.choice(BRANDS),
                type="digital",
                weight=ZERO,
                variants=[ProductVariant(variant_id, sku, "", "", 0, 0)],
            )
        )
        product_id += 1
        variant_id += 1
    for offset, product in enumerate(products):
        # Derived, not drawn: the random sequence (and so every generated order) stays as it was.
        product.description = _description(product.name, product.brand)
        product.date_created = CATALOG_EPOCH + timedelta(hours=offset)
        product.date_modified = product.date_created + timedelta(days=offset % 7)
        product.cost_price = money(product.price * Decimal("0.45"))
        product.inventory_level = 10 + (offset * 37) % 190
    data.counters.product, data.counters.variant = product_id, variant_id
    data.counters.option_value = option_value_id
    data.catalog = products
    catalog_extras(data)
    return data.catalog


# (name, option, [(value, price or None)], visible); created after the main catalog. All hidden: a visible
# one would join the products random orders pick from and change every generated store.
CATALOG_EXTRAS: tuple[tuple[str, str, tuple[tuple[str, str | None], ...], bool], ...] = (
    ("Heritage Wool Blanket", "Size", (("Throw", None), ("Queen", "189.00"), ("King", "219.00")), False),
    ("Studio Desk Lamp", "", (), False),
    ("Limited Print Series", "Color", (("Black", "45.00"), ("Natural", None)), False),
)
# Products created, sold out and deleted: their ids are taken, the API answers 404.
CATALOG_DELETED = ("Discontinued Enamel Mug", "Retired Gift Box")


def catalog_extras(data: StoreData) -> None:
    """Append hidden products (``is_visible`` false; two with variants carrying their own prices) and
    delete a few products (ids consumed, gone from the API). Deterministic, without a random
    number generator, so the rest of a generated store is unchanged by them.
    """
    base = CATALOG_EPOCH + timedelta(days=30)
    for index, (name, option_name, values, visible) in enumerate(CATALOG_EXTRAS):
        product = product_build(
            data,
            {
                "name": name,
                "price": f"{79 + 20 * index}.00",
                "brand": BRANDS[index % len(BRANDS)],
                "is_visible": visible,
                "variants": [
                    {"option_name": option_name, "option_value": value, **({"price": price} if price else {})}
                    for value, price in values
                ],
            },
            now=base + timedelta(hours=index),
        )
        data.catalog.append(product)
    for index, name in enumerate(CATALOG_DELETED):
        product = product_build(data, {"name": name, "price": "12.00"}, now=base + timedelta(days=1, hours=index))
        data.deleted_products[product.id] = product


def product_build(data: StoreData, spec: dict[str, Any], *, now: datetime) -> Product:
    """Build (not store) a catalog product from a control-API spec.

    Spec keys: name (required), price (required, store currency), sku (default derived from the name and
    id), description (HTML allowed), is_visible (true), type (physical | digital), brand, weight,
    sale_price, retail_price, cost_price, inventory_level, variants ([{option_name, option_value, sku?,
    price?}]; none: the product gets its base variant). Variants of one product share one option name.
    """
    name = str(spec.get("name") or "").strip()
    if not name or len(name) > 250:
        raise ValueError("a product needs a name of 1 to 250 characters")
    if "price" not in spec:
        raise ValueError("a product needs a price")
    kind = str(spec.get("type", "physical"))
    if kind not in ("physical", "digital"):
        raise ValueError("type must be physical or digital")
    product_id = data.counters.take("product")
    sku = str(spec.get("sku") or "".join(word[0] for word in name.split()).upper() + f"-{product_id}")
    sku_check(data, sku)
    product = Product(
        id=product_id,
        name=name,
        sku=sku,
        price=price_check(spec["price"], "price"),
        brand=str(spec.get("brand", BRANDS[product_id % len(BRANDS)])),
        type=kind,
        weight=money(spec.get("weight", "0" if kind == "digital" else "1.5")),
        description=str(spec["description"]) if "description" in spec else _description(name, "b2s sandbox"),
        is_visible=bool(spec.get("is_visible", True)),
        date_created=now,
        date_modified=now,
    )
    for key in ("sale_price", "retail_price", "cost_price"):
        if key in spec:
            setattr(product, key, price_check(spec[key], key))
    product.inventory_level = int(spec.get("inventory_level", 0))
    variants = spec.get("variants") or []
    if not isinstance(variants, list):
        raise ValueError("variants is a list")
    if variants:
        product.option_set_id = None
        for entry in variants:
            product.variants.append(variant_build(data, product, entry))
    else:
        product.variants.append(ProductVariant(data.counters.take("variant"), product.sku, "", "", 0, 0))
    return product


def price_check(value: Any, name: str) -> Decimal:
    price = money(value)
    if price < 0:
        raise ValueError(f"{name} cannot be negative")
    return price


def sku_check(data: StoreData, sku: str, *, product_id: int = 0, variant_id: int = 0) -> None:
    """BigCommerce SKUs are unique across products and variants, regardless of letter case (the product
    ``product_id`` and its base variant, or the variant ``variant_id``, may keep theirs)."""
    if not sku.strip() or len(sku) > 255:
        raise ValueError("a SKU has 1 to 255 characters")
    wanted = sku.lower()
    for product in data.catalog:
        if product.id != product_id and product.sku.lower() == wanted:
            raise ValueError(f"the SKU {sku!r} is taken by product {product.id}")
        for variant in product.variants:
            mine = variant.id == variant_id or (variant.is_base and product.id == product_id)
            if not mine and variant.sku.lower() == wanted:
                raise ValueError(f"the SKU {sku!r} is taken by variant {variant.id}")


def _sku_taken(data: StoreData, siblings: list[ProductVariant], sku: str) -> bool:
    try:
        sku_check(data, sku)
    except ValueError:
        return True
    return any(variant.sku.lower() == sku.lower() for variant in siblings)


def variant_build(data: StoreData, product: Product, entry: dict[str, Any]) -> ProductVariant:
    """One option variant of ``product`` from ``{option_name, option_value, sku?, price?}``."""
    if not isinstance(entry, dict):
        raise ValueError("a variant is an object")
    option_name = str(entry.get("option_name") or "").strip()
    option_value = str(entry.get("option_value") or "").strip()
    if not option_name or not option_value:
        raise ValueError("a variant needs an option_name and an option_value")
    existing = [variant for variant in product.variants if not variant.is_base]
    if existing and existing[0].option_name != option_name:
        raise ValueError(f"this product's variants are chosen by {existing[0].option_name!r}")
    if any(variant.option_value.lower() == option_value.lower() for variant in existing):
        raise ValueError(f"the product already has a variant {option_name} {option_value!r}")
    option_id = existing[0].option_id if existing else 100 + product.id
    variant_id = data.counters.take("variant")
    sku = str(entry.get("sku") or f"{product.sku}-{option_value[:3].upper()}")
    if not entry.get("sku") and _sku_taken(data, existing, sku):
        sku = f"{sku}-{variant_id}"  # a generated SKU never collides
    sku_check(data, sku)
    if _sku_taken(data, existing, sku):
        raise ValueError(f"the SKU {sku!r} is taken by another variant of this product")
    price = entry.get("price")
    return ProductVariant(
        id=variant_id,
        sku=sku,
        option_name=option_name,
        option_value=option_value,
        option_id=option_id,
        value_id=data.counters.take("option_value"),
        sku_id=data.counters.take("sku"),
        price=None if price is None else price_check(price, "price"),
        purchasing_disabled=bool(entry.get("purchasing_disabled", False)),
    )


def address_random(rng: random.Random, first: str, last: str, *, country: str | None = None) -> Address:
    iso2 = country or weighted(rng, COUNTRY_WEIGHTS)
    name, _currency, _rates, places = COUNTRIES[iso2]
    city, state, zip_code = rng.choice(places)
    return Address(
        first_name=first,
        last_name=last,
        company=rng.choice(COMPANIES) if rng.random() < 0.15 else "",
        street_1=f"{rng.randint(1, 999)} {rng.choice(STREETS)}",
        street_2=f"Apt {rng.randint(1, 40)}" if rng.random() < 0.15 else "",
        city=city,
        state=state,
        zip=zip_code,
        country=name,
        country_iso2=iso2,
        phone=phone(rng),
        email="",
    )


def _email(first: str, last: str, tag: int, rng: random.Random) -> str:
    local = f"{first}.{last}".lower().replace("'", "").replace(" ", "")
    local = local.encode("ascii", "ignore").decode() or "shopper"
    return f"{local}.{tag}@{rng.choice(EMAIL_DOMAINS)}"


def customer_from_spec(data: StoreData, rng: random.Random, spec: dict[str, Any], *, now: datetime) -> Customer:
    """A new registered customer; what ``spec`` leaves out is generated. Emails are unique (case-insensitive)."""
    customer_id = data.counters.take("customer")
    first = str(spec.get("first_name") or rng.choice(FIRST_NAMES))
    last = str(spec.get("last_name") or rng.choice(LAST_NAMES))
    email = str(spec.get("email") or _email(first, last, customer_id, rng)).strip()
    if "@" not in email:
        raise ValueError(f"not an email address: {email!r}")
    if data.customer_by_email(email) is not None:
        raise ValueError(f"a customer with the email {email!r} already exists")
    created = date_parse(str(spec["date_created"])) if spec.get("date_created") else now
    customer = Customer(
        id=customer_id,
        email=email,
        first_name=first,
        last_name=last,
        company=str(spec.get("company", rng.choice(COMPANIES) if rng.random() < 0.2 else "")),
        phone=str(spec.get("phone", phone(rng))),
        customer_group_id=int(spec.get("customer_group_id", rng.choice((0, 0, 0, 1, 2)))),
        notes=str(spec.get("notes", "")),
        date_created=created,
        date_modified=created,
        registration_ip_address=str(spec.get("registration_ip_address", "")),
        accepts_marketing=bool(spec.get("accepts_product_review_abandoned_cart_emails", rng.random() < 0.5)),
    )
    addresses = spec.get("addresses")
    if addresses is None:
        addresses = [{}] if rng.random() < 0.9 else []
    for entry in addresses:
        customer.addresses.append(customer_address_build(data, rng, customer, entry))
    return customer


def customer_address_build(
    data: StoreData, rng: random.Random, customer: Customer, entry: dict[str, Any]
) -> CustomerAddress:
    base = address_random(rng, customer.first_name, customer.last_name, country=entry.get("country_code"))
    return CustomerAddress(
        id=data.counters.take("address"),
        first_name=str(entry.get("first_name", customer.first_name)),
        last_name=str(entry.get("last_name", customer.last_name)),
        company=str(entry.get("company", customer.company)),
        address1=str(entry.get("address1", base.street_1)),
        address2=str(entry.get("address2", base.street_2)),
        city=str(entry.get("city", base.city)),
        state_or_province=str(entry.get("state_or_province", base.state)),
        postal_code=str(entry.get("postal_code", base.zip)),
        country_code=str(entry.get("country_code", base.country_iso2)),
        country=str(entry.get("country", base.country)),
        phone=str(entry.get("phone", customer.phone)),
        address_type=str(entry.get("address_type", "residential")),
    )


def _customer_billing(customer: Customer, rng: random.Random) -> Address:
    if customer.addresses:
        a = customer.addresses[0]
        return Address(
            first_name=a.first_name,
            last_name=a.last_name,
            company=a.company,
            street_1=a.address1,
            street_2=a.address2,
            city=a.city,
            state=a.state_or_province,
            zip=a.postal_code,
            country=a.country,
            country_iso2=a.country_code,
            phone=a.phone,
            email=customer.email,
        )
    address = address_random(rng, customer.first_name, customer.last_name)
    address.company = customer.company
    address.email = customer.email
    return address


def _address_merge(address: Address, overrides: dict[str, Any] | None) -> Address:
    if overrides:
        for key, value in overrides.items():
            if hasattr(address, key):
                setattr(address, key, "" if value is None else str(value))
    return address


def variant_options(variant: ProductVariant) -> list[dict[str, Any]]:
    """An order line's ``product_options`` for the variant sold (none for a base variant)."""
    if not variant.option_name:
        return []
    return [
        {
            "id": variant.value_id,
            "option_id": variant.option_id,
            "product_option_id": 100 + variant.option_id,
            "display_name": variant.option_name,
            "display_name_customer": variant.option_name,
            "display_name_merchant": variant.option_name,
            "display_value": variant.option_value,
            "display_value_customer": variant.option_value,
            "display_value_merchant": variant.option_value,
            "value": str(variant.value_id),
            "type": "Multiple choice" if variant.option_name == "Size" else "Swatch",
            "name": variant.option_name,
            "display_style": "Rectangle" if variant.option_name == "Size" else "Swatch",
        }
    ]


def _line_from_product(
    data: StoreData,
    rng: random.Random,
    product: Product,
    *,
    currency: str,
    rate: Decimal,
    quantity: int,
    variant_id: int = 0,
) -> Line:
    variant = rng.choice(product.variants)
    if variant_id:
        variant = next((v for v in product.variants if v.id == variant_id), variant)
    options = variant_options(variant)
    price = money(product.variant_price(variant) * PRICE_RATE[currency])
    return Line(
        id=data.counters.take("line"),
        product_id=product.id,
        variant_id=variant.id,
        name=product.name,
        sku=variant.sku,
        type=product.type,
        price_ex_tax=price,
        price_tax=tax_of(price, rate),
        quantity=quantity,
        brand=product.brand,
        weight=product.weight,
        cost_price=money(price * Decimal("0.45")),
        options=options,
        option_set_id=product.option_set_id,
    )


def _custom_line(data: StoreData, rng: random.Random, *, currency: str, rate: Decimal) -> Line:
    name, price_text = rng.choice(CUSTOM_ITEMS)
    price = money(Decimal(price_text) * PRICE_RATE[currency])
    return Line(
        id=data.counters.take("line"),
        product_id=0,
        variant_id=0,
        name=name,
        sku="",
        type="physical",
        price_ex_tax=price,
        price_tax=tax_of(price, rate),
        quantity=1,
    )


def _lines_random(data: StoreData, rng: random.Random, *, currency: str, rate: Decimal) -> list[Line]:
    count = weighted(rng, {1: 35, 2: 30, 3: 18, 4: 10, 5: 7})
    sellable = data.sellable()
    physical = [product for product in sellable if product.type == "physical"]
    lines: list[Line] = []
    chosen: list[int] = []
    for index in range(count):
        if index > 0 and rng.random() < 0.08:
            lines.append(_custom_line(data, rng, currency=currency, rate=rate))
            continue
        # The first line is always physical, so every order has a shipping consignment.
        pool = physical if index == 0 or rng.random() < 0.9 else sellable
        product = rng.choice(pool)
        if product.id in chosen:
            continue
        chosen.append(product.id)
        quantity = 1 if product.type == "digital" else weighted(rng, {1: 60, 2: 25, 3: 10, 4: 5})
        lines.append(_line_from_product(data, rng, product, currency=currency, rate=rate, quantity=quantity))
    return lines


def lines_from_spec(
    data: StoreData, rng: random.Random, specs: list[dict[str, Any]], *, currency: str, rate: Decimal
) -> list[Line]:
    lines = []
    for spec in specs:
        if not isinstance(spec, dict):
            raise ValueError("each product must be an object")
        product_id = int(spec.get("product_id") or 0)
        quantity = int(spec.get("quantity", 1))
        if quantity < 1:
            raise ValueError("quantity must be at least 1")
        product = data.product(product_id)
        if product is not None and not any(key in spec for key in ("price_ex_tax", "price_inc_tax", "price")):
            line = _line_from_product(
                data,
                rng,
                product,
                currency=currency,
                rate=rate,
                quantity=quantity,
                variant_id=int(spec.get("variant_id") or 0),
            )
            if spec.get("name"):
                line.name = str(spec["name"])
            if spec.get("sku") is not None:
                line.sku = str(spec["sku"])
            lines.append(line)
            continue
        if not product_id and not spec.get("name"):
            raise ValueError("a custom product (no product_id) needs a name")
        if "price_ex_tax" in spec or "price" in spec:
            price_ex = money(spec.get("price_ex_tax", spec.get("price")))
            price_tax = money(spec["price_inc_tax"]) - price_ex if "price_inc_tax" in spec else tax_of(price_ex, rate)
        elif "price_inc_tax" in spec:
            price_inc = money(spec["price_inc_tax"])
            price_ex = money(price_inc / (1 + rate))
            price_tax = price_inc - price_ex
        else:
            raise ValueError("a product not in the sandbox catalog needs price_ex_tax or price_inc_tax")
        if price_ex < 0 or price_tax < 0:
            raise ValueError("prices cannot be negative")
        variant_id = int(spec.get("variant_id") or 0)
        sold = next((v for v in product.variants if v.id == variant_id), None) if product else None
        lines.append(
            Line(
                id=data.counters.take("line"),
                product_id=product_id,
                variant_id=variant_id,
                name=str(spec.get("name") or (product.name if product else f"Product {product_id}")),
                sku=str(spec.get("sku", product.sku if product else "")),
                type=str(spec.get("type", product.type if product else "physical")),
                price_ex_tax=price_ex,
                price_tax=price_tax,
                quantity=quantity,
                brand=product.brand if product else "",
                weight=product.weight if product else ZERO,
                cost_price=money(price_ex * Decimal("0.45")),
                options=variant_options(sold) if sold else [],
                option_set_id=product.option_set_id if sold and product else None,
            )
        )
    if not lines:
        raise ValueError("an order needs at least one product")
    for line in lines:
        if line.type not in ("physical", "digital"):
            raise ValueError(f"product type must be physical or digital, not {line.type!r}")
    return lines


def order_from_spec(data: StoreData, rng: random.Random, spec: dict[str, Any], *, now: datetime) -> Order:
    """Build (not store) an order from a control-API spec; everything it leaves out is generated.

    Spec keys (all optional): customer_id (0 = guest), email, billing_address, shipping_address,
    status_id (default 11), currency_code, tax_rate, products [{product_id, variant_id, name, sku,
    price_ex_tax | price_inc_tax, quantity, type}], shipping_cost_ex_tax, handling_cost_ex_tax,
    wrapping_cost_ex_tax, discount_amount, coupon_code + coupon_discount, payment_method,
    payment_provider_id, cart_id, channel_id, order_source, customer_message, staff_notes,
    date_created, ip_address, external_order_id.
    """
    status_id = int(spec.get("status_id", 11))
    if status_id not in ORDER_STATUSES:
        raise ValueError(f"unknown status_id {status_id} (0-14)")
    # Customer and billing address.
    if "customer_id" in spec:
        customer_id = int(spec["customer_id"] or 0)
    elif data.customers and rng.random() < 0.7:
        customer_id = rng.choice(list(data.customers))
    else:
        customer_id = 0
    if customer_id:
        customer = data.customers.get(customer_id)
        if customer is None:
            raise ValueError(f"no customer {customer_id}")
        billing = _customer_billing(customer, rng)
    else:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        billing = address_random(rng, first, last)
        billing.email = _email(first, last, rng.randint(1000, 9999), rng)
    if spec.get("email") is not None:
        billing.email = str(spec["email"])
    _address_merge(billing, spec.get("billing_address"))
    # Money context follows the billing country unless given.
    country = COUNTRIES.get(billing.country_iso2, COUNTRIES["US"])
    currency = str(spec.get("currency_code", country[1]))
    if currency not in PRICE_RATE:
        raise ValueError(f"currency_code must be one of {sorted(PRICE_RATE)}")
    rate = Decimal(str(spec["tax_rate"])) if "tax_rate" in spec else Decimal(rng.choice(country[2]))
    if rate < 0 or rate >= 1:
        raise ValueError("tax_rate must be a fraction, e.g. 0.0825")
    if "products" in spec:
        lines = lines_from_spec(data, rng, spec["products"], currency=currency, rate=rate)
    else:
        lines = _lines_random(data, rng, currency=currency, rate=rate)
    has_physical = any(line.type == "physical" for line in lines)
    shipping = None
    method, cost = rng.choice(SHIPPING_OPTIONS)
    if has_physical:
        shipping_address = Address(**billing.as_dict())
        if rng.random() < 0.1 and "shipping_address" not in spec:
            shipping_address = address_random(
                rng, rng.choice(FIRST_NAMES), billing.last_name, country=billing.country_iso2
            )
            shipping_address.email = billing.email
        _address_merge(shipping_address, spec.get("shipping_address"))
        shipping = ShippingAddress(
            id=data.counters.take("shipping_address"),
            address=shipping_address,
            shipping_method=str(spec.get("shipping_method", method)),
            zone_name=shipping_address.country or "United States",
        )
    shipping_cost = money(spec.get("shipping_cost_ex_tax", cost if has_physical else "0"))
    handling = money(spec.get("handling_cost_ex_tax", "2.00" if rng.random() < 0.1 else "0"))
    wrapping = money(spec.get("wrapping_cost_ex_tax", "3.50" if rng.random() < 0.05 else "0"))
    if shipping_cost < 0 or handling < 0 or wrapping < 0:
        raise ValueError("costs cannot be negative")
    if wrapping and has_physical:
        first_physical = next(line for line in lines if line.type == "physical")
        first_physical.wrapping_ex_tax = wrapping
        first_physical.wrapping_tax = tax_of(wrapping, rate)
    subtotal_inc = sum((line.total_inc_tax for line in lines), ZERO)
    # Discounts: an order-level one and at most one coupon, never more than half the subtotal when generated.
    if "discount_amount" in spec:
        discount = money(spec["discount_amount"])
    elif rng.random() < 0.12:
        discount = money(subtotal_inc * Decimal(rng.choice(("0.05", "0.10"))))
    else:
        discount = ZERO
    coupons: list[Coupon] = []
    if spec.get("coupon_code"):
        code = str(spec["coupon_code"])
        coupon_discount = money(spec.get("coupon_discount", "5.00"))
        coupons.append(
            Coupon(
                data.counters.take("coupon"),
                1000 + sum(map(ord, code)) % 100,
                code,
                2,
                coupon_discount,
                coupon_discount,
            )
        )
    elif "coupon_code" not in spec and rng.random() < 0.15:
        code, kind, face = rng.choice(COUPONS)
        amount = Decimal(face)
        coupon_discount = money(subtotal_inc * amount / 100) if kind == 1 else money(amount * PRICE_RATE[currency])
        if coupon_discount * 2 <= subtotal_inc - discount:
            coupon_id = 1 + [c[0] for c in COUPONS].index(code)
            coupons.append(Coupon(data.counters.take("coupon"), coupon_id, code, kind, amount, coupon_discount))
    if discount < 0 or any(coupon.discount < 0 for coupon in coupons):
        raise ValueError("discounts cannot be negative")
    if discount + sum((coupon.discount for coupon in coupons), ZERO) > subtotal_inc:
        raise ValueError("discounts exceed the order subtotal")
    payment_method = str(spec.get("payment_method", weighted(rng, PAYMENT_WEIGHTS)))
    if "payment_provider_id" in spec:
        provider_id = str(spec["payment_provider_id"] or "")
    elif payment_method in ONLINE_METHODS and status_id not in UNPAID_STATUSES:
        provider_id = "".join(rng.choice("0123456789abcdef") for _ in range(12))
    else:
        provider_id = ""
    created = date_parse(str(spec["date_created"])) if spec.get("date_created") else now
    source = str(spec.get("order_source", weighted(rng, {"www": 85, "manual": 10, "external": 5})))
    return Order(
        id=data.counters.take("order"),
        customer_id=customer_id,
        date_created=created,
        date_modified=created,
        status_id=status_id,
        currency_code=currency,
        tax_rate=rate,
        billing=billing,
        lines=lines,
        shipping=shipping,
        cart_id=spec["cart_id"] if "cart_id" in spec else uuid_from(rng),
        channel_id=int(spec.get("channel_id", 1)),
        payment_method=payment_method,
        payment_provider_id=provider_id,
        shipping_cost_ex_tax=shipping_cost,
        handling_cost_ex_tax=handling,
        discount_amount=discount,
        coupons=coupons,
        order_source=source,
        ip_address=str(spec.get("ip_address", ipv4(rng) if source == "www" else "")),
        customer_message=str(spec.get("customer_message", rng.choice(MESSAGES) if rng.random() < 0.1 else "")),
        staff_notes=str(spec.get("staff_notes", "")),
        is_email_opt_in=bool(spec.get("is_email_opt_in", rng.random() < 0.3)),
        external_source="POS" if source == "external" else None,
        external_order_id=str(spec.get("external_order_id", "")),
    )


def _lifecycle(data: StoreData, rng: random.Random, order: Order, target: int, *, limit: datetime) -> None:
    """Walk a generated order to its target status with the shipments and refunds that status implies."""

    def later(hours_low: int, hours_high: int) -> datetime:
        moment = order.date_modified + timedelta(hours=rng.randint(hours_low, hours_high), minutes=rng.randint(0, 59))
        return min(moment, limit)

    physical = [line for line in order.lines if line.type == "physical"]
    if target in (2, 10) or (target == 4 and rng.random() < 0.3):
        ops.shipment_add(
            data, order, rng=rng, now=later(12, 96), shipping_provider=rng.choice(("ups", "usps", "fedex"))
        )
    elif target == 3:
        if sum(line.quantity for line in physical) < 2:
            physical[0].quantity = 2
        first = physical[0]
        items = [{"order_product_id": first.id, "quantity": 1}]
        ops.shipment_add(data, order, rng=rng, now=later(12, 96), items=items, shipping_provider="ups")
    if target == 4:
        if rng.random() < 0.4:
            line = rng.choice(order.lines)
            ops.refund_add(data, order, now=later(24, 240), items=[{"order_product_id": line.id, "quantity": 1}])
        if order.status_id != 4:
            ops.refund_add(data, order, now=later(24, 240), reason="Order cancelled by the customer")
    elif target == 14:
        refundable = order_totals(order).total_inc_tax
        line = rng.choice(order.lines)
        discounts = line_discounts(order)[line.id]
        paid_one = (line.total_inc_tax - sum((d["amount"] for d in discounts), ZERO)) / line.quantity
        if rng.random() < 0.5 and paid_one < refundable:
            items = [{"order_product_id": line.id, "quantity": 1}]
            ops.refund_add(data, order, now=later(24, 240), items=items, reason="Damaged item")
        else:
            share = Decimal(rng.choice(("0.1", "0.2", "0.25", "0.5")))
            amount = max(money(refundable * share), CENT)
            ops.refund_add(data, order, now=later(24, 240), amount=amount, reason="Goodwill partial refund")
    order.status_id = target
    order.date_modified = max(order.date_modified, later(0, 6))


def cart_from_spec(data: StoreData, rng: random.Random, spec: dict[str, Any], *, now: datetime) -> Cart:
    """Build (not store) a cart. Spec keys (optional): customer_id, email, currency_code,
    items [{product_id, variant_id, name, sku, quantity, list_price, sale_price}] (no product_id = custom item),
    discount_amount, coupon_code + coupon_discount, amount_band ("above" or "below" 100), created_time,
    updated_time.
    """
    if "customer_id" in spec:
        customer_id = int(spec["customer_id"] or 0)
        kind = "registered" if customer_id else ("guest" if spec.get("email") else "anonymous")
    else:
        kind = (
            weighted(rng, {"registered": 45, "guest": 35, "anonymous": 20})
            if data.customers
            else weighted(rng, {"guest": 60, "anonymous": 40})
        )
        customer_id = rng.choice(list(data.customers)) if kind == "registered" else 0
    email = ""
    country = weighted(rng, COUNTRY_WEIGHTS)
    if customer_id:
        customer = data.customers.get(customer_id)
        if customer is None:
            raise ValueError(f"no customer {customer_id}")
        email = customer.email
        if customer.addresses:
            country = customer.addresses[0].country_code
    elif kind == "guest":
        email = _email(rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES), rng.randint(1000, 9999), rng)
    if "email" in spec:
        email = str(spec["email"] or "")
    currency = str(spec.get("currency_code", COUNTRIES.get(country, COUNTRIES["US"])[1]))
    if currency not in PRICE_RATE:
        raise ValueError(f"currency_code must be one of {sorted(PRICE_RATE)}")
    items: list[CartItem] = []
    if "items" in spec:
        items = [cart_item_from_spec(data, rng, currency, entry) for entry in spec["items"]]
    else:
        for _ in range(weighted(rng, {1: 35, 2: 35, 3: 20, 4: 10})):
            if items and rng.random() < 0.08:
                name, price = rng.choice(CUSTOM_ITEMS)
                amount = money(Decimal(price) * PRICE_RATE[currency])
                items.append(CartItem(uuid_from(rng), 0, 0, "", name, 1, amount, amount, "custom"))
                continue
            product = rng.choice(data.sellable())
            quantity = 1 if product.type == "digital" else weighted(rng, {1: 65, 2: 25, 3: 10})
            items.append(_cart_item(rng, product, currency, quantity, {}, None))
    if not items:
        raise ValueError("a cart needs at least one item")
    created = (
        date_parse(str(spec["created_time"]))
        if spec.get("created_time")
        else now - timedelta(hours=rng.randint(2, 400))
    )
    updated = (
        date_parse(str(spec["updated_time"]))
        if spec.get("updated_time")
        else created + (now - created) * rng.random() * 0.5
    )
    cart = Cart(
        id=str(spec.get("id") or uuid_from(rng)),
        customer_id=customer_id,
        email=email,
        currency_code=currency,
        items=items,
        created_time=created,
        updated_time=max(updated, created),
        discount_amount=money(spec.get("discount_amount", "0")),
    )
    if spec.get("coupon_code"):
        cart.coupon_code = str(spec["coupon_code"])
        cart.coupon_discount = money(spec.get("coupon_discount", "5.00"))
        cart.coupon_id = 1 + sum(map(ord, cart.coupon_code)) % 50
    elif "coupon_code" not in spec and "items" not in spec and rng.random() < 0.1:
        cart.coupon_code, cart.coupon_id, cart.coupon_discount = "SAVE5", 3, money(Decimal("5") * PRICE_RATE[currency])
    band = spec.get("amount_band") or ("items" not in spec and rng.choice(("above", "below")))
    if band:
        _cart_band(rng, cart, str(band), data)
    if cart.cart_amount < 0:
        raise ValueError("discounts exceed the cart's amount")
    return cart


def cart_item_from_spec(data: StoreData, rng: random.Random, currency: str, entry: dict[str, Any]) -> CartItem:
    """One cart line from ``{product_id?, variant_id?, name, sku, quantity, list_price, sale_price}``.

    No ``product_id`` makes a custom item (it needs a name and a list_price); a catalog product's price
    defaults to its catalog price in ``currency``.
    """
    if not isinstance(entry, dict):
        raise ValueError("a cart item is an object")
    product = data.product(int(entry.get("product_id") or 0))
    quantity = int(entry.get("quantity", 1))
    if quantity < 1:
        raise ValueError("quantity must be at least 1")
    if product is None and not entry.get("name"):
        raise ValueError("an item not in the sandbox catalog needs a name and a list_price")
    default_price = money(product.price * PRICE_RATE[currency]) if product else None
    list_price = money(entry.get("list_price", default_price if default_price is not None else "0"))
    if list_price <= 0:
        raise ValueError("an item needs a positive list_price")
    if product is None and not entry.get("product_id"):
        sku, name = str(entry.get("sku", "")), str(entry["name"])
        return CartItem(uuid_from(rng), 0, 0, sku, name, quantity, list_price, list_price, "custom")
    if product is None:
        raise ValueError(f"no product {entry.get('product_id')} in the sandbox catalog")
    return _cart_item(rng, product, currency, quantity, entry, list_price if "list_price" in entry else None)


def _cart_item(
    rng: random.Random,
    product: Product,
    currency: str,
    quantity: int,
    entry: dict[str, Any],
    list_price: Decimal | None,
) -> CartItem:
    variant = rng.choice(product.variants)
    if entry.get("variant_id"):
        variant = next((v for v in product.variants if v.id == int(entry["variant_id"])), variant)
    price = list_price if list_price is not None else money(product.variant_price(variant) * PRICE_RATE[currency])
    sale = money(entry.get("sale_price", price))
    slug = product.name.lower().replace(" ", "-").replace("(", "").replace(")", "")
    return CartItem(
        id=uuid_from(rng),
        product_id=product.id,
        variant_id=variant.id,
        sku=variant.sku,
        name=str(entry.get("name", product.name)),
        quantity=quantity,
        list_price=price,
        sale_price=sale,
        kind=product.type,
        url=f"{STORE_URL}/{slug}/",
        image_url=f"{STORE_URL}/images/{product.sku.lower()}.jpg",
    )


def _cart_band(rng: random.Random, cart: Cart, band: str, data: StoreData) -> None:
    """Push a cart's amount above or below 100 (never exactly 100)."""
    hundred = Decimal("100")
    if band == "below":
        while cart.cart_amount >= hundred and len(cart.items) > 1:
            cart.items.pop()
        item = cart.items[0]
        while cart.cart_amount >= hundred and item.quantity > 1:
            item.quantity -= 1
        if cart.cart_amount >= hundred:
            cheapest = min((p for p in data.sellable() if p.type == "physical"), key=lambda p: p.price)
            cart.items[0] = _cart_item(rng, cheapest, cart.currency_code, 1, {}, None)
        cart.coupon_code, cart.coupon_discount, cart.coupon_id = (
            (cart.coupon_code, cart.coupon_discount, cart.coupon_id) if cart.cart_amount > 0 else ("", ZERO, 0)
        )
    elif band == "above":
        priciest = max(cart.items, key=lambda i: i.sale_price)
        while cart.cart_amount <= hundred:
            if priciest.kind == "physical":
                priciest.quantity += 1
            else:
                product = max((p for p in data.sellable() if p.type == "physical"), key=lambda p: p.price)
                priciest = _cart_item(rng, product, cart.currency_code, 1, {}, None)
                cart.items.append(priciest)
    else:
        raise ValueError("amount_band must be 'above' or 'below'")


def generate(
    seed: int,
    customers: int,
    orders: int,
    carts: int,
    *,
    base_date: datetime = DEFAULT_BASE_DATE,
) -> StoreData:
    """A store filled with ``customers`` registered customers, ``orders`` orders and ``carts`` open carts.

    Orders span the year before ``base_date`` (ids rise with dates); with 15 orders or more every status
    id 0-14 occurs. About 30 % of orders are guest checkouts (customer_id 0), some guests reuse an email
    (a few even a registered customer's), and every order's money adds up to the cent.
    """
    if min(customers, orders, carts) < 0:
        raise ValueError("counts cannot be negative")
    rng = random.Random(seed)
    data = StoreData()
    data.catalog = catalog_build(rng, data)
    for _ in range(customers):
        created = base_date - timedelta(days=rng.randint(365, 730), seconds=rng.randint(0, 86399))
        customer = customer_from_spec(data, rng, {}, now=created)
        data.customers[customer.id] = customer
    # A pool of guest shoppers: fewer emails than guest orders, so some guests order more than once.
    guests = []
    for index in range(max(3, orders // 8)):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        guests.append((first, last, _email(first, last, 9000 + index, rng)))
    offsets = sorted(rng.randint(60, 365 * 86400) for _ in range(orders))
    statuses = [weighted(rng, STATUS_WEIGHTS) for _ in range(orders)]
    if orders >= len(ORDER_STATUSES):
        for status_id, position in zip(ORDER_STATUSES, rng.sample(range(orders), len(ORDER_STATUSES)), strict=True):
            statuses[position] = status_id
    registered = list(data.customers)
    for offset, status_id in zip(reversed(offsets), statuses, strict=True):
        created = base_date - timedelta(seconds=offset)
        spec: dict[str, Any] = {"status_id": status_id, "date_created": created.isoformat()}
        if registered and rng.random() < 0.7:
            spec["customer_id"] = rng.choice(registered)
        else:
            spec["customer_id"] = 0
            first, last, email = rng.choice(guests)
            if registered and rng.random() < 0.1:
                email = data.customers[rng.choice(registered)].email
            spec["email"] = email
            spec["billing_address"] = {"first_name": first, "last_name": last}
        # Statuses are drawn first; the generated order starts "placed" and is walked to its status.
        order = order_from_spec(data, rng, spec, now=created)
        order.status_id = 11 if status_id not in UNPAID_STATUSES else status_id
        _lifecycle(data, rng, order, status_id, limit=base_date)
        data.orders[order.id] = order
    for _ in range(carts):
        cart = cart_from_spec(data, rng, {}, now=base_date)
        data.carts[cart.id] = cart
    return data
