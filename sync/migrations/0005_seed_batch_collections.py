from django.db import migrations

from sync.seeds import seed_apply


class Migration(migrations.Migration):
    """Adds the ``batch_collections_min_orders`` threshold to existing databases (seeding adds only missing keys)."""

    dependencies = [("sync", "0004_backfill_run")]

    operations = [migrations.RunPython(seed_apply, migrations.RunPython.noop)]
