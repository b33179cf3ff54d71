from django.db import migrations

from sync.seeds import seed_apply, store_from_env


class Migration(migrations.Migration):
    dependencies = [("sync", "0001_initial")]

    operations = [
        migrations.RunPython(seed_apply, migrations.RunPython.noop),
        migrations.RunPython(store_from_env, migrations.RunPython.noop),
    ]
