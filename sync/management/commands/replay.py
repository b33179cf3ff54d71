"""``manage.py replay``: re-queue stored webhook events (failed and dead ones by default)."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from sync.selectors import webhook_event_ids_missing, webhook_events_body_purged, webhook_events_select
from sync.services.retention import REPLAY_PURGED_REFUSAL
from sync.services.webhooks import webhook_events_replay

_DURATION = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def since_parse(value: str, *, now: datetime | None = None) -> datetime:
    """``2024-05-01``, ``2024-05-01T10:00:00+02:00`` or a duration back from now: ``30m``, ``6h``, ``2d``, ``1w``."""
    value = value.strip()
    now = now or timezone.now()
    match = _DURATION.match(value)
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise ValueError(f"{value!r} is neither a date, a date-time nor a duration like 6h or 2d")
        moment = datetime.combine(day, time.min)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def ids_parse(values: list[str]) -> list[int]:
    """Event ids given as ``--ids 1 2 3`` or ``--ids 1,2,3``."""
    ids = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit():
                raise ValueError(f"{part!r} is not an event id")
            ids.append(int(part))
    return ids


class Command(BaseCommand):
    help = (
        "Re-queue stored webhook events for processing. By default the failed and dead ones; "
        "filters combine (AND). Prints 'Re-queued N of M'."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--failed", action="store_true", help="Events whose last attempt failed (retry pending).")
        parser.add_argument("--dead", action="store_true", help="Events that used up their attempts.")
        parser.add_argument(
            "--ids", nargs="+", default=[], metavar="ID", help="Event ids (any status), e.g. 4 7 or 4,7."
        )
        parser.add_argument("--scope", nargs="+", default=[], help="Only these scopes, e.g. store/order/created.")
        parser.add_argument(
            "--since", help="Received at or after: a date, a date-time, or a duration such as 6h or 2d."
        )
        parser.add_argument("--store", metavar="HASH", default="", help="Only events of this store.")
        parser.add_argument("--dry-run", action="store_true", help="Count and list, re-queue nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            ids = ids_parse(options["ids"])
            since = since_parse(options["since"]) if options["since"] else None
        except ValueError as error:
            raise CommandError(str(error)) from None
        events = webhook_events_select(
            failed=options["failed"],
            dead=options["dead"],
            ids=ids,
            scopes=options["scope"],
            since=since,
            store_hash=options["store"],
        )
        matched = events.count()
        unknown = webhook_event_ids_missing(ids=ids) if ids else []
        if unknown:
            self.stderr.write(f"No event with id {', '.join(map(str, unknown))}.")
        purged = webhook_events_body_purged(events=events)
        purged_count = purged.count()
        if purged_count:
            shown = ", ".join(map(str, purged.values_list("pk", flat=True)[:20])) + (
                " ..." if purged_count > 20 else ""
            )
            self.stderr.write(f"Not replayed: {purged_count} event(s) ({shown}): {REPLAY_PURGED_REFUSAL}.")
        if options["dry_run"]:
            for event in events[:50]:
                note = "  (body purged)" if event.body_purged_at else ""
                self.stdout.write(
                    f"  {event.pk}  {event.status:<8}  {event.scope}  {event.resource_type}:{event.resource_id}{note}"
                )
            self.stdout.write(f"Would re-queue {matched - purged_count} event(s).")
            return
        if matched and purged_count == matched:
            raise CommandError("Nothing to replay: every matching event's body was purged.")
        requeued = webhook_events_replay(events=events) if matched else 0
        self.stdout.write(f"Re-queued {requeued} of {matched}")
