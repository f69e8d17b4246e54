"""Fixtures shared by every app's tests."""

import pytest
from rest_framework.test import APIClient

from aggregator.tests.factories import TokenFactory, UserFactory, product_permissions


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def api_user(db):
    """A consumer allowed to write products (as every token holder was when permissions came in)."""
    user = UserFactory(username="api-user")
    user.user_permissions.add(*product_permissions("add", "change", "delete"))
    return user


@pytest.fixture
def plain_user(db):
    """A user with a token and no permissions at all."""
    return UserFactory(username="plain-user")


@pytest.fixture
def plain_client(plain_user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {TokenFactory(user=plain_user).key}")
    return client


@pytest.fixture
def auth_client(api_user) -> APIClient:
    """A client whose requests carry `Authorization: Token <key>`, as a consumer's would."""
    client = APIClient()
    token = TokenFactory(user=api_user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client
