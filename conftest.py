"""Fixtures shared by every app's tests."""

import pytest
from rest_framework.test import APIClient

from aggregator.tests.factories import TokenFactory, UserFactory


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def api_user(db):
    return UserFactory(username="api-user")


@pytest.fixture
def auth_client(api_user) -> APIClient:
    """A client whose requests carry `Authorization: Token <key>`, as a consumer's would."""
    client = APIClient()
    token = TokenFactory(user=api_user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client
