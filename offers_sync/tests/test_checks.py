"""`manage.py check --deploy` on the offers-service settings."""

import pytest
from django.core import checks


def deploy_warnings() -> list[str]:
    return [m.id for m in checks.run_checks(include_deployment_checks=True) if m.id.startswith("offers_sync.")]


@pytest.mark.parametrize("url", ["http://offers.example.com", "HTTP://offers.example.com", "ftp://x"])
def test_check_deploy_warns_when_the_offers_service_is_not_https(settings, url):
    settings.OFFERS_SERVICE_URL = url
    assert deploy_warnings() == ["offers_sync.W001"]


@pytest.mark.parametrize("url", ["https://offers.example.com", ""])
def test_https_or_unset_is_fine(settings, url):
    settings.OFFERS_SERVICE_URL = url
    assert deploy_warnings() == []


def test_plain_check_does_not_warn(settings):
    settings.OFFERS_SERVICE_URL = "http://offers.example.com"
    assert not [m for m in checks.run_checks() if m.id == "offers_sync.W001"]
