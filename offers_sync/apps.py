from django.apps import AppConfig
from django.db.models.signals import post_save


class OffersSyncConfig(AppConfig):
    name = "offers_sync"
    verbose_name = "Offer sync"

    def ready(self) -> None:
        from aggregator.metrics import register_gauges
        from catalogue.models import Product
        from catalogue.signals import products_created
        from offers_sync import checks  # noqa: F401 (registers the system checks)
        from offers_sync.metrics import product_gauges
        from offers_sync.receivers import product_saved, products_created_in_bulk

        post_save.connect(product_saved, sender=Product, dispatch_uid="offers_sync.product_saved")
        products_created.connect(products_created_in_bulk, dispatch_uid="offers_sync.products_created_in_bulk")
        register_gauges("sync gauges", product_gauges)  # on the web's /metrics
