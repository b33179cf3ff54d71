"""``manage.py secrets_reencrypt``: rewrite every stored secret with the first encryption key."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from sync.fields import SecretUndecryptable
from sync.services.stores import secrets_reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt every store secret with the first key of FIELD_ENCRYPTION_KEYS. Key rotation: put the new "
        "key first (keep the old ones after it), run this, then drop the old keys. Prints counts only."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = secrets_reencrypt()
        except SecretUndecryptable as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Re-encrypted {result.secrets} secret(s) of {result.stores} store(s) with the first key.")
