"""WSGI entry point (gunicorn b2s.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "b2s.settings")
application = get_wsgi_application()
