"""System checks of the offers-sync settings (`manage.py check --deploy`)."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def check_offers_service_url_is_https(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The refresh and access tokens travel in a header: over plain HTTP anyone on the path reads them."""
    url = getattr(settings, "OFFERS_SERVICE_URL", "") or ""
    if not url or urlsplit(url).scheme.lower() == "https":
        return []
    return [
        checks.Warning(
            "OFFERS_SERVICE_URL is not an https:// URL: the offers service's refresh and access tokens "
            "would cross the network in clear text.",
            hint="Set OFFERS_SERVICE_URL to the service's https:// address.",
            id="offers_sync.W001",
        )
    ]
