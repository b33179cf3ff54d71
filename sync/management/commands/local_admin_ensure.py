"""Create the local admin user on first run and print its generated password once."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create a local superuser 'admin' with a random password (printed once) if no superuser exists."

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        if user_model.objects.filter(is_superuser=True).exists():
            self.stdout.write(
                "An admin user exists already (its password was printed when it was created; "
                "reset it with: .venv/bin/python manage.py changepassword admin)."
            )
            return
        password = secrets.token_urlsafe(12)
        user_model.objects.create_superuser(username="admin", email="", password=password)
        self.stdout.write(self.style.SUCCESS(f"Admin user: admin   password: {password}   (shown only this once)"))
