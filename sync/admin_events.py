"""Admin for the webhook inbox: list, filter, search, inspect (read-only), replay and sync again."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from sync.admin_display import (
    EMPTY,
    ReadOnlyAdmin,
    bigcommerce_link,
    changelist_link,
    clipped,
    moment,
    moment_from_unix,
    salesforce_links,
    status_badge,
)
from sync.models import WebhookEvent
from sync.selectors import webhook_events_body_purged
from sync.services.resync import ResyncUnsupported, resync_target, webhook_event_resync, webhook_events_resync
from sync.services.retention import REPLAY_PURGED_REFUSAL
from sync.services.webhooks import webhook_events_replay

# The BigCommerce control-panel page of each resource type an event can name.
CONTROL_PANEL_KINDS = {"order": "order", "customer": "customer", "product": "product"}


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    # What an operator scans for, narrow enough for 1280 px beside the filters; the rest is on the detail page.
    list_display = (
        "received",
        "status_badge",
        "scope_short",
        "resource",
        "store_short",
        "attempts",
        "error_code",
    )
    list_display_links = ("received",)
    list_filter = ("status", "scope", "store", "received_at")
    search_fields = ("resource_id", "hash", "last_error_code")
    date_hierarchy = "received_at"
    list_select_related = ("store",)
    actions = ("replay", "resync")
    fields = (
        "status_badge",
        "store",
        "scope",
        "resource",
        "hash",
        "created_in_bigcommerce",
        "received_at",
        "attempts",
        "next_attempt_at",
        "started_at",
        "finished_at",
        "duration_ms",
        "last_error_type",
        "last_error_code",
        "last_error_message",
        "audit_entries",
        "salesforce_records",
        "body_purged",
        "body_pretty",
        "headers_pretty",
    )
    readonly_fields = fields

    # -- columns and fields ------------------------------------------------------------------
    @admin.display(description="Received", ordering="received_at")
    def received(self, event: WebhookEvent) -> str:
        return moment(event.received_at)

    @admin.display(description="Body purged")
    def body_purged(self, event: WebhookEvent) -> str:
        if event.body_purged_at is None:
            return EMPTY
        return f"{moment(event.body_purged_at)} (retention: only the resource references are kept)"

    @admin.display(description="Status", ordering="status")
    def status_badge(self, event: WebhookEvent) -> SafeString:
        return status_badge(event.status)

    @admin.display(description="Scope", ordering="scope")
    def scope_short(self, event: WebhookEvent) -> SafeString:
        return clipped(event.scope.removeprefix("store/"), width_ch=18)

    @admin.display(description="Resource", ordering="resource_id")
    def resource(self, event: WebhookEvent) -> SafeString:
        kind = CONTROL_PANEL_KINDS.get(event.resource_type, "")
        label = f"{event.resource_type} {event.resource_id}"
        if kind:
            return bigcommerce_link(event.store, kind=kind, resource_id=event.resource_id, label=label)
        return clipped(label, width_ch=16)

    @admin.display(description="Store", ordering="store__name")
    def store_short(self, event: WebhookEvent) -> SafeString:
        return clipped(event.store.name, width_ch=12)

    @admin.display(description="Last error", ordering="last_error_code")
    def error_code(self, event: WebhookEvent) -> SafeString:
        return clipped(event.last_error_code, width_ch=14) if event.last_error_code else format_html("{}", EMPTY)

    @admin.display(description="Created in BigCommerce")
    def created_in_bigcommerce(self, event: WebhookEvent) -> str:
        created = moment_from_unix(event.event_created_at)
        return f"{moment(created)} (Unix {event.event_created_at})" if created else EMPTY

    @admin.display(description="Audit entries")
    def audit_entries(self, event: WebhookEvent) -> SafeString:
        count = event.audit_entries.count()
        if not count:
            return format_html("{}", "None yet")
        return changelist_link(
            "admin:audit_auditlog_changelist",
            f"{count} audit entr{'y' if count == 1 else 'ies'}",
            event__id__exact=event.pk,
        )

    @admin.display(description="Salesforce records")
    def salesforce_records(self, event: WebhookEvent) -> SafeString:
        ids: list[str] = []
        for entry_ids in event.audit_entries.values_list("salesforce_ids", flat=True):
            ids.extend(str(record_id) for record_id in entry_ids or [] if str(record_id) not in ids)
        return salesforce_links(ids)

    @admin.display(description="Body")
    def body_pretty(self, event: WebhookEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(event.body, indent=2, sort_keys=True))

    @admin.display(description="Headers (secrets are never stored)")
    def headers_pretty(self, event: WebhookEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(event.headers, indent=2, sort_keys=True))

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("sync.change_webhookevent")

    has_resync_permission = has_replay_permission

    # -- list actions ------------------------------------------------------------------------
    @admin.action(description="Replay the selected events", permissions=["replay"])
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        purged = webhook_events_body_purged(events=queryset).count()
        count = webhook_events_replay(events=queryset)
        skipped = queryset.count() - count - purged
        self.message_user(request, f"Re-queued {count} event(s).", messages.SUCCESS)
        if skipped > 0:
            self.message_user(request, f"{skipped} event(s) are being processed right now.", messages.WARNING)
        if purged:
            self.message_user(request, f"{purged} event(s) not replayed: {REPLAY_PURGED_REFUSAL}.", messages.WARNING)

    @admin.action(description="Sync again now (re-read from BigCommerce)", permissions=["resync"])
    def resync(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        result = webhook_events_resync(events=queryset, requested_by=request.user.get_username())
        self.message_user(request, f"Queued {len(result.created)} resync event(s).", messages.SUCCESS)
        if result.unsupported:
            self.message_user(
                request,
                f"{len(result.unsupported)} event(s) name no order, customer or cart to read again.",
                messages.WARNING,
            )

    # -- the detail page's buttons (POST, CSRF-checked by the admin view) --------------------
    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<int:object_id>/replay/",
                self.admin_site.admin_view(self.replay_view),
                name="sync_webhookevent_replay",
            ),
            path(
                "<int:object_id>/resync/",
                self.admin_site.admin_view(self.resync_view),
                name="sync_webhookevent_resync",
            ),
        ]
        return own + super().get_urls()

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        event = self.get_object(request, object_id)
        can_act = self.has_replay_permission(request)
        try:
            resync_supported = event is not None and bool(resync_target(event))
        except ResyncUnsupported:
            resync_supported = False
        context = {
            "event_actions": can_act and event is not None,
            "resync_supported": resync_supported,
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra_context=context)

    def _acted_on(self, request: HttpRequest, object_id: int) -> WebhookEvent | HttpResponseNotAllowed:
        # The permission first: someone who may not act learns nothing more from a 405.
        if not self.has_replay_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        return get_object_or_404(WebhookEvent.objects.select_related("store"), pk=object_id)

    def _back(self, event_id: int) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:sync_webhookevent_change", args=[event_id]))

    def replay_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        event = self._acted_on(request, object_id)
        if isinstance(event, HttpResponse):
            return event
        if event.body_purged_at is not None:
            self.message_user(request, f"Event {event.pk} not replayed: {REPLAY_PURGED_REFUSAL}.", messages.WARNING)
        elif webhook_events_replay(events=WebhookEvent.objects.filter(pk=event.pk)):
            self.message_user(request, f"Event {event.pk} re-queued: it runs again shortly.", messages.SUCCESS)
        else:
            self.message_user(request, f"Event {event.pk} is being processed right now.", messages.WARNING)
        return self._back(event.pk)

    def resync_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        event = self._acted_on(request, object_id)
        if isinstance(event, HttpResponse):
            return event
        try:
            created = webhook_event_resync(event=event, requested_by=request.user.get_username())
        except ResyncUnsupported as error:
            self.message_user(request, str(error), messages.WARNING)
            return self._back(event.pk)
        url = reverse("admin:sync_webhookevent_change", args=[created.pk])
        self.message_user(
            request,
            format_html(
                'Queued <a href="{}">event {}</a>: {} {} is read again from BigCommerce.',
                url,
                created.pk,
                created.resource_type,
                created.resource_id,
            ),
            messages.SUCCESS,
        )
        return self._back(event.pk)
