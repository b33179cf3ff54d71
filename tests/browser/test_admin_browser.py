"""The dashboard and the main admin pages in a real headless Chromium at 1280x900 (pytest-django's live server).

What a person sees: the branded header, the inbox's status column inside the window, badges in colour, the
event page's Replay and Sync again buttons doing what they say, carts without Save or Delete, backfill progress.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from audit.services import audit_record
from orders.models import BackfillRun
from sync.models import WebhookEvent
from tests.factories.recovery import CartFactory
from tests.factories.sync import StoreFactory, WebhookEventFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def inbox(transactional_db) -> dict[str, WebhookEvent]:
    """Events of a store with a long name, in several states, the failed one with a long error code."""
    store = StoreFactory(name="Acme Outdoor Supplies International Holdings", store_hash="acme42")
    received = datetime(2026, 12, 3, 17, 45, 12, tzinfo=UTC)
    events = {}
    for number, status in enumerate(("failed", "done", "dead", "pending", "processing", "skipped"), start=1):
        events[status] = WebhookEventFactory(
            store=store,
            scope="store/order/statusUpdated",
            resource_id=str(4700 + number),
            body={"scope": "store/order/statusUpdated", "data": {"type": "order", "id": 4700 + number}},
            received_at=received - timedelta(minutes=number),
            status=status,
            attempts=number,
            last_error_code="UNABLE_TO_LOCK_ROW_BECAUSE_SOMETHING_ELSE_HELD_IT" if status in ("failed", "dead") else "",
        )
    # A page long enough to scroll (the scroll bar takes its width too) and a cart's long id.
    for number in range(20):
        WebhookEventFactory(
            store=store,
            scope="store/order/created",
            received_at=received - timedelta(hours=1, minutes=number),
            status="done",
        )
    WebhookEventFactory(
        store=store,
        scope="store/cart/abandoned",
        resource_id="c0ffee00-0000-4000-8000-000000000000",
        received_at=received - timedelta(hours=2),
        status="done",
    )
    audit_record(
        operation="ORDER_SYNC",
        store=store,
        bigcommerce_id="4701",
        status="failed",
        error="UNABLE_TO_LOCK_ROW: unable to obtain exclusive access to this record or 1 records",
        error_code="UNABLE_TO_LOCK_ROW",
        event=events["failed"],
    )
    return events


# The element's box, and the right edge of what shows it: the window, or a scrolling box that clips it.
VISIBLE_BOX = """
const box = arguments[0].getBoundingClientRect();
let right = window.innerWidth;
for (let parent = arguments[0].parentElement; parent; parent = parent.parentElement) {
  if (["auto", "scroll", "hidden"].includes(getComputedStyle(parent).overflowX)) {
    right = Math.min(right, parent.getBoundingClientRect().right);
  }
}
return [box.left, box.right, box.width, right];
"""


def _inside_window(driver, element) -> bool:
    """Whether the whole element is on screen at the window's width: no scrolling sideways to see it."""
    left, right, width, visible_right = driver.execute_script(VISIBLE_BOX, element)
    return width > 0 and left >= 0 and right <= visible_right + 0.5


def _message_after(driver, click_id: str) -> str:
    """Click the button, wait for the page it leads to, and answer that page's messages."""
    old_page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, click_id).click()
    WebDriverWait(driver, 15).until(expected_conditions.staleness_of(old_page))
    return " ".join(item.text for item in driver.find_elements(By.CSS_SELECTOR, "ul.messagelist li"))


def test_dashboard_loads_with_the_branded_header(signed_in):
    driver = signed_in("/admin/")
    brand = driver.find_element(By.CSS_SELECTOR, "#site-name.b2s-brand")
    assert brand.text.replace("\n", " ") == "b2s BigCommerce → Salesforce"
    assert driver.title.endswith("| b2s admin")
    assert driver.execute_script("return document.body.scrollWidth <= window.innerWidth + 1")


def test_event_list_columns_fit_1280_pixels(signed_in, inbox):
    driver = signed_in("/admin/sync/webhookevent/")
    assert driver.execute_script("return window.innerWidth") == 1280
    assert driver.execute_script("return document.documentElement.scrollHeight > window.innerHeight")
    for column in ("received", "status_badge", "scope_short", "resource", "store_short", "attempts", "error_code"):
        header = driver.find_element(By.CSS_SELECTOR, f"#result_list th.column-{column}")
        assert _inside_window(driver, header), column
    badges = driver.find_elements(By.CSS_SELECTOR, "#result_list td.field-status_badge .b2s-badge")
    assert {badge.get_attribute("data-status") for badge in badges} == set(inbox)
    assert len(badges) == 27
    failed = driver.find_element(By.CSS_SELECTOR, '.b2s-badge[data-status="failed"]')
    assert _inside_window(driver, failed)
    # Coloured by the stylesheet (amber for failed), not the page's default transparent background.
    assert failed.value_of_css_property("background-color") == "rgba(255, 243, 214, 1)"
    clipped = driver.find_element(By.CSS_SELECTOR, "td.field-store_short .b2s-clip")
    assert clipped.get_attribute("title") == "Acme Outdoor Supplies International Holdings"
    assert "2026-12-03 17:44:12 UTC" in driver.find_element(By.ID, "result_list").text


def test_event_page_replay_and_sync_again(signed_in, inbox):
    failed = inbox["failed"]
    driver = signed_in(f"/admin/sync/webhookevent/{failed.pk}/change/")
    assert driver.find_elements(By.NAME, "_save") == []
    assert f"Event {failed.pk} re-queued" in _message_after(driver, "b2s-replay")
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("pending", 0)

    message = _message_after(driver, "b2s-resync")
    created = WebhookEvent.objects.get(headers__has_key="X-B2S-Resync")
    assert f"Queued event {created.pk}: order 4701 is read again from BigCommerce." in message
    assert (created.scope, created.status) == ("store/order/updated", "pending")

    driver.find_element(By.LINK_TEXT, "1 audit entry").click()
    WebDriverWait(driver, 15).until(lambda page: "event__id__exact" in page.current_url)
    rows = driver.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 1 and "UNABLE_TO_LOCK_ROW" in rows[0].text
    assert _inside_window(driver, driver.find_element(By.CSS_SELECTOR, "#result_list th.column-status_badge"))
    rows[0].find_element(By.LINK_TEXT, f"event {failed.pk}").click()
    WebDriverWait(driver, 15).until(
        lambda page: page.current_url.endswith(f"/admin/sync/webhookevent/{failed.pk}/change/")
    )


def test_carts_have_no_save_or_delete(signed_in):
    cart = CartFactory(store=StoreFactory(store_hash="acme42"), opportunity_id="0068d0000000001AAA")
    driver = signed_in("/admin/recovery/cart/")
    assert _inside_window(driver, driver.find_element(By.CSS_SELECTOR, "#result_list th.column-state_badge"))
    driver = signed_in(f"/admin/recovery/cart/{cart.pk}/change/")
    assert driver.find_elements(By.NAME, "_save") == []
    assert driver.find_elements(By.NAME, "_continue") == []
    assert driver.find_elements(By.CSS_SELECTOR, "a.deletelink") == []
    assert driver.find_elements(By.CSS_SELECTOR, "input[name=email]") == []
    assert cart.email in driver.find_element(By.ID, "content").text


def test_backfill_runs_show_their_progress(signed_in, transactional_db):
    started = timezone.now() - timedelta(minutes=10)
    BackfillRun.objects.create(
        store=StoreFactory(),
        filters_key="k",
        total=400,
        synced=90,
        unchanged=10,
        started_at=started,
        finished_at=started + timedelta(minutes=1),
        status=BackfillRun.Status.DONE,
    )
    driver = signed_in("/admin/orders/backfillrun/")
    bar = driver.find_element(By.CSS_SELECTOR, ".b2s-progress__done")
    total = driver.find_element(By.CSS_SELECTOR, ".b2s-progress")
    assert abs(bar.size["width"] / total.size["width"] - 0.25) < 0.02  # a quarter, to the pixel
    assert "25% (100 / 400)" in driver.find_element(By.ID, "result_list").text
    assert _inside_window(driver, driver.find_element(By.CSS_SELECTOR, "#result_list th.column-finished"))
