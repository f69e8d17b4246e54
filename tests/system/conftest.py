"""Fixtures the system tests share with the apps' own tests."""

# A signature-checking webhook receiver, and an endpoint of `auth_client`'s user pointing at it.
from alerts.tests.conftest import endpoint, receiver  # noqa: F401
