"""The alert evaluation, scheduled every minute (created once; an admin may edit it later)."""

from django.db import migrations

from sync.schedules import ScheduleSeed, schedules_operation


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0002_alerts"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        schedules_operation(
            ScheduleSeed("b2s: alerts", "ops.tasks.alerts_evaluate_task", "I", minutes=1),
        )
    ]
