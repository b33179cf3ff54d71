from django.db import migrations

from sync.seeds import inbox_batch_seed


class Migration(migrations.Migration):
    """The inbox batch thresholds: how many waiting events a worker takes at once, and how long it waits for more."""

    dependencies = [("sync", "0010_encrypt_store_secrets")]

    operations = [migrations.RunPython(inbox_batch_seed, migrations.RunPython.noop)]
