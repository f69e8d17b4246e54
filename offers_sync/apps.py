from django.apps import AppConfig


class OffersSyncConfig(AppConfig):
    name = "offers_sync"
    verbose_name = "Offer sync"

    def ready(self) -> None:
        from offers_sync import checks  # noqa: F401 (registers the system checks)
