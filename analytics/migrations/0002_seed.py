from django.db import migrations

from analytics.seeds import analytics_seed_apply


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0001_initial"),
        ("sync", "0002_seed"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(analytics_seed_apply, migrations.RunPython.noop)]
