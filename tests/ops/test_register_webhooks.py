"""``manage.py register_webhooks`` against the BigCommerce stand-in."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from sync.webhook_registration import (
    CREATE,
    DELETE,
    KEEP,
    REACTIVATE,
    RegistrationError,
    base_url_validate,
    handled_scopes,
    webhooks_plan,
    webhooks_register,
)

BASE_URL = "https://b2s.example.com"
DESTINATION = f"{BASE_URL}/webhooks/bigcommerce/sandbox/"

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("register_webhooks", *args, stdout=out)
    return out.getvalue()


def _hooks(sandbox) -> list[dict]:
    return sandbox.app.state()["hooks"]


def _ours(sandbox) -> dict[str, dict]:
    hooks = [hook for hook in _hooks(sandbox) if hook["destination"] == DESTINATION]
    scopes = [hook["scope"] for hook in hooks]
    assert len(scopes) == len(set(scopes)), f"more than one hook for a scope: {scopes}"
    return {hook["scope"]: hook for hook in hooks}


def test_b2s_handles_the_scopes_it_needs():
    scopes = handled_scopes()
    for scope in ("store/order/created", "store/order/updated", "store/cart/abandoned", "store/cart/converted"):
        assert scope in scopes


def test_register_twice_second_run_changes_nothing(sandbox_store, bigcommerce_sandbox):
    first = _run("--base-url", BASE_URL)
    hooks = _ours(bigcommerce_sandbox)
    assert sorted(hooks) == handled_scopes()
    for hook in hooks.values():
        assert hook["is_active"] is True
        assert hook["headers"] == {"X-B2S-Webhook-Secret": "test-webhook-secret"}
    assert f"{len(hooks)} created" in first

    calls_before = len(bigcommerce_sandbox.app.calls())
    second = _run("--base-url", BASE_URL)
    assert "no change" in second
    assert _ours(bigcommerce_sandbox) == hooks
    # The second run only read the hook list: no create, update or delete reached the store.
    writes = [
        call for call in bigcommerce_sandbox.app.calls()[calls_before:] if call["method"] in {"POST", "PUT", "DELETE"}
    ]
    assert writes == []


def test_the_secret_is_never_printed(sandbox_store, bigcommerce_sandbox):
    output = _run("--base-url", BASE_URL) + _run("--list", "--base-url", BASE_URL)
    assert "test-webhook-secret" not in output


def test_list_shows_each_hook_state(sandbox_store, bigcommerce_sandbox):
    bigcommerce_sandbox.app.hook_create("store/product/inventory/updated", "https://other-app.example.com/hook")
    before = _run("--list", "--base-url", BASE_URL)
    assert "missing" in before and "store/order/created" in before
    _run("--base-url", BASE_URL)
    listing = _run("--list", "--base-url", BASE_URL)
    lines = [line for line in listing.splitlines() if DESTINATION in line]
    assert len(lines) == len(handled_scopes())
    assert all(" active " in line and " b2s " in line for line in lines)
    foreign = [line for line in listing.splitlines() if "other-app.example.com" in line]
    assert len(foreign) == 1 and " other " in foreign[0] and "store/product/inventory/updated" in foreign[0]
    assert "missing" not in listing


def test_a_deactivated_hook_is_reactivated(sandbox_store, bigcommerce_sandbox):
    hook = bigcommerce_sandbox.app.hook_create(
        "store/order/created", DESTINATION, headers={"X-B2S-Webhook-Secret": "test-webhook-secret"}, is_active=False
    )
    output = _run("--base-url", BASE_URL)
    assert f"reactivate store/order/created (hook {hook['id']})" in output
    hooks = _ours(bigcommerce_sandbox)
    assert hooks["store/order/created"]["id"] == hook["id"]
    assert hooks["store/order/created"]["is_active"] is True


def test_a_changed_secret_updates_the_header(sandbox_store, bigcommerce_sandbox):
    _run("--base-url", BASE_URL)
    sandbox_store.webhook_secret = "rotated-secret"
    sandbox_store.save()
    output = _run("--base-url", BASE_URL)
    assert output.count("update ") == len(handled_scopes())
    assert all(
        hook["headers"] == {"X-B2S-Webhook-Secret": "rotated-secret"} for hook in _ours(bigcommerce_sandbox).values()
    )


def test_an_obsolete_scope_is_removed_and_foreign_hooks_are_kept(sandbox_store, bigcommerce_sandbox):
    obsolete = bigcommerce_sandbox.app.hook_create("store/product/inventory/updated", DESTINATION)
    foreign = bigcommerce_sandbox.app.hook_create("store/order/created", "https://other-app.example.com/hook")
    output = _run("--base-url", BASE_URL)
    assert f"delete store/product/inventory/updated (hook {obsolete['id']})" in output
    remaining = {hook["id"] for hook in _hooks(bigcommerce_sandbox)}
    assert obsolete["id"] not in remaining
    assert foreign["id"] in remaining
    assert "store/product/inventory/updated" not in _ours(bigcommerce_sandbox)


def test_delete_removes_only_b2s_hooks(sandbox_store, bigcommerce_sandbox):
    foreign = bigcommerce_sandbox.app.hook_create("store/order/created", "https://other-app.example.com/hook")
    _run("--base-url", BASE_URL)
    output = _run("--delete", "--base-url", BASE_URL)
    assert output.count("delete ") == len(handled_scopes())
    assert [hook["id"] for hook in _hooks(bigcommerce_sandbox)] == [foreign["id"]]


def test_dry_run_changes_nothing(sandbox_store, bigcommerce_sandbox):
    output = _run("--dry-run", "--base-url", BASE_URL)
    assert "[dry run] would create store/order/created" in output
    assert _hooks(bigcommerce_sandbox) == []


def test_an_insecure_base_url_is_refused_unless_allowed(sandbox_store, bigcommerce_sandbox):
    with pytest.raises(CommandError, match="HTTPS"):
        _run("--base-url", "http://127.0.0.1:8000")
    with pytest.raises(CommandError, match="port 443"):
        _run("--base-url", "https://b2s.example.com:8443")
    assert _hooks(bigcommerce_sandbox) == []
    _run("--base-url", "http://127.0.0.1:8000", "--allow-insecure")
    destinations = {hook["destination"] for hook in _hooks(bigcommerce_sandbox)}
    assert destinations == {"http://127.0.0.1:8000/webhooks/bigcommerce/sandbox/"}


def test_a_store_without_a_webhook_secret_is_refused(sandbox_store, bigcommerce_sandbox):
    sandbox_store.webhook_secret = ""
    sandbox_store.save()
    with pytest.raises(RegistrationError, match="no webhook secret"):
        webhooks_register(store=sandbox_store, base_url=BASE_URL)
    assert _hooks(bigcommerce_sandbox) == []


def test_an_unknown_store_and_a_missing_base_url_are_errors(sandbox_store):
    with pytest.raises(CommandError, match="No store"):
        _run("--store", "nope", "--base-url", BASE_URL)
    with pytest.raises(CommandError, match="--base-url"):
        _run()


def test_the_plan_keeps_one_hook_per_scope():
    """Unit: duplicates (possible after a destination change by hand) collapse to the active one."""
    headers = {"X": "s"}
    hooks = [
        {"id": 1, "scope": "a", "destination": "d", "is_active": False, "headers": headers},
        {"id": 2, "scope": "a", "destination": "d", "is_active": True, "headers": headers},
        {"id": 3, "scope": "b", "destination": "elsewhere", "is_active": True, "headers": headers},
    ]
    plan = webhooks_plan(hooks=hooks, scopes=["a", "b"], destination="d", headers=headers)
    assert [(change.action, change.scope, change.hook_id) for change in plan] == [
        (DELETE, "a", 1),
        (KEEP, "a", 2),
        (CREATE, "b", None),
    ]
    plan = webhooks_plan(hooks=hooks[:1], scopes=["a"], destination="d", headers=headers)
    assert [(change.action, change.hook_id) for change in plan] == [(REACTIVATE, 1)]


def test_base_url_validation():
    assert base_url_validate(base_url="https://b2s.example.com/") == "https://b2s.example.com"
    assert base_url_validate(base_url="https://b2s.example.com:443/sub") == "https://b2s.example.com:443/sub"
    for bad in ("ftp://x", "https://", "https://b2s.example.com/?a=1"):
        with pytest.raises(RegistrationError):
            base_url_validate(base_url=bad, allow_insecure=True)
