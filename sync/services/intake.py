"""Counting the webhook deliveries refused at the door (per store, reason and minute), for the dashboard."""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from sync.models import IntakeRejection

logger = logging.getLogger(__name__)

Reason = IntakeRejection.Reason


def intake_rejection_count(*, store_hash: str, reason: str, now: datetime | None = None) -> None:
    """Add one refused delivery to its minute's count: ``count = count + 1``, the row created on a miss.

    ``store_hash``: a store b2s knows, or "" (an unknown hash is never written down). Two processes
    inserting the same minute's first row meet the unique constraint: the loser's insert is undone (a
    savepoint) and it increments the winner's row, on SQLite and PostgreSQL alike. Never raises: the
    answer to the sender must not depend on the count.
    """
    minute = (now or timezone.now()).replace(second=0, microsecond=0)
    rows = IntakeRejection.objects.filter(store_hash=store_hash, reason=reason, minute=minute)
    # Inside a caller's transaction, a savepoint: a failed count must leave that transaction usable.
    outer = transaction.atomic() if transaction.get_connection().in_atomic_block else contextlib.nullcontext()
    try:
        with outer:
            if rows.update(count=F("count") + 1):
                return
            try:
                with transaction.atomic():  # the race's loser rolls back only its insert
                    IntakeRejection.objects.create(store_hash=store_hash, reason=reason, minute=minute, count=1)
            except IntegrityError:
                rows.update(count=F("count") + 1)
    except DatabaseError as error:
        logger.warning("Could not count a refused webhook delivery (%s)", type(error).__name__)
