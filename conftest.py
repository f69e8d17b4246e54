"""Fixtures shared by every app's tests."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def api_user(db):
    return get_user_model().objects.create_user(username="api-user", password="not-used-here")


@pytest.fixture
def auth_client(api_user) -> APIClient:
    """A client whose requests carry `Authorization: Token <key>`, as a consumer's would."""
    client = APIClient()
    token = Token.objects.create(user=api_user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client
