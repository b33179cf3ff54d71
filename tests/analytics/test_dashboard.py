"""The admin dashboard and lists, rendered with real data; the numbers are checked against the ledger."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from xml.etree import ElementTree

import pytest
from django.db.models import Count, Sum
from django.urls import reverse

from analytics.charts import LABEL_MAX_WIDTH, PAD, bar_chart_svg, text_width
from analytics.models import LedgerEntry
from analytics.selectors import customer_names
from analytics.services import analytics_recompute, ledger_order_record
from sync.models import KnownCustomer, Store
from tests.factories.analytics import ledger_customers_create
from tests.factories.auth import UserFactory
from tests.factories.sync import StoreFactory

from .conftest import NOW

pytestmark = pytest.mark.django_db

NOT_COUNTING = (0, 4, 5, 6)
DASHBOARD = "admin:analytics_analyticsdashboard_changelist"


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(superuser=True))
    return client


def ledger_truth(store: Store | None) -> dict[str, tuple[Decimal, int]]:
    """Per customer (CLV, orders) straight from the ledger, in SQL: counted statuses, net totals."""
    rows = LedgerEntry.objects.exclude(status_id__in=NOT_COUNTING)
    if store is not None:
        rows = rows.filter(store=store)
    return {
        row["customer_key"]: (row["clv"], row["orders"])
        for row in rows.values("customer_key").annotate(clv=Sum("net_total"), orders=Count("id"))
    }


def tier_of(clv: Decimal) -> str:
    return "Platinum" if clv >= 10000 else "Gold" if clv >= 5000 else "Silver" if clv >= 1000 else "Bronze"


def table_numbers(html: str, attribute: str) -> dict[str, list[str]]:
    """``<tr data-{attribute}="X"><td>..</td>...`` → {X: [cell texts]}."""
    found = {}
    for match in re.finditer(rf'<tr data-{attribute}="([^"]*)">(.*?)</tr>', html, re.S):
        # Numbers are written with thousands separators ("1,234.50"): read back without them.
        found[match.group(1)] = [
            cell.replace(",", "") for cell in re.findall(r"<td[^>]*>(.*?)</td>", match.group(2), re.S)
        ]
    return found


def metric(html: str, name: str) -> str:
    return re.search(rf'data-metric="{name}">([^<]*)<', html).group(1).replace(",", "")


@pytest.fixture
def two_stores(db, push_faked):
    first, second = StoreFactory.create_batch(2)
    ledger_customers_create(store=first, customers=120, now=NOW, seed=11)
    ledger_customers_create(store=second, customers=30, now=NOW, seed=12, first_order_id=10_000)
    analytics_recompute(now=NOW)  # the daily run fills the customer values of both stores
    return first, second


def test_dashboard_numbers_match_the_ledger(staff_client, two_stores):
    first, _second = two_stores
    response = staff_client.get(reverse(DASHBOARD), {"store": first.pk})
    assert response.status_code == 200
    html = response.content.decode()
    truth = ledger_truth(first)
    customers = LedgerEntry.objects.filter(store=first).values("customer_key").distinct().count()

    assert int(metric(html, "customers")) == customers == 120
    assert int(metric(html, "buyers")) == len(truth)
    assert int(metric(html, "counted_orders")) == sum(orders for _clv, orders in truth.values())
    assert int(metric(html, "ledger_orders")) == LedgerEntry.objects.filter(store=first).count()
    total = sum((clv for clv, _orders in truth.values()), Decimal("0"))
    assert Decimal(metric(html, "total_clv")) == total
    assert Decimal(metric(html, "average_clv")) == (total / len(truth)).quantize(Decimal("0.01"))

    everyone = {
        key: truth.get(key, (Decimal("0"), 0))
        for key in LedgerEntry.objects.filter(store=first).values_list("customer_key", flat=True)
    }
    tiers = Counter(tier_of(clv) for clv, _orders in everyone.values())
    shown = table_numbers(html, "tier")
    assert {tier: int(cells[1]) for tier, cells in shown.items()} == {
        tier: tiers.get(tier, 0) for tier in ("Bronze", "Silver", "Gold", "Platinum")
    }
    for tier, cells in shown.items():
        assert Decimal(cells[2]) == sum((clv for clv, _ in everyone.values() if tier_of(clv) == tier), Decimal("0"))

    edges = [0, 100, 250, 500, 1000, 2500, 5000, 10000, 25000]
    histogram = {int(low): int(cells[1]) for low, cells in table_numbers(html, "bin").items()}
    for low, high in zip(edges, [*edges[1:], None], strict=True):
        expected = sum(1 for clv, _ in everyone.values() if clv >= low and (high is None or clv < high))
        assert histogram[low] == expected
    assert sum(histogram.values()) == customers

    top = table_numbers(html, "customer")
    best = sorted(truth.items(), key=lambda item: (-item[1][0], item[0]))[:10]
    assert list(top) == [key for key, _ in best]
    assert [Decimal(cells[1]) for cells in top.values()] == [clv for _key, (clv, _orders) in best]

    segments = {name: int(cells[1]) for name, cells in table_numbers(html, "segment").items()}
    assert sum(segments.values()) == customers
    assert segments["No orders"] == customers - len(truth)

    # Four server-rendered charts, no script, and each chart carries the numbers in its bars' titles.
    assert html.count('class="analytics-chart"') == 4
    assert "<script" not in html.split('id="content-main"')[1]
    assert f"{customer_names(keys=[best[0][0]])[best[0][0]]}: {best[0][1][0]:,.2f}" in html


def test_dashboard_for_all_stores_and_the_store_filter(staff_client, two_stores):
    html = staff_client.get(reverse(DASHBOARD)).content.decode()
    assert int(metric(html, "customers")) == 150
    total = sum((clv for clv, _ in ledger_truth(None).values()), Decimal("0"))
    assert Decimal(metric(html, "total_clv")) == total
    _first, second = two_stores
    html = staff_client.get(reverse(DASHBOARD), {"store": second.pk}).content.decode()
    assert int(metric(html, "customers")) == 30
    assert f'<option value="{second.pk}" selected>' in html


def test_dashboard_follows_new_orders(staff_client, store, order, push_faked):
    ledger_order_record(store=store, customer_key="an1:1", order=order(1, "10000.00", date=NOW - timedelta(days=1)))
    html = staff_client.get(reverse(DASHBOARD), {"store": store.pk}).content.decode()
    assert table_numbers(html, "tier")["Platinum"][1] == "1"
    assert table_numbers(html, "customer")["an1:1"][1] == "10000.00"


def test_dashboard_is_staff_only(client, two_stores):
    response = client.get(reverse(DASHBOARD))
    assert response.status_code == 302 and "/login/" in response["Location"]
    client.force_login(UserFactory())
    assert client.get(reverse(DASHBOARD)).status_code == 302


def test_dashboard_is_linked_from_the_admin_index(staff_client):
    html = staff_client.get(reverse("admin:index")).content.decode()
    assert reverse(DASHBOARD) in html


def test_ledger_and_values_lists_are_read_only_with_search(staff_client, two_stores):
    first, _second = two_stores
    key = first.external_id(7)
    response = staff_client.get(reverse("admin:analytics_customervalues_changelist"), {"q": key})
    assert response.status_code == 200
    assert key in response.content.decode()
    response = staff_client.get(reverse("admin:analytics_ledgerentry_changelist"), {"counted__exact": "0"})
    assert response.status_code == 200
    assert staff_client.get(reverse("admin:analytics_ledgerentry_add")).status_code == 403
    entry = LedgerEntry.objects.first()
    page = staff_client.get(reverse("admin:analytics_ledgerentry_change", args=[entry.pk])).content.decode()
    assert 'name="gross_total"' not in page  # shown, not editable


def test_chart_is_well_formed_svg_with_escaped_labels():
    svg = str(bar_chart_svg([("<b>x</b>", 3), ("y", Decimal("2.50")), ("zero", 0)], title="T & U"))
    root = ElementTree.fromstring(svg)  # well-formed XML
    namespace = "{http://www.w3.org/2000/svg}"
    bars = root.findall(f"{namespace}rect")
    assert [float(bar.get("width")) for bar in bars] == [280.0, round(280 * 2.5 / 3, 1), 0.0]
    assert "<b>" not in svg and "&lt;b&gt;" in svg
    assert root.find(f"{namespace}title").text == "T & U"
    assert ">3<" in svg and ">2.50<" in svg
    assert str(bar_chart_svg([], title="empty")).startswith("<svg")


SVG = "{http://www.w3.org/2000/svg}"
LONG_ASCII = "Customer " + "W" * 25 + " and Sons Wholesale Holdings International Ltd"
LONG_CJK = "株式会社東京国際貿易" * 8
SHORT_CJK = "株式会社東京国際貿易"


def visible(label: ElementTree.Element) -> str:
    """A <text>'s drawn text: its tooltip <title> (first child, as SVG 2 asks) is not drawn."""
    return (label.text or "") + "".join(child.tail or "" for child in label)


def label_column(root: ElementTree.Element) -> float:
    """Where the bars start: everything left of it is the label column."""
    return float(root.find(f"{SVG}rect").get("x"))


@pytest.mark.parametrize("name", [LONG_ASCII, LONG_CJK, "Zoë Ångström-Łukasiewicz née Müller-Lüdenscheidt & Co. KG"])
def test_a_long_label_is_never_clipped(name):
    assert len(LONG_ASCII) == len(LONG_CJK) == 80
    svg = str(bar_chart_svg([(name, Decimal("123456789.99")), ("short", 1)], title="Top"))
    root = ElementTree.fromstring(svg)
    labels = [text for text in root.findall(f"{SVG}text") if text.get("text-anchor") == "end"]
    column = label_column(root)
    for label in labels:
        shown = visible(label)
        # Each label drawn fits in the column left of the bars (right-aligned at column - PAD) ...
        assert text_width(shown) <= column - PAD
        # ... and whatever does not fit is said in full in the label's own tooltip.
        tooltip = label.find(f"{SVG}title")
        full = tooltip.text if tooltip is not None else shown
        assert full.startswith(shown.removesuffix("…"))
    if text_width(name) > LABEL_MAX_WIDTH - 2 * PAD:
        assert visible(labels[0]).endswith("…") and labels[0].find(f"{SVG}title").text == name
    else:
        assert visible(labels[0]) == name
    assert visible(labels[1]) == "short" and labels[1].find(f"{SVG}title") is None
    # The widest value still ends inside the chart.
    width = float(root.get("width"))
    value = next(text for text in root.findall(f"{SVG}text") if text.text == "123,456,789.99")
    assert float(value.get("x")) + text_width(value.text) <= width
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"


def test_a_label_that_fits_the_widest_column_is_shown_whole():
    # Names the old fixed column cut at 24 characters now widen the column instead.
    for name in ("Wholesale Customer Number 42", SHORT_CJK * 2):
        root = ElementTree.fromstring(str(bar_chart_svg([(name, 5)], title="Top")))
        label = root.find(f"{SVG}text")
        assert visible(label) == name and label.find(f"{SVG}title") is None
        assert label_column(root) >= text_width(name) + PAD


def test_short_labels_keep_the_layout():
    root = ElementTree.fromstring(str(bar_chart_svg([("Gold", 3)], title="Tiers")))
    assert label_column(root) == 150 and root.get("width") == "520"


def test_dashboard_shows_long_and_cjk_names_for_staff(staff_client, store, order, push_faked):
    for number, key in enumerate((LONG_ASCII, LONG_CJK), start=1):
        ledger_order_record(store=store, customer_key=key, order=order(number, "500.00", date=NOW - timedelta(days=1)))
    response = staff_client.get(reverse(DASHBOARD), {"store": store.pk})
    assert response.status_code == 200
    html = response.content.decode()
    top = table_numbers(html, "customer")
    assert set(top) == {LONG_ASCII, LONG_CJK}  # the table, for screen readers, has every name whole
    chart = html.split('id="top"')[1].split("</svg>")[0] + "</svg>"
    root = ElementTree.fromstring(chart[chart.index("<svg") :])
    tooltips = {title.text for text in root.findall(f"{SVG}text") for title in text.findall(f"{SVG}title")}
    assert tooltips == {LONG_ASCII, LONG_CJK}
    for label in root.findall(f"{SVG}text[@text-anchor='end']"):
        assert text_width(visible(label)) <= label_column(root) - PAD


def test_dashboard_names_customers_and_the_currency(staff_client, store, order, push_faked):
    KnownCustomer.objects.create(store=store, customer_id=7, document={"first_name": "Ada", "last_name": "Lovelace"})
    guest = f"{store.store_hash}:guest:0123456789abcdef0123456789abcdef"
    ledger_order_record(store=store, customer_key=f"{store.store_hash}:7", order=order(1, "12500.00", date=NOW))
    ledger_order_record(store=store, customer_key=f"{store.store_hash}:8", order=order(2, "300.00", date=NOW))
    ledger_order_record(store=store, customer_key=guest, order=order(3, "40.00", date=NOW))
    html = staff_client.get(reverse(DASHBOARD), {"store": store.pk}).content.decode()
    names = re.findall(r'<tr data-customer="[^"]*"><td title="[^"]*">([^<]*)</td>', html)
    assert names == ["Ada Lovelace", "Customer #8", "Guest 01234567…"]
    assert "Lifetime value (USD)" in html and "12,500.00" in html
    assert 'id="analytics-currencies"' not in html


def test_dashboard_says_when_orders_mix_currencies(staff_client, store, order, push_faked):
    ledger_order_record(store=store, customer_key=f"{store.store_hash}:1", order=order(1, "10.00", date=NOW))
    euro = order(2, "20.00", date=NOW, currency="EUR")
    ledger_order_record(store=store, customer_key=f"{store.store_hash}:2", order=euro)
    html = staff_client.get(reverse(DASHBOARD), {"store": store.pk}).content.decode()
    assert "Lifetime value (mixed currencies)" in html
    assert "The orders are in several currencies (EUR, USD)" in html
