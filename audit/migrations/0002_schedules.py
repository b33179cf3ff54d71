"""The periodic tasks of the inbox and the audit log, created once (an admin may edit them later)."""

from django.db import migrations

from sync.schedules import ScheduleSeed, schedules_operation


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        schedules_operation(
            ScheduleSeed("b2s: webhook sweep", "sync.tasks.webhook_events_sweep_task", "I", minutes=1),
            ScheduleSeed("b2s: audit log retention", "audit.tasks.audit_log_prune_task", "D"),
        )
    ]
