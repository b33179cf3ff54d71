"""Django settings for b2s, read once from the environment and an optional ``.env`` file.

Every variable is listed, with its default, in the README's configuration table.
Business configuration (feature flags, thresholds, mappings) is not here: admins
edit it in the Django admin and code reads it through ``sync.config``.
"""

from __future__ import annotations

import os
import warnings
from datetime import timedelta
from pathlib import Path

import environ

from b2s import env as env_parse

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env_parse.secret_key_resolve(secret_key=env.str("DJANGO_SECRET_KEY", default=""), debug=DEBUG)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "rest_framework",
    "django_q",
    "sync",
    "audit",
    "analytics",
    "orders",
    "recovery",
    "ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
]

# Admin login lockout (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one username from one
# address, that pair is refused (even with the right password) for AXES_COOLOFF_MINUTES.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("AXES_COOLOFF_MINUTES", default=15.0))
# Username and address together: a guesser cannot lock a colleague out from elsewhere, nor try every name.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True

ROOT_URLCONF = "b2s.urls"
WSGI_APPLICATION = "b2s.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env_parse.database_config(url=env.str("DATABASE_URL", default=""), base_dir=BASE_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
FORMS_URLFIELD_ASSUME_HTTPS = True  # Django 6 behaviour now: a scheme-less URL means https
# Opting in early is the point of this transitional setting; its own notice is noise.
warnings.filterwarnings("ignore", message="The FORMS_URLFIELD_ASSUME_HTTPS transitional setting is deprecated")

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

Q_CLUSTER = env_parse.q_cluster_config(
    redis_url=REDIS_URL,
    workers=env.int("Q_WORKERS", default=2),
    timeout=env.int("Q_TIMEOUT", default=300),
    retry=env.int("Q_RETRY", default=600),
    max_rss_mb=env.int("Q_MAX_RSS_MB", default=150),
)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
# Times to the second with their zone in the admin (b2s/formats/en/formats.py).
FORMAT_MODULE_PATH = ["b2s.formats"]

STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

SALESFORCE = env_parse.salesforce_config(os.environ, base_dir=BASE_DIR)
# Secrets at rest (sync.fields): the first key encrypts, every key decrypts; see README "Secrets at rest".
FIELD_ENCRYPTION_KEYS = env_parse.field_encryption_keys_resolve(
    keys=env.list("FIELD_ENCRYPTION_KEYS", default=[]),
    secret_key=SECRET_KEY,
    local=DEBUG or SALESFORCE["SANDBOX"],
)
# After a webhook secret changes, the previous one is still accepted this long (BigCommerce catching up).
WEBHOOK_SECRET_GRACE_SECONDS = env.int("WEBHOOK_SECRET_GRACE_SECONDS", default=86400)
BIGCOMMERCE_CA_BUNDLE = env.str("BIGCOMMERCE_CA_BUNDLE", default="")
SANDBOX_TLS_DIR = env.str("SANDBOX_TLS_DIR", default=str(BASE_DIR / ".sandbox" / "tls"))

WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=64 * 1024)
# JSON nested deeper than this is refused (400) before it is parsed.
WEBHOOK_MAX_JSON_DEPTH = env.int("WEBHOOK_MAX_JSON_DEPTH", default=64)
# After this many failed webhook authentications from one address within the window, that address's
# further failures answer 429 with Retry-After (a correctly authenticated delivery still passes).
WEBHOOK_AUTH_FAILURE_LIMIT = env.int("WEBHOOK_AUTH_FAILURE_LIMIT", default=20)
WEBHOOK_AUTH_FAILURE_WINDOW_SECONDS = env.int("WEBHOOK_AUTH_FAILURE_WINDOW_SECONDS", default=60)
# Proxies in front of b2s that append to X-Forwarded-For; 0 takes the peer address (REMOTE_ADDR) as the sender.
WEBHOOK_TRUSTED_PROXY_COUNT = env.int("WEBHOOK_TRUSTED_PROXY_COUNT", default=0)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=5)
# Retries: exponential backoff with jitter from the base, capped; BigCommerce's reset time wins when longer.
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=30.0)
WEBHOOK_RETRY_MAX_SECONDS = env.float("WEBHOOK_RETRY_MAX_SECONDS", default=3600.0)
# The sweep re-queues pending events older than this, and processing ones whose worker died (lease expired).
WEBHOOK_REQUEUE_SECONDS = env.int("WEBHOOK_REQUEUE_SECONDS", default=120)
WEBHOOK_STALE_SECONDS = env.int("WEBHOOK_STALE_SECONDS", default=Q_CLUSTER["timeout"] + 60)
# The inbox is the queue: a stored event rings for a drain task at most once per this many seconds per
# process; a drain keeps looking for this long (at least the doorbell's interval) after it last found work,
# and runs at most WEBHOOK_DRAIN_MAX_SECONDS (inside the task timeout) before handing over to a fresh task.
WEBHOOK_DOORBELL_SECONDS = env.float("WEBHOOK_DOORBELL_SECONDS", default=1.0)
WEBHOOK_DRAIN_LINGER_SECONDS = max(
    WEBHOOK_DOORBELL_SECONDS + 0.5, env.float("WEBHOOK_DRAIN_LINGER_SECONDS", default=WEBHOOK_DOORBELL_SECONDS + 0.5)
)
WEBHOOK_DRAIN_MAX_SECONDS = env.float("WEBHOOK_DRAIN_MAX_SECONDS", default=min(60.0, Q_CLUSTER["timeout"] / 2))
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=90)
# How often each process checks whether an admin changed the configuration.
CONFIG_CHECK_SECONDS = env.float("CONFIG_CHECK_SECONDS", default=2.0)

# /health details (database, queue counts, Salesforce) for staff or a request carrying this token; empty: staff only.
HEALTH_TOKEN = env.str("HEALTH_TOKEN", default="")
# /metrics (Prometheus) for a scraper presenting this token as ``Authorization: Bearer``; empty: staff sessions only.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# Alerts (ops): e-mail through EMAIL_URL (smtp+tls://user:password@host:587, consolemail://, ...) to the admin
# setting alert_email_to; without EMAIL_URL a local run prints mail, anywhere else it goes to localhost:25.
_EMAIL = env_parse.email_config(url=env.str("EMAIL_URL", default=""), local=DEBUG or SALESFORCE["SANDBOX"])
EMAIL_BACKEND = _EMAIL["EMAIL_BACKEND"]
EMAIL_HOST = _EMAIL["EMAIL_HOST"]
EMAIL_PORT = _EMAIL["EMAIL_PORT"]
EMAIL_HOST_USER = _EMAIL["EMAIL_HOST_USER"]
EMAIL_HOST_PASSWORD = _EMAIL["EMAIL_HOST_PASSWORD"]
EMAIL_USE_TLS = _EMAIL["EMAIL_USE_TLS"]
EMAIL_USE_SSL = _EMAIL["EMAIL_USE_SSL"]
if "EMAIL_FILE_PATH" in _EMAIL:
    EMAIL_FILE_PATH = _EMAIL["EMAIL_FILE_PATH"]
# Django waits for a mail server forever by default; an alert evaluation must not.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="b2s@localhost")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
# A chat's incoming webhook (Slack, Mattermost, Teams) that receives {"text": ...}; a secret, never logged.
ALERT_WEBHOOK_URL = env_parse.alert_webhook_url_resolve(env.str("ALERT_WEBHOOK_URL", default=""))
ALERT_WEBHOOK_TIMEOUT_SECONDS = env.float("ALERT_WEBHOOK_TIMEOUT_SECONDS", default=5.0)

if not DEBUG:
    BEHIND_TLS_PROXY = env.bool("BEHIND_TLS_PROXY", default=False)
    SESSION_COOKIE_HTTPONLY = True
    X_FRAME_OPTIONS = "DENY"
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_TLS_PROXY else None
    SESSION_COOKIE_SECURE = BEHIND_TLS_PROXY
    CSRF_COOKIE_SECURE = BEHIND_TLS_PROXY
    # Behind the TLS proxy every request the proxy forwards says https, so only plain-HTTP requests that
    # bypassed it are redirected (never a webhook POST). The load balancer probes /health on the bare port.
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=BEHIND_TLS_PROXY)
    SECURE_REDIRECT_EXEMPT = [r"^health$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if BEHIND_TLS_PROXY else 0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    if not SECURE_HSTS_PRELOAD:
        # Browser preload lists take registrable domains only, submitted by the domain's owner; b2s runs on
        # a host name of someone else's domain, so preloading is that owner's decision, not a b2s default.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]

from b2s.logging import logging_config  # noqa: E402

LOGGING = logging_config(
    level=env.str("LOG_LEVEL", default="INFO"),
    json_lines=env.str("LOG_FORMAT", default="text").lower() == "json",
    log_dir=env.str("LOG_DIR", default=""),
)
