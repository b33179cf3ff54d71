from django.db import migrations

from sync.customers import guest_key_upgrade
from sync.seeds import customer_match_seed

# Every local column that holds a customer's external id value.
KEY_COLUMNS = (
    ("sync", "SyncedOrder", "account_key"),
    ("analytics", "LedgerEntry", "customer_key"),
    ("analytics", "CustomerValues", "customer_key"),
    ("recovery", "Cart", "customer_key"),
)


def guest_keys_rewrite(apps, schema_editor):
    """``{hash}:guest:{email}`` → ``{hash}:guest:{digest}`` in every local table (Salesforce is adopted by email)."""
    for app_label, model_name, column in KEY_COLUMNS:
        model = apps.get_model(app_label, model_name)
        rows = model.objects.filter(**{f"{column}__contains": ":guest:"}).values_list("pk", column)
        for pk, value in rows.iterator():
            upgraded = guest_key_upgrade(value)
            if upgraded != value:
                model.objects.filter(pk=pk).update(**{column: upgraded})


class Migration(migrations.Migration):
    """Guest external ids no longer carry the email (an email ending like ``.inc`` answers 404 in an upsert URL),
    and the admin's ``customer_match_rules`` setting: how existing CRM records are found and adopted."""

    dependencies = [
        ("sync", "0007_customer_link"),
        ("analytics", "0002_seed"),
        ("recovery", "0002_expiry_schedule"),
    ]

    operations = [
        migrations.RunPython(guest_keys_rewrite, migrations.RunPython.noop),
        migrations.RunPython(customer_match_seed, migrations.RunPython.noop),
    ]
