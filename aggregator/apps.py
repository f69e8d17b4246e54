"""The project package as an app, so that its database tuning is installed wherever Django runs."""

from django.apps import AppConfig


class AggregatorConfig(AppConfig):
    name = "aggregator"
    verbose_name = "Aggregator"

    def ready(self) -> None:
        from aggregator.db import connect_signals

        connect_signals()
