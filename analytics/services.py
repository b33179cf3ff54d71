"""Customer analytics services: the ledger, the derived values, and the daily recompute.

The order sync records the order in the ledger (:func:`ledger_order_record`, committed) before it
calls Salesforce, puts :func:`customer_account_fields` (the full ledger's values) on the Account in
the same composite request as the order (no extra Salesforce request), and once Salesforce applied
it calls :func:`account_fields_settle`, which corrects the Account when another order of the
customer changed the ledger meanwhile. :func:`analytics_recompute` runs daily (time moves recency)
and pushes only the Accounts whose fields differ from what Salesforce was last sent.
"""

from __future__ import annotations

import csv
import io
import itertools
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from analytics import rules as r
from analytics.models import CustomerValues, LedgerEntry, RfmEdges
from audit.models import AuditLog
from audit.services import audit_record
from b2s.logging import redact
from sync.config import config
from sync.customers import EXTERNAL_ID_FIELD as ACCOUNT_EXTERNAL_ID
from sync.models import Store
from sync.salesforce import COLLECTIONS_CHUNK, SalesforceError, salesforce_calls_counted, salesforce_client
from sync.selectors import stores_active
from sync.usage import api_budget_status

logger = logging.getLogger(__name__)

BULK_THRESHOLD_KEY = "analytics_bulk_min_changes"
BULK_POLL_SECONDS = 2.0  # how often a bulk job is polled; tests lower it
WRITE_BATCH = 500
MAX_CHANGES_KEPT = 100_000  # a bound on the per-customer change list a run reports
MAX_ERRORS_KEPT = 20
SETTLE_CORRECTIONS_MAX = 5  # Account PATCHes one order sync may spend converging its customer's analytics

ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True)
class LedgerOrder:
    """One order as the analytics need it (the order sync builds it from the BigCommerce order)."""

    order_id: int
    order_date: datetime
    gross_total: Decimal
    refunded_amount: Decimal
    status_id: int
    currency: str


# ---------------------------------------------------------------------------------------------
# Configuration and facts
# ---------------------------------------------------------------------------------------------
def rules_current() -> r.Rules:
    """The analytics configuration as the admin set it, read through ``sync.config``."""
    threshold = config.threshold
    return r.Rules(
        status_lookup=lambda status_id: config.status_rule(status_id).counts_toward_analytics,
        refunds=config.flag("refunds"),
        silver_min=threshold("tier_silver_min"),
        gold_min=threshold("tier_gold_min"),
        platinum_min=threshold("tier_platinum_min"),
        churn_risk_days=int(threshold("churn_risk_days")),
        rfm_mode=config.setting("rfm_mode"),
        recency_days=_rfm_cutoffs("rfm_recency_{score}_days"),
        frequency_orders=_rfm_cutoffs("rfm_frequency_{score}_orders"),
        flags={flag: config.flag(flag) for flag in r.FIELDS_BY_FLAG},
    )


def _rfm_cutoffs(key_pattern: str) -> tuple[int, int, int, int]:
    """The thresholds for the scores 5, 4, 3 and 2 (the rest scores 1)."""
    five, four, three, two = (int(config.threshold(key_pattern.format(score=score))) for score in (5, 4, 3, 2))
    return five, four, three, two


def _facts_of(order: LedgerOrder | LedgerEntry) -> r.OrderFacts:
    return r.OrderFacts(
        order_id=int(order.order_id),
        order_date=order.order_date,
        gross_total=Decimal(order.gross_total),
        refunded_amount=Decimal(order.refunded_amount),
        status_id=int(order.status_id),
    )


def _customer_orders(*, store: Store, customer_key: str, exclude_order_id: int | None = None) -> list[r.OrderFacts]:
    rows = LedgerEntry.objects.filter(store=store, customer_key=customer_key)
    if exclude_order_id is not None:
        rows = rows.exclude(order_id=exclude_order_id)
    return [
        _facts_of(row) for row in rows.only("order_id", "order_date", "gross_total", "refunded_amount", "status_id")
    ]


_LEDGER_COLUMNS = (
    "id",
    "customer_key",
    "order_id",
    "order_date",
    "gross_total",
    "refunded_amount",
    "status_id",
    "counted",
)


def _store_facts(*, store: Store, rules: r.Rules) -> tuple[dict[str, r.CustomerFacts], list[tuple[int, bool]]]:
    """Every customer's facts in one pass over the store's ledger, and the rows whose `counted` went stale."""
    facts: dict[str, r.CustomerFacts] = {}
    stale: list[tuple[int, bool]] = []
    rows = (
        LedgerEntry.objects.filter(store=store)
        .order_by("customer_key", "order_id")
        .values_list(*_LEDGER_COLUMNS)
        .iterator(chunk_size=2000)
    )
    tz = store.tz
    for key, group in itertools.groupby(rows, key=lambda row: row[1]):
        orders = []
        for row_id, _key, order_id, order_date, gross, refunded, status_id, counted in group:
            order = r.OrderFacts(order_id, order_date, Decimal(gross), Decimal(refunded), status_id)
            orders.append(order)
            counts = r.order_counts(order, rules=rules)
            if counts != counted:
                stale.append((row_id, counts))
        facts[key] = r.customer_facts(orders, rules=rules, tz=tz)
    return facts, stale


def _edges_row_to_edges(row: RfmEdges) -> r.QuintileEdges:
    return r.QuintileEdges(
        recency_days=tuple(int(value) for value in row.recency_days),
        frequency_orders=tuple(int(value) for value in row.frequency_orders),
        monetary_values=tuple(Decimal(value) for value in row.monetary_values),
    )


def _edges_save(*, store: Store, edges: r.QuintileEdges, customers: int, now: datetime) -> None:
    values = {
        "customers": customers,
        "recency_days": list(edges.recency_days),
        "frequency_orders": list(edges.frequency_orders),
        "monetary_values": [str(value) for value in edges.monetary_values],
        "computed_at": now,
    }
    try:
        with transaction.atomic():
            RfmEdges.objects.update_or_create(store=store, defaults=values)
    except IntegrityError:
        # Another process stored the day's edges at the same moment: theirs are as good.
        logger.info("RFM edges of store %s stored concurrently", store.store_hash)


def _edges_for(*, store: Store, rules: r.Rules, now: datetime) -> r.QuintileEdges | None:
    """The store's quintile edges (quintile mode only); computed once when the daily run has not yet."""
    if rules.rfm_mode != r.RFM_QUINTILE:
        return None
    row = RfmEdges.objects.filter(store=store).first()
    if row is not None:
        return _edges_row_to_edges(row)
    facts, _stale = _store_facts(store=store, rules=rules)
    today = _today(store=store, now=now)
    edges = r.quintile_edges(facts.values(), today=today)
    _edges_save(store=store, edges=edges, customers=sum(1 for f in facts.values() if f.total_orders), now=now)
    return edges


def _today(*, store: Store, now: datetime) -> date:
    return now.astimezone(store.tz).date()


# ---------------------------------------------------------------------------------------------
# The order sync's two calls
# ---------------------------------------------------------------------------------------------
def customer_account_fields(
    *, store: Store, customer_key: str, pending: LedgerOrder | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """The Account analytics fields from the ledger with ``pending`` applied in memory (nothing written).

    Fields whose feature flag is off are absent. Money values are Decimals (2 places),
    Total_Orders__c an int, Last_Order_Date__c ISO ``YYYY-MM-DD`` (None when no order counts),
    Customer_Tags__c ``;``-separated in a fixed order (None when no tag applies).
    Nothing is read from Salesforce.
    """
    rules = rules_current()
    if not rules.fields_enabled():
        return {}
    now = now or timezone.now()
    orders = _customer_orders(
        store=store, customer_key=customer_key, exclude_order_id=pending.order_id if pending else None
    )
    if pending is not None:
        orders.append(_facts_of(pending))
    facts = r.customer_facts(orders, rules=rules, tz=store.tz)
    derived = r.derive(
        facts, rules=rules, edges=_edges_for(store=store, rules=rules, now=now), today=_today(store=store, now=now)
    )
    return r.account_fields(derived, rules=rules)


def customers_account_fields(
    *, store: Store, customer_keys: Iterable[str], now: datetime | None = None
) -> dict[str, dict[str, Any]]:
    """``customer_account_fields`` (no pending order) of several customers: {customer key: fields}.

    Why: a backfill batch puts the analytics on hundreds of Accounts; one read of their ledgers
    and one of the quintile edges replace a read of each customer's ledger (and of the edges).
    """
    keys = sorted(set(customer_keys))
    rules = rules_current()
    if not rules.fields_enabled():
        return {key: {} for key in keys}
    now = now or timezone.now()
    orders: dict[str, list[r.OrderFacts]] = {key: [] for key in keys}
    ledger = LedgerEntry.objects.filter(store=store, customer_key__in=keys).values_list(
        "customer_key", "order_id", "order_date", "gross_total", "refunded_amount", "status_id"
    )
    for key, order_id, order_date, gross, refunded, status_id in ledger:
        orders[key].append(r.OrderFacts(int(order_id), order_date, Decimal(gross), Decimal(refunded), int(status_id)))
    edges = _edges_for(store=store, rules=rules, now=now)
    today = _today(store=store, now=now)
    fields: dict[str, dict[str, Any]] = {}
    for key, facts_list in orders.items():
        facts = r.customer_facts(facts_list, rules=rules, tz=store.tz)
        fields[key] = r.account_fields(r.derive(facts, rules=rules, edges=edges, today=today), rules=rules)
    return fields


def ledger_order_record(*, store: Store, customer_key: str, order: LedgerOrder, now: datetime | None = None) -> bool:
    """Upsert the order's ledger row and refresh its customer's derived values; True when the facts changed.

    The order sync calls it before it sends the order to Salesforce, in a transaction of its
    own (committed at once, so every other worker computing this customer's values sees the
    order in flight). The ledger describes BigCommerce's orders, not what Salesforce holds:
    what was pushed is ``CustomerValues.pushed_values``, written only by
    :func:`account_fields_settle` and the daily recompute. An order whose customer key changed
    moves to the new customer and both customers are refreshed (the old Account learns it from
    the daily recompute). "Changed" means a new row or other facts (customer, date, amounts,
    status): a redelivery changes nothing.
    """
    now = now or timezone.now()
    rules = rules_current()
    facts = _facts_of(order)
    gross, refunded = r.money(facts.gross_total), r.money(facts.refunded_amount)
    with transaction.atomic():
        # Lock the customer's row first: recordings and settle checks of one customer serialise
        # (account_fields_settle relies on it), and each computes from a ledger with the others.
        values_row = _values_row_locked(store=store, customer_key=customer_key)
        previous = (
            LedgerEntry.objects.select_for_update()
            .filter(store=store, order_id=order.order_id)
            .values_list("customer_key", "order_date", "gross_total", "refunded_amount", "status_id")
            .first()
        )
        changed = previous is None or previous != (customer_key, order.order_date, gross, refunded, order.status_id)
        net = max(r.money(facts.gross_total - facts.refunded_amount), r.ZERO)
        LedgerEntry.objects.update_or_create(
            store=store,
            order_id=order.order_id,
            defaults={
                "customer_key": customer_key,
                "order_date": order.order_date,
                "gross_total": gross,
                "refunded_amount": refunded,
                "net_total": net,
                "status_id": order.status_id,
                "counted": r.order_counts(facts, rules=rules),
                "currency": order.currency or "",
            },
        )
        _values_refresh(row=values_row, store=store, rules=rules, now=now)
        if previous is not None and previous[0] != customer_key:
            # The order moved (a guest who registered, an edited customer): the old Account's
            # values change too; Salesforce learns it from the next daily recompute.
            old_row = _values_row_locked(store=store, customer_key=previous[0])
            _values_refresh(row=old_row, store=store, rules=rules, now=now)
    return changed


def ledger_orders_record(
    *, store: Store, orders: Sequence[tuple[str, LedgerOrder]], now: datetime | None = None
) -> list[bool]:
    """``ledger_order_record`` for each (customer key, order) of a batch, in one transaction: whether each changed.

    Why: a backfill batch of 1,000 orders recorded one by one costs a lock, an upsert and a read of
    the customer's whole ledger per order. Here the customers' rows are locked together (in key
    order, the same order every batch takes), the rows are upserted in one statement, and each
    affected customer's values are computed once from one read of their ledgers. The result is the
    one the orders recorded in sequence leave: a repeated order compares with its earlier copy.
    """
    if not orders:
        return []
    now = now or timezone.now()
    rules = rules_current()
    order_ids = {order.order_id for _, order in orders}
    columns = ("order_id", "customer_key", "order_date", "gross_total", "refunded_amount", "status_id")
    with transaction.atomic():
        # Customers an order moves away from are locked too (their values change): found first
        # without a lock, so customer rows are always locked before ledger rows, as one order does.
        before = LedgerEntry.objects.filter(store=store, order_id__in=order_ids).values_list("customer_key", flat=True)
        keys = {key for key, _ in orders} | set(before)
        rows = _values_rows_locked(store=store, customer_keys=keys)
        current = {
            values[0]: values[1:]
            for values in LedgerEntry.objects.select_for_update()
            .filter(store=store, order_id__in=order_ids)
            .values_list(*columns)
        }
        for key, *_ in current.values():
            if key not in rows:  # moved by another worker between the two reads: rare, locked late
                rows.update(_values_rows_locked(store=store, customer_keys={key}))
        changed: list[bool] = []
        entries: dict[int, LedgerEntry] = {}
        for key, order in orders:
            facts = _facts_of(order)
            gross, refunded = r.money(facts.gross_total), r.money(facts.refunded_amount)
            values = (key, order.order_date, gross, refunded, order.status_id)
            changed.append(current.get(order.order_id) != values)
            current[order.order_id] = values
            entries[order.order_id] = LedgerEntry(
                store=store,
                order_id=order.order_id,
                customer_key=key,
                order_date=order.order_date,
                gross_total=gross,
                refunded_amount=refunded,
                net_total=max(r.money(facts.gross_total - facts.refunded_amount), r.ZERO),
                status_id=order.status_id,
                counted=r.order_counts(facts, rules=rules),
                currency=order.currency or "",
            )
        LedgerEntry.objects.bulk_create(
            list(entries.values()),
            update_conflicts=True,
            unique_fields=["store", "order_id"],
            update_fields=[
                "customer_key",
                "order_date",
                "gross_total",
                "refunded_amount",
                "net_total",
                "status_id",
                "counted",
                "currency",
                "updated_at",
            ],
        )
        _values_refresh_many(rows=list(rows.values()), store=store, rules=rules, now=now)
    return changed


def _values_rows_locked(*, store: Store, customer_keys: Iterable[str]) -> dict[str, CustomerValues]:
    """The customers' rows, locked in key order (created when missing), by customer key."""
    keys = sorted(set(customer_keys))
    existing = set(
        CustomerValues.objects.filter(store=store, customer_key__in=keys).values_list("customer_key", flat=True)
    )
    # Only the missing ones are inserted (a conflicting insert still spends an id on PostgreSQL);
    # one created meanwhile by another worker is ignored, and locked below like the others.
    missing = [CustomerValues(store=store, customer_key=key) for key in keys if key not in existing]
    CustomerValues.objects.bulk_create(missing, ignore_conflicts=True)
    locked = CustomerValues.objects.select_for_update().filter(store=store, customer_key__in=keys)
    return {row.customer_key: row for row in locked.order_by("customer_key")}


def _values_refresh_many(*, rows: list[CustomerValues], store: Store, rules: r.Rules, now: datetime) -> None:
    """``_values_refresh`` for several customers: one read of their ledgers, one update statement."""
    orders: dict[str, list[r.OrderFacts]] = {row.customer_key: [] for row in rows}
    ledger = LedgerEntry.objects.filter(store=store, customer_key__in=list(orders)).values_list(
        "customer_key", "order_id", "order_date", "gross_total", "refunded_amount", "status_id"
    )
    for key, order_id, order_date, gross, refunded, status_id in ledger:
        orders[key].append(r.OrderFacts(order_id, order_date, Decimal(gross), Decimal(refunded), int(status_id)))
    edges = _edges_for(store=store, rules=rules, now=now)
    today = _today(store=store, now=now)
    recorded = timezone.now()
    for row in rows:
        facts = r.customer_facts(orders[row.customer_key], rules=rules, tz=store.tz)
        _derived_apply(row, r.derive(facts, rules=rules, edges=edges, today=today))
        row.computed_at = now
        row.recorded_at = recorded
    # The rows exist (locked): an upsert is a plain multi-row update, far cheaper to build than
    # bulk_update's CASE WHEN per column and row.
    columns = [*DERIVED_COLUMNS, "recorded_at"]
    CustomerValues.objects.bulk_create(
        # New instances without the id: the customer key alone decides which row is updated.
        [
            CustomerValues(store=store, customer_key=row.customer_key, **{c: getattr(row, c) for c in columns})
            for row in rows
        ],
        update_conflicts=True,
        unique_fields=["store", "customer_key"],
        update_fields=columns,
        batch_size=WRITE_BATCH,
    )


@dataclass(frozen=True)
class AccountSettled:
    """How an order sync left its customer's Account analytics (for the audit entry)."""

    corrections: int  # Account PATCHes sent after the order's own write
    settled: bool  # the Account holds the full ledger's values, as far as b2s can know
    note: str = ""  # why not, when not

    def details(self) -> dict[str, Any]:
        details: dict[str, Any] = {"corrections": self.corrections, "settled": self.settled}
        if self.note:
            details["note"] = self.note
        return details


def account_fields_settle(
    *,
    store: Store,
    customer_key: str,
    sent: dict[str, Any] | None,
    account_id: str = "",
    now: datetime | None = None,
) -> AccountSettled:
    """After an order sync's write landed, make the Account's analytics equal the full ledger's.

    ``sent`` is the ``customer_account_fields`` result the caller's request carried, called once
    Salesforce has answered (so the write is applied); ``None`` when nothing was sent although the
    ledger changed (an order whose Salesforce records need no change): what was last pushed is
    compared then. Under the customer's row lock the values are computed from the full ledger:
    equal to what the Account holds, they are remembered as pushed (no request, the common case);
    different, one PATCH of the Account (by ``account_id``, else by external id) sends them and
    the check repeats, at most ``SETTLE_CORRECTIONS_MAX`` times. Beyond that, or when a correction fails,
    what was pushed is marked unknown (``pushed_values`` = None) and the daily recompute, or the
    customer's next order, sends the values.

    Why the last write to the Account carries the full ledger's values: every order sync commits
    its ledger row BEFORE it computes what it sends, and checks AFTER Salesforce applied its write
    (its graph or a correction). Take the last analytics write W to the Account, by sync S (two
    workers A and B: whichever of their writes lands last). S's check ran after W was applied;
    a ledger change committed after that check comes from a sync that computes and writes after
    it, so later than W: there is none, S's check saw the final ledger, and since W is the last
    write S found nothing to correct: the Account holds the final ledger's values. Exceptions: a
    sync whose Salesforce request failed wrote nothing (its retry or the recompute repairs, and
    nothing claims its values were pushed), and the bound above.

    Why ``pushed_values`` stays honest: each check and its recording happen under the customer's
    row lock, which every ledger recording takes first; so recordings follow the order of checks,
    the last check saw the final ledger, and what it records is what the last write carried.
    """
    corrections = 0
    while True:
        with transaction.atomic():
            row = _values_row_locked(store=store, customer_key=customer_key)
            current = customer_account_fields(store=store, customer_key=customer_key, now=now)
            held = r.fields_wire(sent) if sent is not None else row.pushed_values
            if not r.fields_changed(current, held):
                if sent is not None:
                    _pushed_record(row, sent)
                return AccountSettled(corrections=corrections, settled=True)
            if corrections >= SETTLE_CORRECTIONS_MAX:
                note = (
                    f"the ledger still changed after {corrections} corrections: "
                    "left to the next order of this customer or the daily recompute"
                )
                _pushed_forget(row)
                logger.warning("Account analytics of %s not settled: %s", customer_key, note)
                return AccountSettled(corrections=corrections, settled=False, note=note)
        corrections += 1
        logger.info("Account analytics of %s changed while its order was sent: correcting", customer_key)
        try:
            _account_patch(customer_key=customer_key, account_id=account_id, fields=current)
        except SalesforceError as error:
            note = f"correction failed ({error.code or error.status}): left to the daily recompute"
            with transaction.atomic():
                _pushed_forget(_values_row_locked(store=store, customer_key=customer_key))
            logger.warning("Account analytics of %s not settled: %s", customer_key, note)
            return AccountSettled(corrections=corrections, settled=False, note=note)
        sent = current


@dataclass(frozen=True)
class SettleCheck:
    """One ``account_fields_settle`` call of a batch: its customer, what was sent (None: nothing), the Account."""

    customer_key: str
    sent: dict[str, Any] | None
    account_id: str = ""


def accounts_fields_settle(
    *, store: Store, checks: Sequence[SettleCheck], now: datetime | None = None
) -> list[AccountSettled]:
    """``account_fields_settle`` for each check of a batch, as if called in sequence: the result of each.

    Why: a backfill batch settles hundreds of customers; one by one that is a transaction, a lock,
    a ledger read and a save each. Here the customers' rows are locked together (in key order, as
    ``ledger_orders_record`` takes them), their values computed from one read of their ledgers,
    and the checks that find the Account equal to the ledger (the common case: no request) are
    recorded together, all under the locks, so the reasoning of ``account_fields_settle`` holds.
    A check that needs a correction, and every later check of its customer, goes through
    ``account_fields_settle`` itself once the batch's locks are released (it sends requests).
    """
    if not checks:
        return []
    settled: list[AccountSettled | None] = [None] * len(checks)
    later: list[int] = []
    with transaction.atomic():
        rows = _values_rows_locked(store=store, customer_keys={check.customer_key for check in checks})
        current = customers_account_fields(store=store, customer_keys=list(rows), now=now)
        deferred: set[str] = set()
        recorded: dict[str, CustomerValues] = {}
        for index, check in enumerate(checks):
            key = check.customer_key
            row = rows[key]
            held = r.fields_wire(check.sent) if check.sent is not None else row.pushed_values
            if key in deferred or r.fields_changed(current[key], held):
                deferred.add(key)
                later.append(index)
                continue
            if check.sent is not None:
                row.pushed_values = {**(row.pushed_values or {}), **r.fields_wire(check.sent)}
                recorded[key] = row
            settled[index] = AccountSettled(corrections=0, settled=True)
        stamp = timezone.now()
        # The rows exist (locked): one multi-row upsert by customer key updates them all.
        CustomerValues.objects.bulk_create(
            [
                CustomerValues(
                    store=store, customer_key=key, pushed_values=row.pushed_values, pushed_at=stamp, recorded_at=stamp
                )
                for key, row in recorded.items()
            ],
            update_conflicts=True,
            unique_fields=["store", "customer_key"],
            update_fields=["pushed_values", "pushed_at", "recorded_at"],
            batch_size=WRITE_BATCH,
        )
    for index in later:
        check = checks[index]
        settled[index] = account_fields_settle(
            store=store, customer_key=check.customer_key, sent=check.sent, account_id=check.account_id, now=now
        )
    return [result for result in settled if result is not None]


def _account_patch(*, customer_key: str, account_id: str, fields: dict[str, Any]) -> None:
    """One PATCH of the Account's analytics fields: by id when known, else by external id."""
    path = (
        f"sobjects/Account/{account_id}"
        if account_id
        else f"sobjects/Account/{ACCOUNT_EXTERNAL_ID}/{quote(customer_key, safe='')}"
    )
    salesforce_client().request("PATCH", path, json=fields)


def _pushed_record(row: CustomerValues, fields: dict[str, Any]) -> None:
    row.pushed_values = {**(row.pushed_values or {}), **r.fields_wire(fields)}
    row.pushed_at = row.recorded_at = timezone.now()
    row.save(update_fields=["pushed_values", "pushed_at", "recorded_at"])


def _pushed_forget(row: CustomerValues) -> None:
    # Unknown is honest: the daily recompute compares with nothing and sends the values.
    row.pushed_values = None
    row.pushed_at = row.recorded_at = timezone.now()
    row.save(update_fields=["pushed_values", "pushed_at", "recorded_at"])


def _values_row_locked(*, store: Store, customer_key: str) -> CustomerValues:
    row = CustomerValues.objects.select_for_update().filter(store=store, customer_key=customer_key).first()
    if row is not None:
        return row
    try:
        with transaction.atomic():
            return CustomerValues.objects.create(store=store, customer_key=customer_key)
    except IntegrityError:
        return CustomerValues.objects.select_for_update().get(store=store, customer_key=customer_key)


def _derived_apply(row: CustomerValues, derived: r.Derived) -> bool:
    """Copy the derived values onto the row; True when any changed."""
    values = {
        "clv": derived.clv,
        "total_orders": derived.total_orders,
        "average_order_value": derived.average_order_value,
        "last_order_date": derived.last_order_date,
        "tier": derived.tier,
        "recency_score": derived.recency_score,
        "frequency_score": derived.frequency_score,
        "monetary_score": derived.monetary_score,
        "rfm_score": derived.rfm_score,
        "segment": derived.segment,
        "tags": derived.tags_text,
    }
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


DERIVED_COLUMNS = (
    "clv",
    "total_orders",
    "average_order_value",
    "last_order_date",
    "tier",
    "recency_score",
    "frequency_score",
    "monetary_score",
    "rfm_score",
    "segment",
    "tags",
    "computed_at",
)


def _values_refresh(*, row: CustomerValues, store: Store, rules: r.Rules, now: datetime) -> None:
    orders = _customer_orders(store=store, customer_key=row.customer_key)
    facts = r.customer_facts(orders, rules=rules, tz=store.tz)
    derived = r.derive(
        facts, rules=rules, edges=_edges_for(store=store, rules=rules, now=now), today=_today(store=store, now=now)
    )
    _derived_apply(row, derived)
    row.computed_at = now
    # Wall-clock times (``now`` may be a logical date): the recompute compares them with its start.
    row.recorded_at = timezone.now()
    row.save(update_fields=[*DERIVED_COLUMNS, "recorded_at"])


# ---------------------------------------------------------------------------------------------
# The daily recompute
# ---------------------------------------------------------------------------------------------
@dataclass
class CustomerChange:
    """One Account whose analytics fields differ from what Salesforce was last sent."""

    store_hash: str
    customer_key: str
    before: dict[str, Any]
    after: dict[str, Any]


@dataclass
class RecomputeResult:
    """What one recompute did, for the audit entry, the command's output and the task's result."""

    dry_run: bool = False
    stores: int = 0
    customers: int = 0
    values_updated: int = 0  # stored derived rows that changed
    ledger_rows_recounted: int = 0  # ledger rows whose `counted` followed a status-rule edit
    changed: int = 0  # Accounts whose fields differ from the last push
    pushed: int = 0
    failed: int = 0
    requests: int = 0  # Salesforce requests made
    method: str = ""  # "collections", "bulk", or "" when nothing was sent
    bulk_jobs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    changes: list[CustomerChange] = field(default_factory=list)
    held: str = ""  # why the changed Accounts were not sent (the API-budget guard): the next run sends them
    duration_ms: int = 0

    def summary(self) -> dict[str, Any]:
        """The counts (no per-customer detail), as stored in the audit entry."""
        return {
            "dry_run": self.dry_run,
            "stores": self.stores,
            "customers": self.customers,
            "values_updated": self.values_updated,
            "ledger_rows_recounted": self.ledger_rows_recounted,
            "changed": self.changed,
            "pushed": self.pushed,
            "failed": self.failed,
            "requests": self.requests,
            "method": self.method,
            "bulk_jobs": self.bulk_jobs,
            "errors": self.errors,
            "duration_ms": self.duration_ms,
            **({"held": self.held} if self.held else {}),
        }

    def error_add(self, message: str) -> None:
        """Keep an error for the report (the first few; third-party text redacted)."""
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(redact(message)[:500])


@dataclass
class _Pending:
    row: CustomerValues  # saved before the push, so its primary key is known then
    customer_key: str
    wire: dict[str, Any]  # the full set of current fields, JSON-safe
    record: dict[str, Any]  # the Salesforce record


def analytics_recompute(
    *,
    store: Store | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    progress: ProgressCallback | None = None,
) -> RecomputeResult:
    """Recompute every customer's values from the ledger and push the Accounts that changed.

    Stores: ``store`` or every active store. Changed Accounts go in sObject Collections of
    200 (one request each), or in one Bulk API 2.0 job when more changed than the
    ``analytics_bulk_min_changes`` threshold. Pushed values are remembered; failures are
    counted and retried by the next run. One audit entry records the counts. With
    ``dry_run`` nothing is written or sent: the result says what would change.
    """
    started = time.monotonic()
    now = now or timezone.now()
    started_at = timezone.now()
    result = RecomputeResult(dry_run=dry_run)
    rules = rules_current()
    stores = [store] if store is not None else list(stores_active())
    pending: list[_Pending] = []
    for current in stores:
        result.stores += 1
        pending += _store_recompute(
            store=current,
            rules=rules,
            now=now,
            dry_run=dry_run,
            result=result,
            progress=progress,
            started_at=started_at,
        )
    result.changed = len(pending)
    if pending and not dry_run and rules.fields_enabled():
        guard = api_budget_status()
        if guard.paused:
            # Values stay computed and unpushed (pushed_values unchanged): the next run sends them.
            result.held = guard.reason
        else:
            _push(pending, result=result, started_at=started_at, progress=progress)
    result.duration_ms = int((time.monotonic() - started) * 1000)
    if not dry_run:
        _audit(result=result, store=store)
    logger.info(
        "Analytics recompute: %s customers, %s changed, %s pushed, %s failed, %s requests%s%s",
        result.customers,
        result.changed,
        result.pushed,
        result.failed,
        result.requests,
        " (dry run)" if dry_run else "",
        f"; not sent: {result.held}" if result.held else "",
    )
    return result


def _store_recompute(
    *,
    store: Store,
    rules: r.Rules,
    now: datetime,
    dry_run: bool,
    result: RecomputeResult,
    progress: ProgressCallback | None,
    started_at: datetime,
) -> list[_Pending]:
    facts, stale = _store_facts(store=store, rules=rules)
    today = _today(store=store, now=now)
    edges: r.QuintileEdges | None = None
    if rules.rfm_mode == r.RFM_QUINTILE:
        # Recomputed on every run, so the daily schedule keeps quintiles current.
        edges = r.quintile_edges(facts.values(), today=today)
        if not dry_run:
            _edges_save(store=store, edges=edges, customers=sum(1 for f in facts.values() if f.total_orders), now=now)
    if stale and not dry_run:
        _counted_update(stale)
    result.ledger_rows_recounted += len(stale)

    rows = {row.customer_key: row for row in CustomerValues.objects.filter(store=store)}
    keys = sorted(facts.keys() | rows.keys())
    empty = r.CustomerFacts(clv=r.ZERO, total_orders=0, last_order_date=None)
    to_create: list[CustomerValues] = []
    to_update: list[CustomerValues] = []
    pending: list[_Pending] = []
    for index, key in enumerate(keys, start=1):
        derived = r.derive(facts.get(key, empty), rules=rules, edges=edges, today=today)
        row = rows.get(key)
        if row is None:
            row = CustomerValues(store=store, customer_key=key, computed_at=now)
            _derived_apply(row, derived)
            to_create.append(row)
        elif row.recorded_at is not None and row.recorded_at >= started_at:
            # An order sync refreshed (and pushed) this customer while we ran: its values are fresher.
            continue
        elif _derived_apply(row, derived):
            row.computed_at = now
            to_update.append(row)
        fields = r.account_fields(derived, rules=rules)
        diff = r.fields_changed(fields, row.pushed_values)
        if diff:
            wire = r.fields_wire(fields)
            if len(result.changes) < MAX_CHANGES_KEPT:
                before = {name: (row.pushed_values or {}).get(name) for name in diff}
                result.changes.append(CustomerChange(store.store_hash, key, before, diff))
            pending.append(_Pending(row=row, customer_key=key, wire=wire, record=_record(key, fields)))
        if progress and (index % 500 == 0 or index == len(keys)):
            progress(f"recompute {store.store_hash}", index, len(keys))
    result.customers += len(keys)
    result.values_updated += len(to_create) + len(to_update)
    if not dry_run:
        with transaction.atomic():
            CustomerValues.objects.bulk_create(to_create, batch_size=WRITE_BATCH)
            _rows_update(to_update, DERIVED_COLUMNS, unless_recorded_since=started_at)
    return pending


def _counted_update(stale: list[tuple[int, bool]]) -> None:
    with transaction.atomic():
        for counts in (True, False):
            ids = [row_id for row_id, value in stale if value is counts]
            for start in range(0, len(ids), WRITE_BATCH):
                LedgerEntry.objects.filter(pk__in=ids[start : start + WRITE_BATCH]).update(counted=counts)


def _record(customer_key: str, fields: dict[str, Any]) -> dict[str, Any]:
    """A Collections record: money as JSON numbers at the wire only."""
    record: dict[str, Any] = {"attributes": {"type": "Account"}, ACCOUNT_EXTERNAL_ID: customer_key}
    for name, value in fields.items():
        record[name] = float(r.money(value)) if isinstance(value, Decimal) else value
    return record


def _bulk_row(customer_key: str, wire: dict[str, Any]) -> dict[str, str]:
    """A Bulk API 2.0 CSV row: an empty cell leaves a field unchanged, ``#N/A`` clears it."""
    row = {ACCOUNT_EXTERNAL_ID: customer_key}
    for name, value in wire.items():
        row[name] = "#N/A" if value is None or value == "" else str(value)
    return row


def _push(
    pending: list[_Pending],
    *,
    result: RecomputeResult,
    started_at: datetime,
    progress: ProgressCallback | None,
) -> None:
    threshold = int(config.threshold(BULK_THRESHOLD_KEY))
    raced = _recorded_since(pending, started_at=started_at)
    if raced:
        # An order sync recorded (and sent) these customers while we computed: ours are older.
        keys = {item.customer_key for item in pending if item.row.pk in raced}
        pending = [item for item in pending if item.row.pk not in raced]
        result.changes = [change for change in result.changes if change.customer_key not in keys]
        result.changed -= len(raced)
    if not pending:
        return
    succeeded: list[_Pending] = []
    with salesforce_calls_counted() as counter:
        if len(pending) > threshold:
            result.method = "bulk"
            succeeded = _push_bulk(pending, result=result)
        else:
            result.method = "collections"
            succeeded = _push_collections(pending, result=result, progress=progress)
    result.requests += counter.count
    result.pushed += len(succeeded)
    result.failed += len(pending) - len(succeeded)
    _pushed_remember(succeeded, started_at=started_at)


def _recorded_since(pending: list[_Pending], *, started_at: datetime) -> set[int]:
    ids = [item.row.pk for item in pending]
    raced: set[int] = set()
    for start in range(0, len(ids), WRITE_BATCH):
        raced.update(
            CustomerValues.objects.filter(
                pk__in=ids[start : start + WRITE_BATCH], recorded_at__gte=started_at
            ).values_list("pk", flat=True)
        )
    return raced


def _push_collections(
    pending: list[_Pending], *, result: RecomputeResult, progress: ProgressCallback | None
) -> list[_Pending]:
    client = salesforce_client()
    succeeded: list[_Pending] = []
    chunks = math.ceil(len(pending) / COLLECTIONS_CHUNK)
    for number in range(chunks):
        chunk = pending[number * COLLECTIONS_CHUNK : (number + 1) * COLLECTIONS_CHUNK]
        try:
            answers = client.collections_upsert(
                "Account", ACCOUNT_EXTERNAL_ID, [item.record for item in chunk], all_or_none=False
            )
        except SalesforceError as error:
            # A whole-request failure (network, limits, login) will hit the next chunks too:
            # stop here; the unsent Accounts stay "changed" and go with the next run.
            result.error_add(f"{error.code or error.status}: {error.message}")
            logger.warning("Analytics push stopped at chunk %s of %s: %s", number + 1, chunks, error.code)
            break
        for item, answer in zip(chunk, answers, strict=False):
            if answer.get("success"):
                succeeded.append(item)
            else:
                errors = answer.get("errors") or [{}]
                first = errors[0]
                result.error_add(f"{item.customer_key}: {first.get('statusCode', '')} {first.get('message', '')}")
        if progress:
            progress("push", min((number + 1) * COLLECTIONS_CHUNK, len(pending)), len(pending))
    return succeeded


def _push_bulk(pending: list[_Pending], *, result: RecomputeResult) -> list[_Pending]:
    client = salesforce_client()
    rows = [_bulk_row(item.customer_key, item.wire) for item in pending]
    try:
        answers = client.bulk_upsert("Account", ACCOUNT_EXTERNAL_ID, rows, poll_seconds=BULK_POLL_SECONDS)
        failed_keys: set[str] = set()
        for answer in answers:
            job_id = answer["job_id"]
            result.bulk_jobs.append(job_id)
            if int(answer.get("numberRecordsFailed") or 0):
                failed_keys |= _bulk_keys(client.bulk_failed_records("Account", job_id), result=result)
            if int(answer.get("numberRecordsProcessed") or 0) < int(answer.get("numberRecordsTotal") or 0):
                failed_keys |= _bulk_keys(client.bulk_unprocessed_records("Account", job_id), result=None)
    # simple-salesforce raises its own exception types (and requests' ones) from bulk2; whatever
    # the cause, the job's Accounts stay "changed" and the next run sends them again.
    except Exception as error:
        result.error_add(f"bulk job failed: {type(error).__name__}: {str(error)[:300]}")
        logger.warning("Analytics bulk push failed: %s", type(error).__name__)
        return []
    return [item for item in pending if item.customer_key not in failed_keys]


def _bulk_keys(text: str, *, result: RecomputeResult | None) -> set[str]:
    keys: set[str] = set()
    for row in csv.DictReader(io.StringIO(text or "")):
        key = row.get(ACCOUNT_EXTERNAL_ID) or ""
        keys.add(key)
        if result is not None:
            result.error_add(f"{key}: {row.get('sf__Error', '')}")
    return keys


def _pushed_remember(succeeded: Iterable[_Pending], *, started_at: datetime) -> None:
    """Store what Salesforce now holds for each Account pushed."""
    items = list(succeeded)
    pushed_at = timezone.now()
    by_id = {item.row.pk: item for item in items}
    with transaction.atomic():
        for start in range(0, len(items), WRITE_BATCH):
            ids = [item.row.pk for item in items[start : start + WRITE_BATCH]]
            rows = list(CustomerValues.objects.filter(pk__in=ids).only("id", "pushed_values", "recorded_at"))
            for row in rows:
                if row.recorded_at is not None and row.recorded_at >= started_at:
                    # An order sync wrote this Account while we pushed; which write landed last is
                    # unknown, so forget the state and let the next run send the values again.
                    row.pushed_values = None
                else:
                    row.pushed_values = {**(row.pushed_values or {}), **by_id[row.pk].wire}
                row.pushed_at = pushed_at
            _rows_update(rows, ("pushed_values", "pushed_at"))


def _rows_update(
    rows: list[CustomerValues], columns: Iterable[str], *, unless_recorded_since: datetime | None = None
) -> None:
    """UPDATE each row's ``columns`` by primary key in one executemany.

    With ``unless_recorded_since``, rows an order sync recorded after that moment keep the
    order sync's (fresher) values.

    ``bulk_update`` builds a CASE expression per column and row, which costs seconds for a
    few thousand rows; a prepared statement run per row costs milliseconds. Values are
    adapted by the fields themselves, so JSON and datetimes are stored as the ORM would.
    """
    if not rows:
        return
    meta = CustomerValues._meta
    fields: list[models.Field[Any, Any]] = []
    for name in columns:
        column = meta.get_field(name)
        if not isinstance(column, models.Field):  # a reverse relation or generic key is no column to set
            raise ValueError(f"{name} is not a column of {meta.db_table}")
        fields.append(column)
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
    guard: list[Any] = []
    if unless_recorded_since is not None:
        recorded = meta.get_field("recorded_at")
        sql += f" AND ({quote(recorded.column)} IS NULL OR {quote(recorded.column)} < %s)"
        guard = [recorded.get_db_prep_save(unless_recorded_since, connection)]
    params = [
        [*(field.get_db_prep_save(getattr(row, field.attname), connection) for field in fields), row.pk, *guard]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _audit(*, result: RecomputeResult, store: Store | None) -> None:
    audit_record(
        operation=AuditLog.Operation.ANALYTICS_RECOMPUTE,
        store=store,
        bigcommerce_id="",
        status=AuditLog.Status.FAILED if result.failed else AuditLog.Status.SUCCESS,
        error="; ".join(result.errors[:3]) if result.failed else "",
        duration_ms=result.duration_ms,
        salesforce_api_calls=result.requests,
        details=result.summary(),
    )
