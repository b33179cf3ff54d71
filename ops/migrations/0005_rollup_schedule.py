"""The roll-up of the dashboard's hourly figures, run every minute (an admin may edit the schedule later)."""

from django.db import migrations

from sync.schedules import ScheduleSeed, schedules_operation


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0004_alert_delivery_error"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        schedules_operation(
            ScheduleSeed("b2s: hourly statistics roll-up", "ops.tasks.hourly_stats_rollup_task", "I", minutes=1),
        )
    ]
