from django.apps import AppConfig
from django.db.models.signals import post_save


class OffersSyncConfig(AppConfig):
    name = "offers_sync"
    verbose_name = "Offer sync"

    def ready(self) -> None:
        from catalogue.models import Product
        from offers_sync import checks  # noqa: F401 (registers the system checks)
        from offers_sync.receivers import product_saved

        post_save.connect(product_saved, sender=Product, dispatch_uid="offers_sync.product_saved")
