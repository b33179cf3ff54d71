"""The daily purge of finished webhook events' bodies (``webhook_body_retention_days``), created once."""

from django.db import migrations

from sync.schedules import ScheduleSeed, schedules_operation


class Migration(migrations.Migration):
    dependencies = [
        ("sync", "0013_operations"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        schedules_operation(
            ScheduleSeed("b2s: webhook body retention", "sync.tasks.webhook_bodies_purge_task", "D"),
        )
    ]
