from django.apps import AppConfig


class PriceHistoryConfig(AppConfig):
    name = "price_history"
    verbose_name = "Price history"
