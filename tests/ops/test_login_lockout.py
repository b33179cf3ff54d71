"""Admin login lockout (django-axes): wrong passwords lock that username from that address for a while."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.utils import timezone

from tests.factories.auth import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # tests only: speed


@pytest.fixture
def admins():
    return [UserFactory(username=name, login_password=PASSWORD, superuser=True) for name in ("alice", "bob")]


def login(client, username: str, password: str, address: str = "203.0.113.7"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def logged_in(client) -> bool:
    return client.get("/admin/").status_code == 200


def test_defaults_are_five_failures_and_fifteen_minutes():
    assert django_settings.AXES_FAILURE_LIMIT == 5
    assert timedelta(minutes=15) == django_settings.AXES_COOLOFF_TIME
    assert "axes.middleware.AxesMiddleware" in django_settings.MIDDLEWARE
    assert django_settings.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"


def test_wrong_passwords_lock_out_even_the_right_one(client, admins):
    limit = django_settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 1):
        response = login(client, "alice", "wrong")
        assert response.status_code == 200 and not logged_in(client)  # the form again, with its error
    assert login(client, "alice", "wrong").status_code == 429  # the limit-th failure locks

    response = login(client, "alice", PASSWORD)
    assert response.status_code == 429
    assert not logged_in(client)

    # Another admin from the same address, and the same admin from elsewhere, are not affected.
    assert login(client, "bob", PASSWORD).status_code == 302 and logged_in(client)
    client.logout()
    assert login(client, "alice", PASSWORD, address="198.51.100.9").status_code == 302 and logged_in(client)


def test_the_lockout_ends_after_the_cool_off(client, admins):
    for _ in range(django_settings.AXES_FAILURE_LIMIT):
        login(client, "alice", "wrong")
    assert login(client, "alice", PASSWORD).status_code == 429
    with time_machine.travel(timezone.now() + django_settings.AXES_COOLOFF_TIME + timedelta(seconds=5)):
        assert login(client, "alice", PASSWORD).status_code == 302
        assert logged_in(client)


def test_a_success_resets_the_failure_count(client, admins):
    limit = django_settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 1):
        login(client, "alice", "wrong")
    assert login(client, "alice", PASSWORD).status_code == 302
    client.logout()
    for _ in range(limit - 1):
        login(client, "alice", "wrong")
    assert login(client, "alice", PASSWORD).status_code == 302  # not locked: the count started again
