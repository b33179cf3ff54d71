"""Factories of Django's auth app: the people who use the admin."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import factory
from django.contrib.auth.models import Permission, User
from factory.django import DjangoModelFactory


class UserFactory(DjangoModelFactory[User]):
    """A person with a realistic name; ``staff=True`` opens the admin, ``superuser=True`` everything.

    ``permissions=["app_label.codename", ...]`` grants exactly those. No password unless
    ``login_password`` is given: hashing one costs more than most tests, and ``force_login`` needs none.
    """

    class Meta:
        model = User
        skip_postgeneration_save = True  # the hooks below save what they change themselves

    class Params:
        staff = factory.Trait(is_staff=True)
        superuser = factory.Trait(is_staff=True, is_superuser=True)

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    # A sequence in it: usernames are unique and Faker's names repeat.
    username = factory.LazyAttributeSequence(lambda user, n: f"{user.first_name.lower()}{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")

    @factory.post_generation
    def permissions(user: User, create: bool, extracted: Iterable[str] | None, **kwargs: Any) -> None:
        for label in extracted or ():
            app_label, codename = label.split(".")
            user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))

    @factory.post_generation
    def login_password(user: User, create: bool, extracted: str | None, **kwargs: Any) -> None:
        if extracted:
            user.set_password(extracted)
            if create:
                user.save(update_fields=["password"])
