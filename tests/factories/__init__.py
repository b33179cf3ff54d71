"""factory-boy factories for the model rows tests build, one module per app under test.

One shared package rather than ``tests/<area>/factories.py``: a Store is needed by every test area
(analytics, intake, ops, orders, recovery) and tests/ops builds rows of every app, so per-area
modules would import each other across areas. One module per app keeps the apps' own layering
(sync < audit < analytics < orders < recovery): a factory reaches only the factories of apps below it.
``auth`` builds Django's users (staff, superusers, users with given permissions), below them all.

Helpers that build BigCommerce or Salesforce payloads (not model rows) stay beside their tests.
"""
