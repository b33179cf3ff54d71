"""Admin for what the order feature keeps: backfill runs (with their progress), synced orders and the write-back
poll's checkpoint. Read-only."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from orders.models import BackfillRun, SyncedOrder, WritebackCheckpoint
from orders.progress import BackfillProgress, backfill_progress
from sync.admin_display import EMPTY, ReadOnlyAdmin, bigcommerce_link, clipped, moment, salesforce_link, status_badge
from sync.services.resync import order_resync


def _progress(run: BackfillRun) -> BackfillProgress:
    return backfill_progress(
        synced=run.synced,
        unchanged=run.unchanged,
        skipped=run.skipped,
        failed=run.failed,
        total=run.total,
        started_at=run.started_at,
        finished_at=run.finished_at,
        now=timezone.now(),
    )


@admin.register(BackfillRun)
class BackfillRunAdmin(ReadOnlyAdmin):
    """Each ``backfill`` command run: where it got to, how fast, what failed (``--resume`` continues it)."""

    # Fits 1280 px beside the filters; the counts of synced, unchanged and skipped orders are on the detail page.
    list_display = ("id", "store_short", "status_badge", "progress", "rate", "failed", "started", "finished")
    list_filter = ("status", "store")
    list_select_related = ("store",)
    fields = (
        "store",
        "status_badge",
        "progress",
        "rate",
        "filters",
        "synced",
        "unchanged",
        "skipped",
        "failed",
        "customers_synced",
        "last_order_id",
        "last_customer_id",
        "failures",
        "salesforce_requests",
        "bigcommerce_requests",
        "last_error",
        "started",
        "updated",
        "finished",
    )
    readonly_fields = fields

    @admin.display(description="Status", ordering="status")
    def status_badge(self, run: BackfillRun) -> SafeString:
        return status_badge(run.status)

    @admin.display(description="Progress")
    def progress(self, run: BackfillRun) -> SafeString:
        progress = _progress(run)
        if progress.percent is None:
            return format_html("{} orders (total not known yet)", progress.done)
        return format_html(
            '<span class="b2s-progress" title="{} of {} orders"><span class="b2s-progress__done" style="width: {}%">'
            "</span></span>{}% ({} / {})",
            progress.done,
            progress.total,
            f"{progress.percent:.1f}",
            f"{progress.percent:.0f}",
            progress.done,
            progress.total,
        )

    @admin.display(description="Store", ordering="store__name")
    def store_short(self, run: BackfillRun) -> SafeString:
        return clipped(run.store.name, width_ch=12)

    @admin.display(description="Per min")
    def rate(self, run: BackfillRun) -> str:
        per_minute = _progress(run).per_minute
        return EMPTY if per_minute is None else f"{per_minute:,.0f}"

    @admin.display(description="Started", ordering="started_at")
    def started(self, run: BackfillRun) -> str:
        return moment(run.started_at)

    @admin.display(description="Updated", ordering="updated_at")
    def updated(self, run: BackfillRun) -> str:
        return moment(run.updated_at)

    @admin.display(description="Finished", ordering="finished_at")
    def finished(self, run: BackfillRun) -> str:
        return moment(run.finished_at)


@admin.register(SyncedOrder)
class SyncedOrderAdmin(ReadOnlyAdmin):
    """Each order as last written to Salesforce, linked both ways; "Sync again now" re-reads it."""

    list_display = (
        "order",
        "store_short",
        "salesforce_order",
        "salesforce_account",
        "sf_status",
        "grand_total",
        "currency",
        "archived",
        "synced",
    )
    list_filter = ("store", "sf_status", "archived", "currency")
    search_fields = ("=order_id", "salesforce_id", "account_id", "account_key")
    list_select_related = ("store",)
    actions = ("resync",)
    fields = (
        "order",
        "store",
        "salesforce_order",
        "salesforce_account",
        "account_key",
        "sf_status",
        "bc_status_id",
        "grand_total",
        "currency",
        "order_date",
        "archived",
        "shipped_quantity",
        "synced",
    )
    readonly_fields = fields

    @admin.display(description="Order", ordering="order_id")
    def order(self, synced: SyncedOrder) -> SafeString:
        return bigcommerce_link(synced.store, kind="order", resource_id=synced.order_id, label=f"#{synced.order_id}")

    @admin.display(description="Store", ordering="store__name")
    def store_short(self, synced: SyncedOrder) -> SafeString:
        return clipped(synced.store.name, width_ch=16)

    @admin.display(description="Salesforce Order", ordering="salesforce_id")
    def salesforce_order(self, synced: SyncedOrder) -> SafeString:
        return salesforce_link(synced.salesforce_id)

    @admin.display(description="Account", ordering="account_id")
    def salesforce_account(self, synced: SyncedOrder) -> SafeString:
        return salesforce_link(synced.account_id)

    @admin.display(description="Synced", ordering="synced_at")
    def synced(self, synced: SyncedOrder) -> str:
        return moment(synced.synced_at)

    def has_resync_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("sync.change_webhookevent")

    @admin.action(description="Sync again now (re-read from BigCommerce)", permissions=["resync"])
    def resync(self, request: HttpRequest, queryset: QuerySet[SyncedOrder]) -> None:
        for synced in queryset.select_related("store"):
            order_resync(store=synced.store, order_id=synced.order_id, requested_by=request.user.get_username())
        self.message_user(request, f"Queued {queryset.count()} order(s) to sync again.", messages.SUCCESS)


@admin.register(WritebackCheckpoint)
class WritebackCheckpointAdmin(ReadOnlyAdmin):
    """How far the Salesforce → BigCommerce poll has read (deleting is not offered: it would re-read history)."""

    list_display = ("org_id", "modstamp", "polled_at", "polls", "requests", "changes")
