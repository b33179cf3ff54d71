"""Settings for the test suite: the real settings with a throw-away secret key."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-suite-only-" + "x" * 40)

from b2s.settings import *  # noqa: F403

# Every test client posts from 127.0.0.1 into one cache that outlives a test: without this, the suite's own
# refused deliveries would trip the failed-authentication throttle. Its tests set a low limit themselves.
WEBHOOK_AUTH_FAILURE_LIMIT = 1_000_000
