from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts and webhooks"

    def ready(self):
        from django.db.models.signals import pre_delete

        from aggregator.metrics import register_gauges
        from alerts.metrics import pending_gauges
        from alerts.receivers import evaluate_alerts, tell_owners_of_deleted_product
        from catalogue.models import Product
        from offers_sync.signals import offers_changed_batch

        offers_changed_batch.connect(evaluate_alerts, dispatch_uid="alerts.evaluate_alerts")
        pre_delete.connect(tell_owners_of_deleted_product, sender=Product, dispatch_uid="alerts.deleted_product")
        register_gauges("alerts", pending_gauges)  # on the web's /metrics
