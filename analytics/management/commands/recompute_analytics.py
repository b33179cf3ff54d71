"""``python manage.py recompute_analytics [--store HASH] [--dry-run]``: the daily recompute, on demand."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from analytics.services import RecomputeResult, analytics_recompute
from sync.progress import TerminalBar
from sync.selectors import store_get

PHASE_WIDTH = 24
CHANGES_SHOWN = 50  # at the default verbosity; -v 2 prints every change


class ProgressPrinter:
    """A tqdm bar on a terminal; plain lines (at each tenth) when the output is a file or a pipe."""

    def __init__(self, stream: OutputWrapper, *, tty: bool) -> None:
        self.stream = stream
        self.tty = tty
        self._phase = ""
        self._last_tenth = -1
        self._bar = TerminalBar(stream, label_width=PHASE_WIDTH)

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self.tty:
            # A new phase closes the last bar on its own line and starts the next.
            self._bar.bar_update(label=phase, done=done, total=total)
            return
        if phase != self._phase:
            self._phase, self._last_tenth = phase, -1
        fraction = done / total if total else 1.0
        tenth = int(fraction * 10)
        if tenth != self._last_tenth:
            self._last_tenth = tenth
            self.stream.write(f"{phase}: {done}/{total}")
            self.stream.flush()

    def close(self) -> None:
        self._bar.bar_close()


class Command(BaseCommand):
    help = "Recompute every customer's analytics from the ledger and push the Accounts whose values changed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--store", metavar="HASH", help="Only this store (its store hash).")
        parser.add_argument("--dry-run", action="store_true", help="Show what would change; write and send nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        store = None
        if options["store"]:
            store = store_get(store_hash=options["store"])
            if store is None:
                raise CommandError(f"No store with the hash {options['store']!r}.")
        # The bar goes to stderr so stdout stays a clean report of the changes.
        printer = ProgressPrinter(self.stderr, tty=self.stderr.isatty())
        try:
            result = analytics_recompute(store=store, dry_run=options["dry_run"], progress=printer)
        finally:
            printer.close()
        self._report(result, verbosity=options["verbosity"])

    def _report(self, result: RecomputeResult, *, verbosity: int) -> None:
        shown = result.changes if verbosity >= 2 else result.changes[:CHANGES_SHOWN]
        for change in shown:
            parts = [f"{name}: {change.before.get(name)!r} → {value!r}" for name, value in change.after.items()]
            self.stdout.write(f"{change.customer_key}  " + "; ".join(parts))
        if len(shown) < result.changed:
            self.stdout.write(f"… and {result.changed - len(shown)} more (-v 2 shows all)")
        prefix = "Dry run: would push" if result.dry_run else "Pushed"
        self.stdout.write(
            f"{prefix} {result.pushed if not result.dry_run else result.changed} of {result.changed} changed Accounts "
            f"({result.customers} customers in {result.stores} store(s), {result.values_updated} values updated, "
            f"{result.requests} Salesforce requests{', method ' + result.method if result.method else ''}, "
            f"{result.duration_ms} ms)."
        )
        for error in result.errors:
            self.stderr.write(f"error: {error}")
        if result.failed:
            raise CommandError(f"{result.failed} Accounts failed; the next run retries them.")
