"""Admin for stores and the configuration tables (the webhook inbox admin is in sync/admin_events.py)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.safestring import SafeString

from sync import admin_events  # noqa: F401  (the webhook inbox admin)
from sync.admin_display import moment, salesforce_link
from sync.models import (
    CustomerLink,
    FeatureFlag,
    FieldMapping,
    OrderStatusMapping,
    SalesforceOrderFieldWriteback,
    SalesforceOrderStatusMapping,
    Store,
    SyncSetting,
    Threshold,
)
from sync.seeds import ORDER_STATUSES
from sync.services.field_mappings import field_mapping_check

admin.site.site_header = "b2s — BigCommerce → Salesforce"
admin.site.site_title = "b2s admin"
# The app list beside every page costs a list 300 px at 1280: the index and the breadcrumbs navigate instead.
admin.site.enable_nav_sidebar = False


class StoreForm(forms.ModelForm):
    """Secrets are write-only: never rendered back, kept when left blank."""

    class Meta:
        model = Store
        fields = (
            "name",
            "store_hash",
            "store_id",
            "api_base_url",
            "access_token",
            "client_id",
            "client_secret",
            "webhook_auth_mode",
            "webhook_header_name",
            "webhook_secret",
            "timezone",
            "is_active",
        )
        widgets = {name: forms.PasswordInput(render_value=False) for name in Store.SECRET_FIELDS}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in Store.SECRET_FIELDS:
            field = self.fields[name]
            field.required = False
            if self.instance.pk and getattr(self.instance, name):
                field.help_text = "Set. Leave blank to keep the current value; type a new one to replace it."
            else:
                field.help_text = "Not set."
        self.fields["webhook_secret"].help_text += (
            " A new webhook secret keeps the old one valid for WEBHOOK_SECRET_GRACE_SECONDS;"
            " run register_webhooks to send BigCommerce the new one."
        )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if self.instance.pk:
            stored = Store.objects.filter(pk=self.instance.pk).values(*Store.SECRET_FIELDS).first() or {}
            for name in Store.SECRET_FIELDS:
                if not cleaned.get(name):
                    cleaned[name] = stored.get(name, "")
                    setattr(self.instance, name, cleaned[name])
        return cleaned


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    form = StoreForm
    list_display = ("name", "store_hash", "api_base_url", "webhook_auth_mode", "secrets_state", "is_active")
    list_filter = ("is_active", "webhook_auth_mode")
    search_fields = ("name", "store_hash")
    # The previous webhook secret is never shown; only when the last rotation happened.
    readonly_fields = ("webhook_secret_rotated_at",)

    @admin.display(description="Secrets")
    def secrets_state(self, store: Store) -> str:
        """Whether each secret is set, never its value."""
        return ", ".join(f"{name}: {'set' if getattr(store, name) else '—'}" for name in Store.SECRET_FIELDS)


@admin.register(FeatureFlag)
class FeatureFlagAdmin(admin.ModelAdmin):
    list_display = ("key", "enabled", "description")
    list_editable = ("enabled",)
    search_fields = ("key", "description")

    def get_readonly_fields(self, request: HttpRequest, obj: FeatureFlag | None = None) -> tuple[str, ...]:
        # Code refers to flags by key: renaming one would silently switch a feature off.
        return ("key",) if obj else ()


@admin.register(Threshold)
class ThresholdAdmin(admin.ModelAdmin):
    list_display = ("key", "value", "unit", "min_value", "max_value", "description")
    list_editable = ("value",)
    search_fields = ("key", "description")

    def get_readonly_fields(self, request: HttpRequest, obj: Threshold | None = None) -> tuple[str, ...]:
        return ("key", "min_value", "max_value") if obj else ()


@admin.register(SyncSetting)
class SyncSettingAdmin(admin.ModelAdmin):
    list_display = ("key", "value", "choices", "description")
    search_fields = ("key", "description")

    def get_readonly_fields(self, request: HttpRequest, obj: SyncSetting | None = None) -> tuple[str, ...]:
        return ("key", "choices") if obj else ()

    def get_form(
        self, request: HttpRequest, obj: SyncSetting | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[Any]]:
        # What the setting does and its allowed values, right under the value being edited.
        form = super().get_form(request, obj, change, **kwargs)
        if obj is not None and "value" in form.base_fields:
            allowed = f" Allowed: {', '.join(obj.allowed)}." if obj.allowed else ""
            form.base_fields["value"].help_text = f"{obj.description}{allowed}"
            # A list may be empty (no match rules, no alert recipients); the model field itself is not blank.
            if obj.key in SyncSetting.LIST_KEYS | SyncSetting.EMAIL_LIST_KEYS:
                form.base_fields["value"].required = False
        return form


@admin.register(FieldMapping)
class FieldMappingAdmin(admin.ModelAdmin):
    list_display = ("sf_object", "sf_field", "source_path", "transform", "default", "feature_flag", "enabled")
    list_filter = ("sf_object", "enabled", "feature_flag")
    list_editable = ("enabled",)
    search_fields = ("sf_field", "source_path")

    def save_model(self, request: HttpRequest, obj: FieldMapping, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # Checked against the org's describe: a typo would otherwise show only as failing syncs.
        check = field_mapping_check(sf_object=obj.sf_object, sf_field=obj.sf_field)
        if check.known is not True:
            self.message_user(request, check.message, messages.WARNING)


@admin.register(OrderStatusMapping)
class OrderStatusMappingAdmin(admin.ModelAdmin):
    list_display = ("bc_status_id", "bc_status_name", "sf_status", "counts_toward_analytics")
    list_editable = ("sf_status", "counts_toward_analytics")


class SalesforceOrderStatusMappingForm(forms.ModelForm):
    """The BigCommerce status chosen by name, not typed as a number."""

    bc_status_id = forms.TypedChoiceField(
        label="BigCommerce status",
        coerce=int,
        choices=[(status_id, f"{status_id} {name}") for status_id, name, _sf, _counts in ORDER_STATUSES],
    )

    class Meta:
        model = SalesforceOrderStatusMapping
        fields = ("sf_status", "category", "bc_status_id")


@admin.register(SalesforceOrderStatusMapping)
class SalesforceOrderStatusMappingAdmin(admin.ModelAdmin):
    """Which BigCommerce status each Salesforce Order status is written back as (feature flag writeback_order_status)."""

    form = SalesforceOrderStatusMappingForm
    list_display = ("sf_status", "category", "bc_status")

    @admin.display(description="BigCommerce status", ordering="bc_status_id")
    def bc_status(self, row: SalesforceOrderStatusMapping) -> str:
        names = {status_id: name for status_id, name, _sf, _counts in ORDER_STATUSES}
        return f"{row.bc_status_id} {names.get(row.bc_status_id, '')}".strip()


@admin.register(SalesforceOrderFieldWriteback)
class SalesforceOrderFieldWritebackAdmin(admin.ModelAdmin):
    """Which Salesforce Order fields are written back to which BigCommerce order fields (flag writeback_order_fields)."""

    list_display = ("sf_field", "bc_field", "enabled", "notes")
    list_editable = ("enabled",)

    def save_model(self, request: HttpRequest, obj: SalesforceOrderFieldWriteback, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # Checked against the org's describe: a typo would otherwise fail every poll (INVALID_FIELD).
        check = field_mapping_check(
            sf_object="Order", sf_field=obj.sf_field, fails="the Salesforce order changes poll (while on)"
        )
        if check.known is not True:
            self.message_user(request, check.message, messages.WARNING)


@admin.register(CustomerLink)
class CustomerLinkAdmin(admin.ModelAdmin):
    """What b2s knows of each customer's Salesforce records (created, or adopted from the CRM by email).

    Read-only; deleting a row makes the customer's next sync look for them by email again (after a
    merge of records in Salesforce, say).
    """

    list_display = ("customer_key", "store", "matched", "account", "contact", "lead", "alias_of", "updated")
    list_filter = ("store", "matched", "keep_contact_account", "person_account")
    search_fields = ("customer_key", "account_id", "contact_id", "lead_id", "alias_of")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: CustomerLink | None = None) -> bool:
        return False

    @admin.display(description="Account", ordering="account_id")
    def account(self, link: CustomerLink) -> SafeString:
        return salesforce_link(link.account_id)

    @admin.display(description="Contact", ordering="contact_id")
    def contact(self, link: CustomerLink) -> SafeString:
        return salesforce_link(link.contact_id)

    @admin.display(description="Lead", ordering="lead_id")
    def lead(self, link: CustomerLink) -> SafeString:
        return salesforce_link(link.lead_id)

    @admin.display(description="Updated", ordering="updated_at")
    def updated(self, link: CustomerLink) -> str:
        return moment(link.updated_at)
