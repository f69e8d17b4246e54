from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts and webhooks"

    def ready(self):
        from aggregator.metrics import register_gauges
        from alerts.metrics import pending_gauges
        from alerts.receivers import evaluate_alerts
        from offers_sync.signals import offers_changed_batch

        offers_changed_batch.connect(evaluate_alerts, dispatch_uid="alerts.evaluate_alerts")
        register_gauges("alerts", pending_gauges)  # on the web's /metrics
