"""The project package as an app, so that its database tuning is installed wherever Django runs."""

from django.apps import AppConfig


class AggregatorConfig(AppConfig):
    name = "aggregator"
    verbose_name = "Aggregator"

    def ready(self) -> None:
        from corsheaders.signals import check_request_enabled

        from aggregator.db import connect_signals
        from aggregator.http_cache import cors_without_token

        connect_signals()
        check_request_enabled.connect(cors_without_token, dispatch_uid="aggregator.cors_without_token")
