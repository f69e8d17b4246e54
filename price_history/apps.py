from django.apps import AppConfig


class PriceHistoryConfig(AppConfig):
    name = "price_history"
    verbose_name = "Price history"

    def ready(self):
        from offers_sync.signals import offers_changed_batch, worker_cycle_done
        from price_history.receivers import prune_when_due, record_offer_events

        offers_changed_batch.connect(record_offer_events, dispatch_uid="price_history.record_offer_events")
        worker_cycle_done.connect(prune_when_due, dispatch_uid="price_history.prune_when_due")
