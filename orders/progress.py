"""How far a backfill run got: pure arithmetic over its counters, for the admin's progress column."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class BackfillProgress:
    """``done`` of ``total`` orders (total None while unknown), ``percent`` of it, and orders per minute."""

    done: int
    total: int | None
    percent: float | None
    per_minute: float | None
    elapsed_seconds: float


def backfill_progress(
    *,
    synced: int,
    unchanged: int,
    skipped: int,
    failed: int,
    total: int | None,
    started_at: datetime,
    finished_at: datetime | None,
    now: datetime,
) -> BackfillProgress:
    """Orders handled so far (synced, unchanged, skipped or failed) against the total, and the rate.

    The rate runs to ``finished_at`` for a finished run and to ``now`` for one still going; a run younger
    than a second has no rate yet.
    """
    done = synced + unchanged + skipped + failed
    elapsed = max(((finished_at or now) - started_at).total_seconds(), 0.0)
    percent = min(100.0, 100.0 * done / total) if total else (100.0 if total == 0 else None)
    per_minute = done * 60.0 / elapsed if elapsed >= 1.0 else None
    return BackfillProgress(done=done, total=total, percent=percent, per_minute=per_minute, elapsed_seconds=elapsed)
