"""``manage.py backfill``: load a store's order history (and customers) into Salesforce, batched."""

from __future__ import annotations

import argparse
import time
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from orders.backfill import (
    BATCH_SIZE,
    BackfillError,
    BackfillFilters,
    BackfillProgress,
    BackfillSummary,
    backfill_run,
    filter_date_parse,
    products_backfill_run,
)
from sync.models import Store
from sync.progress import TerminalBar

PLAIN_INTERVAL_SECONDS = 10.0
PHASE_WIDTH = 9
FAILURES_SHOWN = 20


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class ProgressPrinter:
    """A tqdm bar redrawn in place on a terminal; plain lines every few seconds otherwise (logs, CI)."""

    def __init__(self, stream: OutputWrapper | TextIO, *, tty: bool, interval: float = PLAIN_INTERVAL_SECONDS) -> None:
        self.stream = stream
        self.tty = tty
        self.interval = interval
        self._last_line = 0.0
        self._bar = TerminalBar(stream, label_width=PHASE_WIDTH)

    def __call__(self, state: BackfillProgress) -> None:
        total = f"/{state.total}" if state.total is not None else ""
        counts = f"{state.synced} synced, {state.unchanged} unchanged, {state.skipped} skipped, {state.failed} failed"
        if self.tty:
            # The run's own clock, not the bar's: the phase started before its first progress call.
            self._bar.bar_update(
                label=state.phase, done=state.done, total=state.total, elapsed=state.elapsed, postfix=counts
            )
            return
        now = time.monotonic()
        finished = state.total is not None and state.done >= state.total
        if now - self._last_line >= self.interval or finished:
            self._last_line = now
            percent = f" ({100 * state.done / state.total:.0f}%)" if state.total else ""
            eta = f", ETA {_duration(state.eta_seconds)}" if state.eta_seconds is not None else ""
            self.stream.write(
                f"backfill {state.phase}: {state.done}{total}{percent}, {state.rate:.1f}/s{eta}; {counts}\n"
            )
            self.stream.flush()

    def close(self) -> None:
        self._bar.bar_close()


class Command(BaseCommand):
    help = (
        "Load a store's order history into Salesforce in batches (about one Salesforce request per 150 orders), "
        "with a checkpoint so --resume continues after an interruption. Analytics are recomputed once at the end."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--store", required=True, metavar="HASH", help="The store's hash.")
        parser.add_argument("--since", help="Orders created on or after this date (YYYY-MM-DD, store time zone).")
        parser.add_argument("--until", help="Orders created on or before this date (YYYY-MM-DD, inclusive).")
        parser.add_argument("--ids", help="Only these order ids, e.g. 101,102,250.")
        parser.add_argument("--customers", action="store_true", help="Also every registered customer (first).")
        parser.add_argument(
            "--products",
            action="store_true",
            help="The catalog instead of orders: every product with its variants, 250 a page, as Product2 records "
            "with standard price book entries (about one Salesforce request per 1,000 records).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Walk and count; write nothing.")
        parser.add_argument("--resume", action="store_true", help="Continue the last unfinished run (same filters).")
        parser.add_argument(
            "--events", action="store_true", help="Publish platform events for history too (off by default)."
        )
        parser.add_argument(
            "--shipments",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="Read each shipped order's tracking numbers and carrier: one BigCommerce request per shipped "
            "order, most of the backfill's BigCommerce requests (default: on). With --no-shipments they are "
            "left empty until the order's next webhook.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=BATCH_SIZE,
            metavar="N",
            help=f"Orders per Salesforce batch and checkpoint (default {BATCH_SIZE}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            store = Store.objects.get(store_hash=options["store"])
        except Store.DoesNotExist:
            raise CommandError(f"No store with hash {options['store']!r}.") from None
        try:
            filters = BackfillFilters(
                since=filter_date_parse(options["since"], store=store) if options["since"] else None,
                until=filter_date_parse(options["until"], store=store, end=True) if options["until"] else None,
                ids=tuple(sorted({int(part) for part in (options["ids"] or "").split(",") if part.strip()})),
                customers=options["customers"],
            )
        except ValueError as error:
            raise CommandError(f"--ids takes order ids separated by commas ({error}).") from None
        except BackfillError as error:
            raise CommandError(str(error)) from None
        printer = ProgressPrinter(self.stdout, tty=self.stdout.isatty())
        if options["products"]:
            self._products(store=store, options=options, printer=printer)
            return
        try:
            summary = backfill_run(
                store=store,
                filters=filters,
                dry_run=options["dry_run"],
                resume=options["resume"],
                events=options["events"],
                progress=printer,
                batch_size=max(1, options["batch_size"]),
                shipments=options["shipments"],
            )
        except BackfillError as error:
            printer.close()
            raise CommandError(str(error)) from None
        except KeyboardInterrupt:
            printer.close()
            raise CommandError(
                "Interrupted. The checkpoint is saved: run the same command with --resume to continue."
            ) from None
        except Exception as error:
            printer.close()
            raise CommandError(
                f"The backfill stopped: {error}. The checkpoint is saved: fix the cause, then run the same "
                "command with --resume."
            ) from None
        printer.close()
        self._summary(summary)

    def _products(self, *, store: Store, options: dict[str, Any], printer: ProgressPrinter) -> None:
        try:
            summary = products_backfill_run(
                store=store, dry_run=options["dry_run"], resume=options["resume"], progress=printer
            )
        except BackfillError as error:
            printer.close()
            raise CommandError(str(error)) from None
        except KeyboardInterrupt:
            printer.close()
            raise CommandError(
                "Interrupted. The checkpoint is saved: run the same command with --resume to continue."
            ) from None
        except Exception as error:
            printer.close()
            raise CommandError(
                f"The products backfill stopped: {error}. The checkpoint is saved: fix the cause, then run the same "
                "command with --resume."
            ) from None
        printer.close()
        write = self.stdout.write
        title = "Products backfill dry run" if summary.dry_run else f"Products backfill {summary.run_id} done"
        if summary.resumed_from:
            title += f" (resumed after product {summary.resumed_from})"
        write(f"{title} in {_duration(summary.seconds)}:")
        write(f"  products: {summary.synced} synced, {summary.unchanged} unchanged, {len(summary.failed)} failed")
        write(f"  requests: {summary.salesforce_requests} Salesforce, {summary.bigcommerce_requests} BigCommerce")
        for product_id, reason in list(summary.failed.items())[:FAILURES_SHOWN]:
            write(f"  failed product {product_id}: {reason}")
        if summary.failed:
            write("  Run again with --resume to retry the failed products.")

    def _summary(self, summary: BackfillSummary) -> None:
        write = self.stdout.write
        title = "Backfill dry run" if summary.dry_run else f"Backfill {summary.run_id} done"
        if summary.resumed_from:
            title += f" (resumed after order {summary.resumed_from})"
        write(f"{title} in {_duration(summary.seconds)}:")
        if summary.dry_run:
            write(f"  orders: {summary.synced} new, {summary.unchanged} already synced, {summary.skipped} skipped")
        else:
            write(
                f"  orders: {summary.synced} synced, {summary.unchanged} unchanged, {summary.skipped} skipped, "
                f"{len(summary.failed)} failed"
            )
        if summary.customers_synced or summary.customers_failed:
            write(f"  customers: {summary.customers_synced} synced, {len(summary.customers_failed)} failed")
        rate = summary.orders / summary.seconds if summary.seconds else 0.0
        write(
            f"  requests: {summary.salesforce_requests} Salesforce, {summary.bigcommerce_requests} BigCommerce; "
            f"{rate:.1f} orders/s"
        )
        if summary.shipment_requests:
            write(
                f"  of the BigCommerce requests, {summary.shipment_requests} read shipped orders' tracking numbers "
                "(one per order; --no-shipments skips them)"
            )
        if summary.shipments_skipped:
            write(
                f"  tracking numbers not read for {summary.shipments_skipped} shipped orders (--no-shipments): "
                "each order's next webhook reads them"
            )
        if summary.live_resynced:
            write(f"  live webhooks re-run after overlapping the backfill: {summary.live_resynced}")
        for label, reasons in (("skipped", summary.skip_reasons), ("failed", summary.failed)):
            for order_id, reason in list(reasons.items())[:FAILURES_SHOWN]:
                write(f"  {label} order {order_id}: {reason}")
            if len(reasons) > FAILURES_SHOWN:
                write(f"  ... and {len(reasons) - FAILURES_SHOWN} more {label}")
        for customer_id, reason in list(summary.customers_failed.items())[:FAILURES_SHOWN]:
            write(f"  failed customer {customer_id}: {reason}")
        analytics = summary.analytics
        if analytics is not None:
            write(
                f"  analytics: {analytics.customers} customers recomputed, {analytics.pushed} Accounts updated "
                f"({analytics.requests} requests)"
            )
        if summary.failed:
            write("  Run again with --resume to retry the failed orders.")
