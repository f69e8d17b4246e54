"""Benchmark of alerts: webhook delivery throughput, and what alert evaluation adds to a sync cycle.

    .venv/bin/python bench/webhooks_bench.py            # 10,000 events, 1,000 alerts (a few minutes)

Delivery: 10,000 events queued, a receiver in this process answering each POST in 50 ms, then
`manage.py run_webhooks --once` as deployed, with one worker and with two at once (each
WEBHOOK_CONCURRENCY threads, default 16): deliveries per second, and a check that every event
arrived and none twice.

Evaluation: 10,000 products with 5 offers each; a churn cycle's answers (10 % of the products
with one price and one stock change) reconciled with `offers_reconcile_many`, as the worker does
after fetching, alternately with the alerts subscriber disconnected and connected: first with
1,000 alerts on random products (the four kinds in turn), then with four more on every product
(one of each kind, so every changed product evaluates them). Only the database part of a cycle is
timed (the fetches, which dominate a real cycle, are left out), so the share is the largest it
can be.

PostgreSQL, a database of its own (dropped and created: `--database-url`).
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, ROOT, bench_env, setup_django  # noqa: E402


class CountingReceiver:
    """Answers 200 after `delay` seconds; counts webhook-ids."""

    def __init__(self, delay: float):
        self.delay, self.ids, self.lock = delay, [], threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(receiver.delay)
                with receiver.lock:
                    receiver.ids.append(self.headers.get("webhook-id"))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 1024  # two workers' connections at once must not overflow the backlog

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--alerts", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=5, help="Churn cycles timed each way (median).")
    parser.add_argument("--concurrency", type=int, default=16, help="WEBHOOK_CONCURRENCY of each worker.")
    parser.add_argument("--part", choices=["both", "evaluation", "delivery"], default="both")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/aggregator_webhooksbench")
    args = parser.parse_args()

    env = bench_env(args.database_url, WEBHOOK_ALLOW_PRIVATE_NETWORKS="true", WEBHOOK_CONCURRENCY=str(args.concurrency))
    setup_django(env)
    evaluation = delivery = None
    if args.part in ("both", "evaluation"):
        evaluation = bench_evaluation(products=args.products, alerts=args.alerts, rounds=args.rounds)
    if args.part in ("both", "delivery"):
        delivery = {workers: bench_delivery(env, events=args.events, workers=workers) for workers in (1, 2)}
    report(args, evaluation, delivery)


def report(args, evaluation, delivery) -> None:
    print(f"\nload average at the end: {os.getloadavg()}")
    if evaluation is not None:
        print(f"\nalert evaluation on a churn cycle ({args.products} products, 10 % changed, median of {args.rounds}):")
        labels = (f"{args.alerts} alerts on products", f"{args.alerts} on products + 4 on every product")
        for label, (off, on, inside) in zip(labels, evaluation, strict=True):
            print(
                f"  {label:<40} off {off * 1000:8.1f} ms, on {on * 1000:8.1f} ms ({(on / off - 1) * 100:+.1f} %); "
                f"inside the subscriber {inside * 1000:.1f} ms = {inside / off * 100:.1f} % of an off cycle"
            )
    if delivery is not None:
        print(
            f"\ndelivery of {args.events} events, receiver answering in 50 ms, {args.concurrency} threads per worker:"
        )
        for workers, (seconds, ok) in delivery.items():
            print(f"  {workers} worker(s): {seconds:6.1f} s  {args.events / seconds:7.0f} deliveries/s  {ok}")


def bench_evaluation(*, products: int, alerts: int, rounds: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    from django.contrib.auth import get_user_model

    from alerts.models import Alert, WebhookEndpoint
    from catalogue.models import Product
    from offers_sync.client import OfferData
    from offers_sync.models import Offer
    from offers_sync.reconcile import offers_reconcile_many
    from offers_sync.signals import offers_changed_batch

    rng = random.Random(13)
    created = Product.objects.bulk_create((Product(name=f"bench {i}") for i in range(products)), batch_size=5000)
    ids = [p.id for p in created]
    answers = {
        pid: [OfferData(uuid.uuid4(), rng.randint(1000, 5000), rng.randint(0, 5)) for _ in range(5)] for pid in ids
    }
    Offer.objects.bulk_create(
        (Offer(id=o.id, product_id=pid, price=o.price, items_in_stock=o.items_in_stock)
         for pid, offers in answers.items() for o in offers),
        batch_size=5000,
    )  # fmt: skip
    owner = get_user_model().objects.create_user(username="bench")
    # An address nobody listens on: evaluation is what is measured here, not delivery.
    endpoint = WebhookEndpoint.objects.create(owner=owner, url="http://127.0.0.1:9/", secret="whsec_AAAA")
    kinds = [("price_below", 2000), ("price_drop", 10), ("back_in_stock", None), ("out_of_stock", None)]

    def churn() -> dict:
        for pid in rng.sample(ids, len(ids) // 10):
            offers = answers[pid]
            offers[0] = OfferData(offers[0].id, rng.randint(1000, 5000), offers[0].items_in_stock)
            offers[1] = OfferData(offers[1].id, offers[1].price, rng.choice([0, 0, 1, 3]))
        return {pid: list(offers) for pid, offers in answers.items()}

    def timed() -> float:
        batch = churn()
        started = time.perf_counter()
        offers_reconcile_many(batch)
        return time.perf_counter() - started

    from alerts.receivers import evaluate_alerts

    spent = [0.0]

    def timed_subscriber(sender, **kwargs):
        started = time.perf_counter()
        evaluate_alerts(sender, **kwargs)
        spent[0] += time.perf_counter() - started

    def alternate() -> tuple[float, float, float]:
        """Median cycle time with the subscriber off and on, alternating so load drifts hit both,
        and the median time spent inside the subscriber in the "on" cycles."""
        off, on, inside = [], [], []
        for _ in range(rounds):
            offers_changed_batch.disconnect(dispatch_uid="alerts.evaluate_alerts")
            off.append(timed())
            offers_changed_batch.connect(timed_subscriber, dispatch_uid="alerts.evaluate_alerts")
            spent[0] = 0.0
            on.append(timed())
            inside.append(spent[0])
        return statistics.median(off), statistics.median(on), statistics.median(inside)

    rows = []
    for i in range(alerts):
        kind, threshold = kinds[i % len(kinds)]
        rows.append(Alert(owner=owner, endpoint=endpoint, product_id=rng.choice(ids), kind=kind, threshold=threshold))
    Alert.objects.bulk_create(rows)
    timed()  # warm up
    on_products = alternate()
    Alert.objects.bulk_create(
        Alert(owner=owner, endpoint=endpoint, product_id=None, kind=kind, threshold=threshold)
        for kind, threshold in [("price_below", 1500), ("price_drop", 30), ("back_in_stock", None),
                                ("out_of_stock", None)]
    )  # fmt: skip
    timed()
    on_every_product = alternate()
    return on_products, on_every_product


def bench_delivery(env: dict, *, events: int, workers: int) -> tuple[float, str]:
    from django.contrib.auth import get_user_model

    from alerts.models import Delivery, EventType, WebhookEndpoint, WebhookEvent
    from alerts.services import _events_create
    from alerts.signing import new_secret

    receiver = CountingReceiver(delay=0.05)
    owner, _ = get_user_model().objects.get_or_create(username="bench")
    WebhookEvent.objects.all().delete()
    endpoint = WebhookEndpoint.objects.create(owner=owner, url=receiver.url, secret=new_secret())
    for start in range(0, events, 2000):
        _events_create(
            [(EventType.WEBHOOK_PING, {"n": n}, endpoint.id) for n in range(start, min(events, start + 2000))]
        )
    expected = {str(i) for i in Delivery.objects.filter(endpoint=endpoint).values_list("event_id", flat=True)}
    started = time.perf_counter()
    processes = [
        subprocess.Popen([PYTHON, "manage.py", "run_webhooks", "--once"], cwd=ROOT, env=env, stdout=subprocess.PIPE)
        for _ in range(workers)
    ]
    for process in processes:
        process.communicate(timeout=1800)
    seconds = time.perf_counter() - started
    receiver.server.shutdown()
    from alerts.models import DeliveryStatus

    pending = Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).count()
    duplicates = len(receiver.ids) - len(set(receiver.ids))
    missing = len(expected - set(receiver.ids))
    ok = (
        f"{len(set(receiver.ids))} distinct received, {duplicates} twice, {missing} missing ({pending} pending a retry)"
    )
    return seconds, ok


if __name__ == "__main__":
    main()
