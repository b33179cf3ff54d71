"""The Cart admin: a read-only list with filters and search."""

from __future__ import annotations

from decimal import Decimal

from django.urls import reverse

from recovery.models import Cart
from tests.factories.recovery import CartFactory
from tests.factories.sync import StoreFactory


def _carts(db) -> list[Cart]:
    store = StoreFactory(access_token="secret-token-123456")
    return [
        CartFactory(
            store=store,
            cart_id="11111111-2222-4333-8444-555555555555",
            value=Decimal("149.99"),
            currency="USD",
            email="listed@example.com",
            opportunity_id="0068d0000000001AAA",
            task_id="00T8d0000000002AAA",
        ),
        CartFactory(
            store=store,
            cart_id="66666666-7777-4888-9999-000000000000",
            value=Decimal("20.00"),
            email="",  # no email and no registered customer, as the skip reason says
            state=Cart.State.SKIPPED,
            skip_reason="No email and no registered customer: nobody to follow up.",
        ),
    ]


def test_changelist_lists_filters_and_searches(admin_client, db):
    opportunity_cart, skipped_cart = _carts(db)
    url = reverse("admin:recovery_cart_changelist")

    page = admin_client.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert opportunity_cart.cart_id in body and skipped_cart.cart_id in body
    assert "Opportunity" in body
    assert "secret-token-123456" not in body

    filtered = admin_client.get(url, {"state__exact": "skipped"}).content.decode()
    assert skipped_cart.cart_id in filtered and opportunity_cart.cart_id not in filtered
    searched = admin_client.get(url, {"q": "listed@example.com"}).content.decode()
    assert opportunity_cart.cart_id in searched and skipped_cart.cart_id not in searched
    by_salesforce_id = admin_client.get(url, {"q": "0068d0000000001AAA"}).content.decode()
    assert opportunity_cart.cart_id in by_salesforce_id


def test_detail_is_read_only_and_carts_cannot_be_added(admin_client, db):
    cart, _ = _carts(db)

    detail = admin_client.get(reverse("admin:recovery_cart_change", args=[cart.pk]))
    assert detail.status_code == 200
    assert 'name="value"' not in detail.content.decode()  # shown, not editable
    assert admin_client.get(reverse("admin:recovery_cart_add")).status_code == 403
