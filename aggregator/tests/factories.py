"""factory-boy factories for the API's users and their tokens (used by the root conftest.py fixtures)."""

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from factory.django import DjangoModelFactory
from rest_framework.authtoken.models import Token


class UserFactory(DjangoModelFactory):
    """A user as `create_user` makes one: the password, when given, is hashed."""

    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user-{n}")
    password = factory.django.Password("not-used-here")


class TokenFactory(DjangoModelFactory):
    """An API token (`Authorization: Token <key>`) for a user."""

    class Meta:
        model = Token

    user = factory.SubFactory(UserFactory)


def product_permissions(*actions: str) -> list[Permission]:
    """The `catalogue.<action>_product` permissions, e.g. ("add", "change")."""
    return list(
        Permission.objects.filter(content_type__app_label="catalogue", codename__in=[f"{a}_product" for a in actions])
    )
