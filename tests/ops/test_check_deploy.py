"""``manage.py check --deploy`` is clean under production settings behind a TLS proxy."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

PROJECT_DIR = Path(__file__).resolve().parents[2]
CHECK = "from django.core.management import call_command; call_command('check', '--deploy', '--fail-level', 'WARNING')"


def deploy_check(**overrides: str) -> subprocess.CompletedProcess[str]:
    """The deploy check in a fresh process (settings are read once, at start-up) with production variables."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "SECURE_", "SALESFORCE_", "AXES_")) and name != "DEBUG"
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="b2s.settings",
        DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="b2s.example.com",
        CSRF_TRUSTED_ORIGINS="https://b2s.example.com",
        BEHIND_TLS_PROXY="true",
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        # Credentials make this a production run, not the sandbox; the check logs in nowhere.
        SALESFORCE_CLIENT_ID="deploy-check-client-id",
        SALESFORCE_CLIENT_SECRET="deploy-check-client-secret",
    )
    environment.update(overrides)
    code = f"import django; django.setup(); {CHECK}"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_DIR, env=environment, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_behind_a_tls_proxy():
    result = deploy_check()
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_still_clean_with_preload_opted_in():
    result = deploy_check(SECURE_HSTS_PRELOAD="true")
    assert result.returncode == 0, result.stderr


def test_check_deploy_warns_without_tls():
    # The same settings served over plain HTTP: the check must say so (it is not silenced wholesale).
    result = deploy_check(BEHIND_TLS_PROXY="false")
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr
