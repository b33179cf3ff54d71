"""Logging: console always, JSON lines on request, rotated files when ``LOG_DIR`` is set.

Every handler carries :class:`SecretRedactingFilter`, so a token or password that
reaches a log message, an argument or a traceback is masked before it is written.
"""

from __future__ import annotations

import logging
import re
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pythonjsonlogger.json import JsonFormatter

MASK = "***"

# key=value, "key": "value" and header-like spellings of secret-bearing names.
_SECRET_KEY_PATTERN = re.compile(
    r"""(?P<key>["']?(?:access_token|refresh_token|client_secret|secret|password|passwd|security_token|"""
    r"""token|api_key|x-auth-token|authorization|webhook-signature|x-bc-webhook-signature|assertion|"""
    r"""session_id|sid)["']?\s*[:=]\s*)(?P<quote>["']?)(?P<value>[^\s"',&}]+)""",
    re.IGNORECASE,
)
_BEARER_PATTERN = re.compile(r"(?P<prefix>\b(?:Bearer|OAuth)\s+)[A-Za-z0-9._~+/!=-]+", re.IGNORECASE)

_known_secrets: set[str] = set()
_known_lock = threading.Lock()


def secret_register(value: str | None) -> None:
    """Remember a secret value so it is masked wherever it appears in a log record."""
    # Very short values would mask ordinary words; real secrets are long.
    if value and len(value) >= 6:
        with _known_lock:
            _known_secrets.add(value)


def redact(text: str) -> str:
    """Mask every known secret and every secret-looking key/value in ``text``."""
    with _known_lock:
        secrets = sorted(_known_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _BEARER_PATTERN.sub(lambda m: m.group("prefix") + MASK, text)
    return _SECRET_KEY_PATTERN.sub(lambda m: m.group("key") + m.group("quote") + MASK, text)


class SecretRedactingFilter(logging.Filter):
    """Rewrites the record's message (with its arguments) and traceback text, redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
            record.exc_info = None
        return True


class JsonLinesFormatter(JsonFormatter):
    """One JSON object per line (python-json-logger): time, level, logger, message, any ``extra`` fields."""

    def __init__(self) -> None:
        super().__init__(
            # A sequence of fields: their order is the line's, and no %-format is parsed.
            ["asctime", "levelname", "name", "message"],
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger", "exc_info": "exception"},
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        # UTC ISO 8601 to the millisecond, whatever the host's time zone.
        return datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        # An extra field that is not a scalar is written as its repr: a log line never fails on an odd value.
        return {
            key: value if isinstance(value, str | int | float | bool | None) else repr(value)
            for key, value in log_data.items()
        }

    def jsonify_log_record(self, log_data: dict[str, Any]) -> str:
        # The filter redacted the message; extra fields and the exception text are redacted here too.
        return redact(super().jsonify_log_record(log_data))


def logging_config(*, level: str, json_lines: bool, log_dir: str) -> dict[str, Any]:
    """The ``LOGGING`` dict for Django."""
    formatter = "json" if json_lines else "text"
    handlers: dict[str, dict[str, Any]] = {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": formatter,
            "filters": ["redact"],
        }
    }
    if log_dir:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        for name, file_name, handler_level in (("file", "b2s.log", "NOTSET"), ("errors", "error.log", "ERROR")):
            handlers[name] = {
                "class": "logging.handlers.RotatingFileHandler",
                "filename": str(Path(log_dir) / file_name),
                "maxBytes": 10 * 1024 * 1024,
                "backupCount": 5,
                "encoding": "utf-8",
                "formatter": formatter,
                "filters": ["redact"],
                "level": handler_level,
            }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": "b2s.logging.SecretRedactingFilter"}},
        "formatters": {
            "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
            "json": {"()": "b2s.logging.JsonLinesFormatter"},
        },
        "handlers": handlers,
        "root": {"handlers": list(handlers), "level": level.upper()},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            "urllib3": {"level": "WARNING"},
        },
    }
