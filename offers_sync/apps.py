from django.apps import AppConfig


class OffersSyncConfig(AppConfig):
    name = "offers_sync"
    verbose_name = "Offer sync"
