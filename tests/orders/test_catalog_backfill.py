"""``manage.py backfill --products`` with both stand-ins over HTTPS: the whole catalog, resumable, and its cost."""

from __future__ import annotations

from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command

from orders.backfill import products_backfill_run
from orders.models import BackfillRun, KnownProduct
from tests.orders.test_catalog_sync import Catalog, assert_product_matches

pytestmark = pytest.mark.django_db


def _live(catalog: Catalog) -> list:
    return list(catalog.bc._data.catalog)


def test_products_backfill_loads_the_catalog_and_resumes(orders):
    catalog = Catalog(orders)
    catalog.warm_up()
    live = _live(catalog)
    assert len(live) == 30 and any(not product.is_visible for product in live)

    def stop_after_first_page(state) -> None:
        if state.done >= 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        products_backfill_run(store=catalog.store, page_size=10, progress=stop_after_first_page)
    run = BackfillRun.objects.get()
    assert run.status == "interrupted" and run.synced == 10
    assert run.last_product_id == sorted(product.id for product in live)[9]
    before = catalog.sf.api_calls_counted()
    summary = products_backfill_run(store=catalog.store, page_size=10, resume=True)
    assert summary.synced == 30 and not summary.failed  # 10 before the interruption, 20 now
    # Two pages of 10 products left, each one composite request (well under 1,000 records).
    assert catalog.sf.api_calls_counted() - before == 2
    run.refresh_from_db()
    assert run.status == "done" and run.last_product_id == max(product.id for product in live)
    for product in live:
        assert_product_matches(catalog, product)
    keys = Counter(row["BigCommerceProductId__c"] for row in catalog.sf.records("Product2"))
    assert set(keys.values()) == {1}
    assert sum(keys.values()) == sum(len(product.variants) for product in live)
    # Deleted products are not listed: nothing of them was created.
    for product_id in catalog.bc._data.deleted_products:
        assert catalog.products2(product_id) == {}

    before = catalog.sf.api_calls_counted()
    again = products_backfill_run(store=catalog.store)
    assert (again.synced, again.unchanged) == (0, 30)
    assert catalog.sf.api_calls_counted() - before == 0
    assert KnownProduct.objects.count() == sum(keys.values())


def test_backfill_command_products(orders):
    catalog = Catalog(orders)
    out = StringIO()
    call_command("backfill", "--store", catalog.store.store_hash, "--products", stdout=out)
    text = out.getvalue()
    assert "products: 30 synced, 0 unchanged, 0 failed" in text
    for product in _live(catalog):
        assert_product_matches(catalog, product)
