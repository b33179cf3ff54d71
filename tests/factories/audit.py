"""Factories of the audit app: what one sync did."""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from audit.models import AuditLog

from .sync import StoreFactory


class AuditLogFactory(DjangoModelFactory[AuditLog]):
    """A successful order sync of one order."""

    class Meta:
        model = AuditLog

    operation = AuditLog.Operation.ORDER_SYNC
    store = factory.SubFactory(StoreFactory)
    bigcommerce_id = factory.Sequence(lambda n: str(100 + n))
    status = AuditLog.Status.SUCCESS
