"""Create the daily cart-expiry schedule once; later edits in the admin are kept."""

from datetime import UTC, datetime, time, timedelta

from django.db import migrations

EXPIRY_TASK = "recovery.tasks.carts_expire_task"
EXPIRY_SCHEDULE_NAME = "Cart expiry (daily)"


def schedule_create(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    if Schedule.objects.filter(func=EXPIRY_TASK).exists():
        return
    # First run at the next 03:00 UTC, a quiet hour, not the moment a cluster first starts.
    now = datetime.now(tz=UTC)
    first = datetime.combine(now.date(), time(3, 0), tzinfo=UTC)
    if first <= now:
        first += timedelta(days=1)
    Schedule.objects.create(
        name=EXPIRY_SCHEDULE_NAME,
        func=EXPIRY_TASK,
        schedule_type="D",
        repeats=-1,
        next_run=first,
    )


def schedule_delete(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(func=EXPIRY_TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("recovery", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(schedule_create, schedule_delete)]
