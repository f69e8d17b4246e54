from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    """Installed only when DEV_TOOLS is true; it holds the run_fake_offers command and no models."""

    name = "devtools"
    verbose_name = "Development tools"
