"""Model fields whose values are encrypted at rest (Fernet, keys from ``FIELD_ENCRYPTION_KEYS``).

The column holds a Fernet token; the attribute holds the plain text. ``MultiFernet`` gives key
rotation: the first key encrypts, every key decrypts, and ``manage.py secrets_reencrypt`` rewrites
every token with the first key. An empty value stays empty so "not set" needs no key.

A token that no configured key opens is not an empty secret: loading it yields an
``UnreadableSecret`` and reading the attribute raises ``SecretUndecryptable`` naming the row and the
environment variable, never the value, so a wrong key stops the work instead of failing every
webhook as "secret mismatch".
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models
from django.db.models.expressions import Combinable
from django.db.models.query_utils import DeferredAttribute

KEYS_ENV = "FIELD_ENCRYPTION_KEYS"
ENCRYPTING_MIGRATION = "0010_encrypt_store_secrets"


class SecretUndecryptable(RuntimeError):
    """A stored secret cannot be decrypted with any key in ``FIELD_ENCRYPTION_KEYS``."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def fernet() -> MultiFernet:
    """The ``MultiFernet`` of the configured keys (first writes, all read)."""
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def secret_encrypt(value: str) -> str:
    return fernet().encrypt(value.encode()).decode() if value else ""


def secret_decrypt(token: str) -> str:
    """The plain text of ``token``; raises ``InvalidToken`` when no key opens it."""
    return fernet().decrypt(token.encode()).decode() if token else ""


class UnreadableSecret:
    """What a column holds when no key opens it: unusable as a secret (every use raises)."""

    __slots__ = ("column",)

    def __init__(self, column: str) -> None:
        self.column = column

    def error(self, *, row: str = "") -> SecretUndecryptable:
        where = f"{self.column} of {row}" if row else self.column
        return SecretUndecryptable(
            f"The stored secret {where} cannot be decrypted with any key in {KEYS_ENV}: "
            f"the key it was written with is missing from {KEYS_ENV} (or the variable is wrong)."
        )

    def __str__(self) -> str:
        raise self.error()

    def __bool__(self) -> bool:
        raise self.error()

    def __repr__(self) -> str:
        return f"<UnreadableSecret {self.column}>"


# Typed as text in, text out for django-stubs (a bare subclass reads as Any); Django's field classes
# take no type arguments at run time.
if TYPE_CHECKING:
    _TextField = models.TextField[str | Combinable, str]
else:
    _TextField = models.TextField


class _SecretAttribute(DeferredAttribute):
    """Raises ``SecretUndecryptable`` naming the row when the loaded token opened with no key."""

    def __get__(self, instance: models.Model | None, cls: type | None = None) -> Any:
        value = super().__get__(instance, cls)
        if isinstance(value, UnreadableSecret):
            raise value.error(row=str(instance))
        return value

    def __set__(self, instance: models.Model, value: Any) -> None:
        # A data descriptor, so reads come through __get__ even when the value is in __dict__.
        instance.__dict__[self.field.attname] = value


class EncryptedTextField(_TextField):
    """A text value stored as a Fernet token. Lookups on it cannot work (tokens are randomised)."""

    descriptor_class = _SecretAttribute

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if not value:
            return value
        try:
            return secret_decrypt(value)
        except InvalidToken:
            return UnreadableSecret(f"{self.model._meta.db_table}.{self.column}")

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)  # str() of an UnreadableSecret raises: never written back
        return secret_encrypt(value) if value else value
