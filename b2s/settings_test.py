"""Settings for the test suite: the real settings with a throw-away secret key."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-suite-only-" + "x" * 40)

from b2s.settings import *  # noqa: F403
