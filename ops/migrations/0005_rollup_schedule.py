"""The roll-up of the dashboard's hourly figures, run every minute (an admin may edit the schedule later)."""

from django.db import migrations

SCHEDULES = (
    # name, function, schedule type, minutes
    ("b2s: hourly statistics roll-up", "ops.tasks.hourly_stats_rollup_task", "I", 1),
)


def schedules_create(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, func, schedule_type, minutes in SCHEDULES:
        if not Schedule.objects.filter(name=name).exists():
            Schedule.objects.create(name=name, func=func, schedule_type=schedule_type, minutes=minutes, repeats=-1)


def schedules_delete(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name__in=[name for name, *_ in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0004_alert_delivery_error"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(schedules_create, schedules_delete)]
