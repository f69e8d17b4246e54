"""`python manage.py run_fake_offers`: serve the project's fake offers service until SIGINT/SIGTERM.

For local runs (`make run` starts it when OFFERS_SERVICE_URL is unset), soak runs and benchmarks.
The service itself, with its rules and its control API, is `devtools.fake_service`.
"""

import logging
import os
import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from devtools.fake_service import DEFAULT_REFRESH_TOKEN, FakeOffersService

logger = logging.getLogger(__name__)


def _rate(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise ValueError(text)
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise ValueError(text)
    return value


class Command(BaseCommand):
    help = "Run a fake of the external offers service (the whole contract, evolving offers, faults)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001, help="0 picks a free port (logged at start)")
        parser.add_argument(
            "--refresh-token",
            default=os.environ.get("FAKE_OFFERS_REFRESH_TOKEN") or DEFAULT_REFRESH_TOKEN,
            help="the refresh token /api/v1/auth accepts (default: $FAKE_OFFERS_REFRESH_TOKEN or a local one)",
        )
        parser.add_argument("--token-lifetime", type=int, default=300, help="access token lifetime, seconds")
        parser.add_argument("--latency-ms", type=_non_negative, default=20.0, help="delay of every /api/v1 call")
        parser.add_argument("--jitter-ms", type=_non_negative, default=10.0, help="uniform +- around the latency")
        parser.add_argument(
            "--churn-interval", type=_non_negative, default=10.0, help="seconds per churn epoch; 0: manual steps only"
        )
        parser.add_argument("--error-rate", type=_rate, default=0.0, help="share of calls answered 500/502/503")
        parser.add_argument("--rate-limit-rate", type=_rate, default=0.0, help="share of calls answered 429")
        parser.add_argument("--timeout-rate", type=_rate, default=0.0, help="share of calls held --timeout-seconds")
        parser.add_argument("--timeout-seconds", type=_non_negative, default=30.0)
        parser.add_argument("--malformed-rate", type=_rate, default=0.0, help="share of offers calls with a broken 200")
        parser.add_argument(
            "--hostile-rate",
            type=_rate,
            default=0.0,
            help="share of register/offers calls with a hostile answer (redirects, resets, huge or deep bodies, "
            "numbers past 64 bits, foreign offer ids...; see devtools.fake_hostile)",
        )
        parser.add_argument(
            "--auto-register", action="store_true", help="register unknown products on their first offers read"
        )
        parser.add_argument("--seed", type=int, default=None, help="makes offers and faults reproducible")

    def handle(self, *args, **options) -> None:
        if options["token_lifetime"] < 1:
            raise CommandError("--token-lifetime must be at least 1 second")
        if not options["refresh_token"]:
            raise CommandError("--refresh-token must not be empty")
        service = FakeOffersService(
            host=options["host"],
            port=options["port"],
            refresh_token=options["refresh_token"],
            token_lifetime=options["token_lifetime"],
            latency_ms=options["latency_ms"],
            jitter_ms=options["jitter_ms"],
            churn_interval=options["churn_interval"],
            error_rate=options["error_rate"],
            rate_limit_rate=options["rate_limit_rate"],
            timeout_rate=options["timeout_rate"],
            timeout_seconds=options["timeout_seconds"],
            malformed_rate=options["malformed_rate"],
            hostile_rate=options["hostile_rate"],
            auto_register=options["auto_register"],
            seed=options["seed"],
        )
        try:
            service.start()
        except OSError as error:
            raise CommandError(f"cannot listen on {options['host']}:{options['port']}: {error.strerror}") from None

        stop = threading.Event()
        # Handlers only note the request; the main thread stops the server (signal-safe).
        signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
        signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
        faults = service.faults
        logger.info(
            "fake offers service on %s: latency %g±%g ms, token lifetime %d s, churn every %g s, "
            "faults error=%g rate_limit=%g timeout=%g malformed=%g hostile=%g%s",
            service.url,
            faults["latency_ms"],
            faults["jitter_ms"],
            service.token_lifetime,
            options["churn_interval"],
            faults["error_rate"],
            faults["rate_limit_rate"],
            faults["timeout_rate"],
            faults["malformed_rate"],
            faults["hostile_rate"],
            ", auto-register" if service.auto_register else "",
        )
        try:
            while not stop.wait(1):
                pass
        finally:
            service.stop()
        logger.info("fake offers service stopped")
