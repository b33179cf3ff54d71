"""Settings of the reference project: what ``startproject`` gives, plus DRF and one app.

The database comes from ``DATABASE_URL`` as b2s reads it (django-environ), with persistent
connections (``REFERENCE_CONN_MAX_AGE``, 60 s) and Django's default of no per-request health
check; SQLite gets b2s's WAL / busy-timeout / IMMEDIATE options so concurrent writers wait.
"""

import os

import environ

SECRET_KEY = "intake-reference-bench-only-" + "x" * 40
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
HMAC_KEY = os.environ.get("REFERENCE_HMAC_KEY", "bench-webhook-secret-0123456789").encode()

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework",
    "bench.intake_reference",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "bench.intake_reference.urls"
WSGI_APPLICATION = "bench.intake_reference.wsgi.application"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

DATABASES = {"default": environ.Env.db_url_config(os.environ["DATABASE_URL"])}
DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("REFERENCE_CONN_MAX_AGE", "60"))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
    }

REST_FRAMEWORK = {"UNAUTHENTICATED_USER": None}
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
