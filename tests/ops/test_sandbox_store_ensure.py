"""``manage.py sandbox_store_ensure``: the stand-in's store in sandbox mode, refused with real credentials."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from sync.models import Store

pytestmark = pytest.mark.django_db


def test_creates_then_updates_the_sandbox_store(settings):
    settings.SALESFORCE = {**settings.SALESFORCE, "SANDBOX": True}
    out = io.StringIO()
    call_command("sandbox_store_ensure", "--url", "https://127.0.0.1:9001", stdout=out)
    call_command("sandbox_store_ensure", "--url", "https://127.0.0.1:9002", stdout=out)
    assert out.getvalue().splitlines() == [
        "Created store Sandbox store (sandbox).",
        "Updated store Sandbox store (sandbox).",
    ]
    store = Store.objects.get()
    assert (store.store_hash, store.api_base_url, store.is_active) == ("sandbox", "https://127.0.0.1:9002", True)


def test_refused_when_salesforce_credentials_are_configured(settings):
    settings.SALESFORCE = {**settings.SALESFORCE, "SANDBOX": False}
    with pytest.raises(CommandError, match="for local runs only"):
        call_command("sandbox_store_ensure", stdout=io.StringIO())
    assert not Store.objects.exists()
