from django.apps import AppConfig


class OffersSyncConfig(AppConfig):
    name = "offers_sync"
    verbose_name = "Offer sync"

    def ready(self):
        from catalogue.signals import products_created
        from offers_sync.registration import products_schedule_registration

        products_created.connect(products_schedule_registration, dispatch_uid="offers_sync.schedule_registration")
