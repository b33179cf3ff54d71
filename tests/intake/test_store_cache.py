"""The webhook endpoint's per-process store cache, and its connection handling.

"Another process" is simulated as in tests/test_config.py: the row is changed with ``update()`` (no
signal, so this process is not told) and the shared configuration version is bumped directly.
"""

from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.db.models import F
from django.test import Client, override_settings

from b2s import env as env_parse
from sync import config as config_module
from sync.models import ConfigVersion, Store, WebhookEvent
from sync.selectors import store_active_cached_get
from tests.intake.conftest import HEADER_SECRET, callback, encode

pytestmark = pytest.mark.django_db

NEW_SECRET = "rotated-webhook-secret-abcdef0123"


class Clock:
    """``time.monotonic`` as the configuration accessor sees it, moved by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(config_module, "time", SimpleNamespace(monotonic=fake))  # the accessor's clock only
    return fake


def _other_process_changes(store: Store, **values: object) -> None:
    Store.objects.filter(pk=store.pk).update(**values)
    if not ConfigVersion.objects.filter(pk=1).update(version=F("version") + 1):
        ConfigVersion.objects.create(pk=1, version=1)


def _post(store: Store, *, secret: str = HEADER_SECRET, resource_id: int = 32) -> int:
    body = encode(callback(store, resource_id=resource_id))
    return (
        Client()
        .post(
            f"/webhooks/bigcommerce/{store.store_hash}/",
            data=body,
            content_type="application/json",
            headers={"X-B2S-Webhook-Secret": secret},
        )
        .status_code
    )


def test_a_known_store_is_read_once(header_store, django_assert_num_queries):
    assert store_active_cached_get(store_hash=header_store.store_hash).pk == header_store.pk
    with django_assert_num_queries(0):
        for _ in range(3):
            assert store_active_cached_get(store_hash=header_store.store_hash).pk == header_store.pk


def test_unknown_hashes_are_not_kept_and_a_new_store_is_found_at_once(header_store):
    assert store_active_cached_get(store_hash="newstore") is None
    assert "newstore" not in config_module.config.per_version("stores-active")
    Store.objects.create(name="New", store_hash="newstore", webhook_secret="new-secret-0123456789")
    assert store_active_cached_get(store_hash="newstore").name == "New"


def test_a_save_in_this_process_is_seen_at_once(header_store):
    assert store_active_cached_get(store_hash=header_store.store_hash) is not None
    store = Store.objects.get(pk=header_store.pk)
    store.is_active = False
    store.save()
    assert store_active_cached_get(store_hash=header_store.store_hash) is None
    assert _post(header_store) == 404


def test_a_delete_in_this_process_is_seen_at_once(header_store):
    assert store_active_cached_get(store_hash=header_store.store_hash) is not None
    Store.objects.filter(pk=header_store.pk).delete()  # queryset delete still sends post_delete
    assert store_active_cached_get(store_hash=header_store.store_hash) is None


@override_settings(CONFIG_CHECK_SECONDS=2.0)
def test_another_process_deactivating_takes_effect_within_the_check_interval(header_store, clock):
    assert _post(header_store, resource_id=1) == 200
    _other_process_changes(header_store, is_active=False)
    clock.now += 1.0  # inside the bound this process may still serve its copy...
    assert store_active_cached_get(store_hash=header_store.store_hash) is not None
    clock.now += 1.0  # ...but no longer than CONFIG_CHECK_SECONDS
    assert store_active_cached_get(store_hash=header_store.store_hash) is None
    assert _post(header_store, resource_id=2) == 404
    assert WebhookEvent.objects.count() == 1


@override_settings(CONFIG_CHECK_SECONDS=2.0, WEBHOOK_SECRET_GRACE_SECONDS=0)
def test_another_process_rotating_the_secret_takes_effect_within_the_check_interval(header_store, clock):
    assert _post(header_store, resource_id=1) == 200
    _other_process_changes(header_store, webhook_secret=NEW_SECRET, previous_webhook_secret=HEADER_SECRET)
    clock.now += 1.0
    assert _post(header_store, secret=NEW_SECRET, resource_id=2) == 401  # not yet known here: refused, retried
    clock.now += 1.0
    assert _post(header_store, secret=HEADER_SECRET, resource_id=3) == 401
    assert _post(header_store, secret=NEW_SECRET, resource_id=4) == 200


def test_secrets_and_fields_come_from_the_cached_store(header_store):
    store = store_active_cached_get(store_hash=header_store.store_hash)
    assert store.webhook_secret == HEADER_SECRET
    assert store is store_active_cached_get(store_hash=header_store.store_hash)


@pytest.mark.django_db(transaction=True)
def test_a_dead_connection_is_replaced_and_the_delivery_answered(header_store):
    """With no per-request health check, a connection that died idle costs no failed delivery."""
    from sync import views

    real = views.webhook_event_receive
    calls = []

    def dies_once(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(**kwargs)

    with (
        mock.patch.object(views, "webhook_event_receive", side_effect=dies_once),
        mock.patch.object(connection, "is_usable", return_value=False),
        mock.patch.object(connection, "close") as close,
    ):
        assert _post(header_store) == 200
    assert len(calls) == 2 and close.called
    assert WebhookEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_database_error_on_a_working_connection_is_not_repeated(header_store):
    from sync import views

    with (
        mock.patch.object(
            views, "webhook_event_receive", side_effect=OperationalError("database is locked")
        ) as receive,
        pytest.raises(OperationalError),
    ):
        Client(raise_request_exception=True).post(
            f"/webhooks/bigcommerce/{header_store.store_hash}/",
            data=encode(callback(header_store)),
            content_type="application/json",
            headers={"X-B2S-Webhook-Secret": HEADER_SECRET},
        )
    assert receive.call_count == 1


def test_connection_settings(tmp_path):
    postgres = env_parse.database_config(url="postgres://b2s@db/b2s", base_dir=tmp_path)
    assert (postgres["CONN_MAX_AGE"], postgres["CONN_HEALTH_CHECKS"]) == (60, False)
    checked = env_parse.database_config(url="postgres://b2s@db/b2s?conn_health_checks=true", base_dir=tmp_path)
    assert checked["CONN_HEALTH_CHECKS"] is True
    unchecked = env_parse.database_config(url="postgres://b2s@db/b2s?conn_health_checks=false", base_dir=tmp_path)
    assert unchecked["CONN_HEALTH_CHECKS"] is False
    sqlite = env_parse.database_config(url="", base_dir=tmp_path)
    assert sqlite["CONN_MAX_AGE"] == 600 and sqlite["CONN_HEALTH_CHECKS"] is False


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_database_ended_costs_no_failed_delivery(header_store):
    """PostgreSQL only: end this thread's connection from outside, as a database restart would."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL ends connections; SQLite has none to end")
    assert _post(header_store, resource_id=1) == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    other = connection.copy()
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()
    assert _post(header_store, resource_id=2) == 200
    assert WebhookEvent.objects.count() == 2
