from django.db import migrations

from sync.seeds import catalog_sync_seed


class Migration(migrations.Migration):
    """The catalog sync flag (products and SKUs kept in Salesforce from their webhooks and the backfill)."""

    dependencies = [("sync", "0014_body_retention_schedule")]

    operations = [migrations.RunPython(catalog_sync_seed, migrations.RunPython.noop)]
