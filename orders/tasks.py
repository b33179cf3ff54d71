"""django-q2 entry points of the order feature: thin, each calls a service."""

from __future__ import annotations

from orders.writeback import salesforce_orders_poll


def salesforce_orders_poll_task() -> None:
    """Every minute: read the Orders changed in Salesforce into the inbox (when a write-back flag is on and due)."""
    salesforce_orders_poll()
