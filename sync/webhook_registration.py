"""Register b2s's webhooks on a BigCommerce store: exactly one hook per handled scope.

"Ours" means a hook whose destination is this deployment's endpoint for the store,
``{base_url}/webhooks/bigcommerce/{store_hash}/``; hooks pointing anywhere else belong to someone
else (another app, another deployment) and are never touched. Registration is idempotent: a second
run finds every hook as wanted and changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sync.models import Store
from sync.outcomes import sync_outcome_record

logger = logging.getLogger(__name__)

CREATE = "create"
UPDATE = "update"
REACTIVATE = "reactivate"
DELETE = "delete"
KEEP = "keep"


class RegistrationError(Exception):
    """The registration cannot start (bad base URL, no webhook secret)."""


@dataclass(frozen=True)
class HookChange:
    """What registration did (or, in a dry run, would do) to one hook."""

    action: str
    scope: str
    hook_id: int | None = None
    reason: str = ""


@dataclass
class RegistrationResult:
    """The outcome for one store."""

    store_hash: str
    destination: str
    dry_run: bool
    changes: list[HookChange] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(change.action != KEEP for change in self.changes)

    def count(self, action: str) -> int:
        return sum(1 for change in self.changes if change.action == action)


@dataclass(frozen=True)
class HookState:
    """One hook on the store, as ``--list`` shows it."""

    hook_id: int | None
    scope: str
    destination: str
    is_active: bool
    ours: bool
    state: str  # "active", "deactivated", "missing" (a handled scope without a hook), "obsolete", "duplicate"


def handled_scopes() -> list[str]:
    """Every BigCommerce scope b2s has a handler for (the dispatch table's keys; b2s's own scopes are no hooks)."""
    from sync.handlers import BIGCOMMERCE_SCOPE_PREFIX, handlers_load

    return sorted(scope for scope in handlers_load() if scope.startswith(BIGCOMMERCE_SCOPE_PREFIX))


def webhook_destination(*, store: Store, base_url: str) -> str:
    """The endpoint BigCommerce calls for ``store``."""
    return f"{base_url.rstrip('/')}/webhooks/bigcommerce/{store.store_hash}/"


def base_url_validate(*, base_url: str, allow_insecure: bool = False) -> str:
    """The base URL without a trailing slash; refuses what BigCommerce would not call.

    BigCommerce delivers only to HTTPS on port 443; ``allow_insecure`` lets the local sandbox use
    ``http://127.0.0.1:8000``.
    """
    parts = urlsplit(base_url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise RegistrationError(f"The base URL {base_url!r} is not an http(s) URL.")
    if parts.query or parts.fragment:
        raise RegistrationError("The base URL must not carry a query or a fragment.")
    if not allow_insecure:
        if parts.scheme != "https":
            raise RegistrationError(
                f"BigCommerce only calls HTTPS endpoints; {base_url!r} is not HTTPS "
                "(use --allow-insecure for a local sandbox)."
            )
        if parts.port not in (None, 443):
            raise RegistrationError(
                f"BigCommerce only calls port 443; {base_url!r} names port {parts.port} "
                "(use --allow-insecure for a local sandbox)."
            )
    return base_url.strip().rstrip("/")


def webhook_headers(*, store: Store) -> dict[str, str]:
    """The custom headers BigCommerce sends back on every callback, so b2s can authenticate it.

    Only the header mode needs them; the signature modes are keyed with secrets BigCommerce (or the
    proxy in front of b2s) already holds.
    """
    if store.webhook_auth_mode == Store.WebhookAuth.HEADER:
        if not store.webhook_secret:
            raise RegistrationError(
                f"Store {store.store_hash} uses header authentication but has no webhook secret: set one in the admin."
            )
        return {store.webhook_header_name: store.webhook_secret}
    return {}


def _ours(hooks: list[dict[str, Any]], destination: str) -> list[dict[str, Any]]:
    return [hook for hook in hooks if hook.get("destination") == destination]


def _keeper(candidates: list[dict[str, Any]]) -> dict[str, Any]:
    """Of several hooks for one scope, keep an active one, else the oldest."""
    return sorted(candidates, key=lambda hook: (not hook.get("is_active"), hook.get("id") or 0))[0]


def webhooks_plan(
    *, hooks: list[dict[str, Any]], scopes: list[str], destination: str, headers: dict[str, str]
) -> list[HookChange]:
    """The changes that turn ``hooks`` into exactly one active hook per scope at ``destination``."""
    ours = _ours(hooks, destination)
    by_scope: dict[str, list[dict[str, Any]]] = {}
    for hook in ours:
        by_scope.setdefault(hook.get("scope", ""), []).append(hook)
    changes: list[HookChange] = []
    for scope in scopes:
        candidates = by_scope.pop(scope, [])
        if not candidates:
            changes.append(HookChange(CREATE, scope, None, "no hook for this scope"))
            continue
        keeper = _keeper(candidates)
        for duplicate in candidates:
            if duplicate is not keeper:
                changes.append(HookChange(DELETE, scope, duplicate.get("id"), "duplicate hook for this scope"))
        if not keeper.get("is_active"):
            changes.append(HookChange(REACTIVATE, scope, keeper.get("id"), "hook was deactivated"))
        elif (keeper.get("headers") or {}) != headers:
            changes.append(HookChange(UPDATE, scope, keeper.get("id"), "authentication header changed"))
        else:
            changes.append(HookChange(KEEP, scope, keeper.get("id"), "as wanted"))
    for scope, leftovers in sorted(by_scope.items()):
        for hook in leftovers:
            changes.append(HookChange(DELETE, scope, hook.get("id"), "scope no longer handled"))
    return changes


def _apply(client: Any, change: HookChange, *, destination: str, headers: dict[str, str]) -> None:
    body = {"scope": change.scope, "destination": destination, "is_active": True, "headers": headers}
    if change.action == CREATE:
        client.hook_create(body)
    elif change.action in {UPDATE, REACTIVATE}:
        client.hook_update(change.hook_id, body)
    elif change.action == DELETE:
        client.hook_delete(change.hook_id)


def _audit(store: Store, result: RegistrationResult) -> None:
    if result.dry_run or not result.changed:
        return
    sync_outcome_record(
        operation="WEBHOOK_REGISTRATION",
        store=store,
        bigcommerce_id=store.store_hash,
        status="success",
        details={
            "destination": result.destination,
            "changes": [
                {"action": change.action, "scope": change.scope, "hook_id": change.hook_id}
                for change in result.changes
                if change.action != KEEP
            ],
        },
    )


def webhooks_register(
    *, store: Store, base_url: str, dry_run: bool = False, allow_insecure: bool = False
) -> RegistrationResult:
    """Create, update, reactivate or delete ``store``'s b2s hooks so each handled scope has exactly one."""
    from sync.bigcommerce import bigcommerce_client

    base_url = base_url_validate(base_url=base_url, allow_insecure=allow_insecure)
    destination = webhook_destination(store=store, base_url=base_url)
    headers = webhook_headers(store=store)
    client = bigcommerce_client(store)
    changes = webhooks_plan(
        hooks=client.hooks_list(), scopes=handled_scopes(), destination=destination, headers=headers
    )
    result = RegistrationResult(store.store_hash, destination, dry_run, changes)
    if not dry_run:
        for change in changes:
            _apply(client, change, destination=destination, headers=headers)
            if change.action != KEEP:
                logger.info(
                    "webhook %s %s (hook %s) for store %s",
                    change.action,
                    change.scope,
                    change.hook_id,
                    store.store_hash,
                )
    _audit(store, result)
    return result


def webhooks_unregister(
    *, store: Store, base_url: str, dry_run: bool = False, allow_insecure: bool = False
) -> RegistrationResult:
    """Delete every hook of ``store`` that points at this deployment (``--delete``)."""
    from sync.bigcommerce import bigcommerce_client

    base_url = base_url_validate(base_url=base_url, allow_insecure=allow_insecure)
    destination = webhook_destination(store=store, base_url=base_url)
    client = bigcommerce_client(store)
    changes = [
        HookChange(DELETE, hook.get("scope", ""), hook.get("id"), "unregister")
        for hook in _ours(client.hooks_list(), destination)
    ]
    result = RegistrationResult(store.store_hash, destination, dry_run, changes)
    if not dry_run:
        for change in changes:
            if change.hook_id is not None:  # every listed hook has one
                client.hook_delete(change.hook_id)
    _audit(store, result)
    return result


def webhooks_list(*, store: Store, base_url: str = "") -> list[HookState]:
    """Every hook of ``store`` with its state; with ``base_url``, also the handled scopes that have none."""
    from sync.bigcommerce import bigcommerce_client

    hooks = bigcommerce_client(store).hooks_list()
    destination = webhook_destination(store=store, base_url=base_url) if base_url else None
    scopes = set(handled_scopes())
    states: list[HookState] = []
    seen: set[str] = set()
    for hook in sorted(hooks, key=lambda hook: (hook.get("scope", ""), hook.get("id") or 0)):
        ours = destination is not None and hook.get("destination") == destination
        active = bool(hook.get("is_active"))
        state = "active" if active else "deactivated"
        if ours and hook.get("scope") not in scopes:
            state = "obsolete"
        elif ours and hook.get("scope") in seen:
            state = "duplicate"
        if ours:
            seen.add(hook.get("scope", ""))
        states.append(
            HookState(hook.get("id"), hook.get("scope", ""), hook.get("destination", ""), active, ours, state)
        )
    if destination is not None:
        states.extend(HookState(None, scope, destination, False, True, "missing") for scope in sorted(scopes - seen))
    return states
