"""Store secrets are Fernet tokens in the database; keys rotate; a missing or wrong key stops clearly."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from b2s.env import field_encryption_keys_resolve
from sync.fields import SecretUndecryptable
from sync.models import Store
from tests.factories.sync import StoreFactory

pytestmark = pytest.mark.django_db

SECRETS = {
    "access_token": "tok-at-rest-1234567890",
    "client_secret": "client-secret-at-rest-0987",
    "webhook_secret": "webhook-secret-at-rest-5555",
}
OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def _raw(store: Store, column: str) -> str:
    """The column exactly as the database holds it, past the ORM."""
    table = connection.ops.quote_name(Store._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {connection.ops.quote_name(column)} FROM {table} WHERE id = %s", [store.pk])
        return cursor.fetchone()[0]


def _store(**fields: object) -> Store:
    # A fixed hash: the commands' messages name the store by it.
    return StoreFactory(store_hash="atrest", **{**SECRETS, **fields})


def test_columns_hold_tokens_not_secrets():
    store = _store()
    store.webhook_secret = "webhook-secret-rotated-6666"
    store.save()
    for column, secret in {**SECRETS, "previous_webhook_secret": SECRETS["webhook_secret"]}.items():
        raw = _raw(store, column)
        assert raw and raw != secret and secret not in raw, column
        assert raw.startswith("gAAAA")  # a Fernet token (version byte 0x80)
    assert "webhook-secret-rotated-6666" not in _raw(store, "webhook_secret")
    fresh = Store.objects.get(pk=store.pk)
    assert fresh.access_token == SECRETS["access_token"]
    assert fresh.webhook_secret == "webhook-secret-rotated-6666"
    assert fresh.previous_webhook_secret == SECRETS["webhook_secret"]


def test_empty_secret_stays_empty_and_update_encrypts():
    store = _store(client_secret="")
    assert _raw(store, "client_secret") == ""
    Store.objects.filter(pk=store.pk).update(client_secret="set-by-update-777")
    assert "set-by-update-777" not in _raw(store, "client_secret")
    assert Store.objects.get(pk=store.pk).client_secret == "set-by-update-777"


def test_key_rotation_with_reencrypt_command():
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        store = _store()
        written_with_old = _raw(store, "webhook_secret")
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        # Both keys read: the row written with the old key still opens.
        assert Store.objects.get(pk=store.pk).webhook_secret == SECRETS["webhook_secret"]
        out = io.StringIO()
        call_command("secrets_reencrypt", stdout=out)
        assert "Re-encrypted 3 secret(s) of 1 store(s)" in out.getvalue()
        assert not any(secret in out.getvalue() for secret in SECRETS.values())
    assert _raw(store, "webhook_secret") != written_with_old
    assert (
        Fernet(NEW_KEY.encode()).decrypt(_raw(store, "webhook_secret").encode()).decode() == SECRETS["webhook_secret"]
    )
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY]):  # the old key can go now
        fresh = Store.objects.get(pk=store.pk)
        assert (fresh.access_token, fresh.client_secret) == (SECRETS["access_token"], SECRETS["client_secret"])


def test_wrong_key_is_a_clear_error_naming_the_store_never_the_secret():
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        store = _store()
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY]):
        fresh = Store.objects.get(pk=store.pk)  # loading works; using the secret does not
        with pytest.raises(SecretUndecryptable) as raised:
            fresh.webhook_secret  # noqa: B018
        message = str(raised.value)
        assert "atrest" in message and "FIELD_ENCRYPTION_KEYS" in message and "webhook_secret" in message
        assert not any(secret in message for secret in SECRETS.values())
        with pytest.raises(SecretUndecryptable), transaction.atomic():
            fresh.save()  # never overwrites a secret it cannot read
        with pytest.raises(CommandError, match="atrest"):
            call_command("secrets_reencrypt", stdout=io.StringIO())
        errors = checks.run_checks(tags=[checks.Tags.database], databases=["default"])
        assert [error.id for error in errors if error.id == "sync.E010"] == ["sync.E010"] * 3
        assert all("FIELD_ENCRYPTION_KEYS" in error.msg for error in errors if error.id == "sync.E010")
    # With the right key back, nothing was changed.
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        assert Store.objects.get(pk=store.pk).webhook_secret == SECRETS["webhook_secret"]
        assert not [
            e for e in checks.run_checks(tags=[checks.Tags.database], databases=["default"]) if e.id == "sync.E010"
        ]


def test_missing_key_stops_production_start_up():
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS is missing"):
        field_encryption_keys_resolve(keys=[], secret_key="x" * 50, local=False)
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS entry 2 is not a Fernet key") as raised:
        field_encryption_keys_resolve(keys=[OLD_KEY, "not-a-key"], secret_key="x" * 50, local=False)
    assert "not-a-key" not in str(raised.value)
    assert field_encryption_keys_resolve(keys=[f" {NEW_KEY}", OLD_KEY], secret_key="", local=False) == [
        NEW_KEY,
        OLD_KEY,
    ]


def test_local_runs_derive_a_stable_key_from_the_secret_key():
    first = field_encryption_keys_resolve(keys=[], secret_key="local-secret", local=True)
    assert first == field_encryption_keys_resolve(keys=[], secret_key="local-secret", local=True)
    assert first != field_encryption_keys_resolve(keys=[], secret_key="other-secret", local=True)
    Fernet(first[0])  # a valid key


def test_admin_keeps_secrets_write_only(admin_client):
    store = _store()
    store.webhook_secret = "webhook-secret-rotated-6666"
    store.save()
    page = admin_client.get(f"/admin/sync/store/{store.pk}/change/").content.decode()
    listing = admin_client.get("/admin/sync/store/").content.decode()
    for secret in [*SECRETS.values(), "webhook-secret-rotated-6666"]:
        assert secret not in page and secret not in listing
    assert "previous_webhook_secret" not in page


@pytest.mark.django_db(transaction=True)
def test_migration_encrypts_existing_plain_rows_and_reverses():
    from django.db.migrations.executor import MigrationExecutor

    before, encrypting = ("sync", "0009_seed_duplicate_rule_action"), ("sync", "0010_encrypt_store_secrets")
    table = connection.ops.quote_name(Store._meta.db_table)
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (name, store_hash, store_id, api_base_url, access_token, client_id, client_secret,"
                " webhook_auth_mode, webhook_header_name, webhook_secret, timezone, is_active, created_at, updated_at)"
                " VALUES ('Plain', 'plain', '', 'https://api.bigcommerce.com', %s, '', %s, 'header',"
                " 'X-B2S-Webhook-Secret', %s, 'UTC', %s, %s, %s)",
                [*SECRETS.values(), True, timezone.now(), timezone.now()],
            )
        executor = MigrationExecutor(connection)
        executor.migrate([encrypting])
        store = Store.objects.get(store_hash="plain")
        for column, secret in SECRETS.items():
            assert secret not in _raw(store, column)
            assert getattr(store, column) == secret
        executor = MigrationExecutor(connection)
        executor.migrate([before])  # backwards: plain text again
        for column, secret in SECRETS.items():
            assert _raw(store, column) == secret
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
