"""The periodic tasks b2s creates in django-q2 once, by data migration; an admin may edit them later.

One helper for every app's schedule migration, so each migration names its schedules and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import migrations


@dataclass(frozen=True)
class ScheduleSeed:
    name: str
    func: str  # dotted path of a task function
    schedule_type: str  # django-q2's: "I" every `minutes`, "D" daily, ...
    minutes: int | None = None


def schedules_operation(*seeds: ScheduleSeed) -> migrations.RunPython:
    """A RunPython that creates each schedule missing by name (an edited or existing one is left alone),
    and on reversal deletes them."""

    def create(apps: Any, schema_editor: Any) -> None:
        Schedule = apps.get_model("django_q", "Schedule")
        for seed in seeds:
            if not Schedule.objects.filter(name=seed.name).exists():
                Schedule.objects.create(
                    name=seed.name, func=seed.func, schedule_type=seed.schedule_type, minutes=seed.minutes, repeats=-1
                )

    def delete(apps: Any, schema_editor: Any) -> None:
        apps.get_model("django_q", "Schedule").objects.filter(name__in=[seed.name for seed in seeds]).delete()

    return migrations.RunPython(create, delete)
