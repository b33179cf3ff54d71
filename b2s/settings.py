"""Django settings for b2s, read once from the environment and an optional ``.env`` file.

Every variable is listed, with its default, in the README's configuration table.
Business configuration (feature flags, thresholds, mappings) is not here: admins
edit it in the Django admin and code reads it through ``sync.config``.
"""

from __future__ import annotations

import os
import warnings
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
    "rest_framework",
    "django_q",
    "sync",
    "analytics",
    "recovery",
    "audit",
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

STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

SALESFORCE = env_parse.salesforce_config(os.environ, base_dir=BASE_DIR)
BIGCOMMERCE_CA_BUNDLE = env.str("BIGCOMMERCE_CA_BUNDLE", default="")
SANDBOX_TLS_DIR = env.str("SANDBOX_TLS_DIR", default=str(BASE_DIR / ".sandbox" / "tls"))

WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=64 * 1024)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=5)
# Retries: exponential backoff with jitter from the base, capped; BigCommerce's reset time wins when longer.
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=30.0)
WEBHOOK_RETRY_MAX_SECONDS = env.float("WEBHOOK_RETRY_MAX_SECONDS", default=3600.0)
# The sweep re-queues pending events older than this, and processing ones whose worker died (lease expired).
WEBHOOK_REQUEUE_SECONDS = env.int("WEBHOOK_REQUEUE_SECONDS", default=120)
WEBHOOK_STALE_SECONDS = env.int("WEBHOOK_STALE_SECONDS", default=Q_CLUSTER["timeout"] + 60)
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=90)
# How often each process checks whether an admin changed the configuration.
CONFIG_CHECK_SECONDS = env.float("CONFIG_CHECK_SECONDS", default=2.0)

if not DEBUG:
    SESSION_COOKIE_HTTPONLY = True
    X_FRAME_OPTIONS = "DENY"
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", False) else None
    SESSION_COOKIE_SECURE = env.bool("BEHIND_TLS_PROXY", default=False)
    CSRF_COOKIE_SECURE = env.bool("BEHIND_TLS_PROXY", default=False)

from b2s.logging import logging_config  # noqa: E402

LOGGING = logging_config(
    level=env.str("LOG_LEVEL", default="INFO"),
    json_lines=env.str("LOG_FORMAT", default="text").lower() == "json",
    log_dir=env.str("LOG_DIR", default=""),
)
