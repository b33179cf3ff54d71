"""Encrypt the stores' secrets at rest and add the webhook secret rotation fields.

The data step reads and writes the columns with raw SQL (the ORM field would try to decrypt the
plain text). It is idempotent (a value that already opens with a key is left alone) and reversible:
going back decrypts every value to plain text before the columns become CharFields again.
"""

from cryptography.fernet import InvalidToken
from django.db import migrations, models

import sync.fields

COLUMNS = ("access_token", "client_secret", "webhook_secret")


def _rewrite(apps, schema_editor, *, encrypt: bool) -> None:
    connection = schema_editor.connection
    table = connection.ops.quote_name(apps.get_model("sync", "Store")._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {', '.join(COLUMNS)} FROM {table}")
        rows = cursor.fetchall()
        for row_id, *values in rows:
            changed = {}
            for column, value in zip(COLUMNS, values, strict=True):
                if not value:
                    continue
                try:
                    plain = sync.fields.secret_decrypt(value)
                    encrypted = True
                except InvalidToken:
                    plain, encrypted = value, False
                if encrypt and not encrypted:
                    changed[column] = sync.fields.secret_encrypt(plain)
                elif not encrypt and encrypted:
                    changed[column] = plain
            if changed:
                assignments = ", ".join(f"{connection.ops.quote_name(column)} = %s" for column in changed)
                cursor.execute(f"UPDATE {table} SET {assignments} WHERE id = %s", [*changed.values(), row_id])


def secrets_encrypt(apps, schema_editor) -> None:
    _rewrite(apps, schema_editor, encrypt=True)


def secrets_decrypt(apps, schema_editor) -> None:
    _rewrite(apps, schema_editor, encrypt=False)


class Migration(migrations.Migration):

    dependencies = [
        ('sync', '0009_seed_duplicate_rule_action'),
    ]

    operations = [
        migrations.AddField(
            model_name='store',
            name='previous_webhook_secret',
            field=sync.fields.EncryptedTextField(blank=True, editable=False),
        ),
        migrations.AddField(
            model_name='store',
            name='webhook_secret_rotated_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AlterField(
            model_name='store',
            name='access_token',
            field=sync.fields.EncryptedTextField(blank=True),
        ),
        migrations.AlterField(
            model_name='store',
            name='client_secret',
            field=sync.fields.EncryptedTextField(blank=True),
        ),
        migrations.AlterField(
            model_name='store',
            name='webhook_secret',
            field=sync.fields.EncryptedTextField(blank=True, help_text='Header secret or HMAC key. Standard Webhooks use the client secret when this is empty.'),
        ),
        migrations.RunPython(secrets_encrypt, secrets_decrypt),
    ]
