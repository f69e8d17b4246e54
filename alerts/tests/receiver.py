"""A webhook receiver for the tests: a threaded http.server on loopback that verifies every
delivery's signature with the `standardwebhooks` library, as a consumer would.

`answers` scripts the status codes of the next requests (then 200); `delay` slows each answer.
It records every request (webhook-id, body, whether the signature verified) and notices when the
same webhook-id is being received twice at the same moment.
"""

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    webhook_id: str
    timestamp: str
    body: dict | None
    verified: bool
    path: str


class Receiver:
    def __init__(self):
        self.secrets: list[str] = []
        self.answers: list[int] = []
        self.delay = 0.0
        self.redirect_to: str | None = None
        self.received: list[Received] = []
        self.in_flight: set[str] = set()
        self.overlaps: list[str] = []
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def verify(self, body: bytes, headers: dict) -> dict | None:
        for secret in self.secrets:
            try:
                return Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
        return None

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        """Block until `count` requests arrived (or fail after `timeout`)."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.received) >= count, timeout=timeout):
                raise AssertionError(f"{len(self.received)} of {count} deliveries arrived in {timeout}s")
            return list(self.received)

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                headers = {k: v for k, v in self.headers.items()}
                webhook_id = headers.get("webhook-id", "")
                with receiver.lock:
                    if webhook_id in receiver.in_flight:
                        receiver.overlaps.append(webhook_id)
                    receiver.in_flight.add(webhook_id)
                    status = receiver.answers.pop(0) if receiver.answers else 200
                try:
                    if receiver.delay:
                        time.sleep(receiver.delay)  # the receiver's own slowness, not a synchronisation
                    verified = receiver.verify(body, headers)
                    self.send_response(status)
                    if receiver.redirect_to and 300 <= status < 400:
                        self.send_header("Location", receiver.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                finally:
                    with receiver.arrived:
                        receiver.in_flight.discard(webhook_id)
                        receiver.received.append(
                            Received(
                                webhook_id=webhook_id,
                                timestamp=headers.get("webhook-timestamp", ""),
                                body=json.loads(body) if verified is not None else None,
                                verified=verified is not None,
                                path=self.path,
                            )
                        )
                        receiver.arrived.notify_all()

        return Handler
