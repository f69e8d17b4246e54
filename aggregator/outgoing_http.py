"""Outgoing HTTP calls with a deadline over the whole attempt (after zulip's `outgoing_http.py`).

`OutgoingSession` is a `requests.Session` with a default timeout, redirects never followed, and a
deadline over each call's whole attempt: connecting, the status line and headers, and reading the
body together. requests' own timeouts bound each socket operation, so a peer that sends its
headers or its body a byte at a time never trips them; here a single watchdog thread per process
shuts down the socket of an attempt that outlives its deadline (a shut-down socket makes the
blocked read return at once, in whatever phase it is), and the call raises `DeadlineExceeded`,
a `requests.Timeout`.

The attempt spans the call and the reading of its body: read a streamed body (`stream=True`)
inside `with session.attempt():`, or call `read_body`, which does both. An enclosing
`deadline(seconds)` caps every attempt made inside it, so that a caller can bound several calls
together (the token, a retry) by one budget.

Connections are tied to the attempt through urllib3's own extension points (a pool's
`ConnectionCls`, a pool manager's `pool_classes_by_scheme`), so every connection the session
opens or reuses is watched, whether it goes straight to the peer or through a proxy.
"""

import heapq
import http.client
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

# After a deadline, an attempt's sockets are shut down again this often until it ends, so that a
# connection opened in the very moment of the deadline cannot escape it.
REPEAT_SHUTDOWN_SECONDS = 0.05


class DeadlineExceeded(requests.Timeout):
    """The attempt (connect, headers and body together) outlived its deadline."""


class BodyTooLarge(requests.RequestException):
    """The answer's body was longer than the caller reads."""


class Attempt:
    """One call in flight: its deadline and the connections it uses."""

    def __init__(self, deadline: float):
        self.deadline = deadline
        self.expired = False
        self.finished = False
        self._connections: set = set()
        self._lock = threading.Lock()

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def watch(self, connection) -> None:
        with self._lock:
            self._connections.add(connection)
            if self.expired:
                _shut_down(connection)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            for connection in self._connections:
                _shut_down(connection)

    def finish(self) -> None:
        with self._lock:
            self.finished = True
            self._connections.clear()


def _shut_down(connection) -> None:
    sock = connection.sock
    if sock is not None:
        try:
            # socket.socket's own shutdown, also for a TLS socket: it ends a read blocked in another
            # thread without touching the TLS object that read is using.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass  # already closed


class _Watchdog:
    """One daemon thread that expires the attempts past their deadline, earliest first."""

    def __init__(self):
        self._condition = threading.Condition()
        self._queue: list[tuple[float, int, Attempt]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, attempt: Attempt) -> None:
        with self._condition:
            heapq.heappush(self._queue, (attempt.deadline, next(self._order), attempt))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="http-deadlines", daemon=True)
                self._thread.start()
            elif self._queue[0][2] is attempt:
                self._condition.notify()

    def _run(self) -> None:
        with self._condition:
            while True:
                now = time.monotonic()
                while self._queue and self._queue[0][0] <= now:
                    _, _, attempt = heapq.heappop(self._queue)
                    if not attempt.finished:
                        attempt.expire()
                        heapq.heappush(self._queue, (now + REPEAT_SHUTDOWN_SECONDS, next(self._order), attempt))
                self._condition.wait(self._queue[0][0] - now if self._queue else None)


_watchdog = _Watchdog()
_local = threading.local()


def _after_fork() -> None:
    global _watchdog
    _watchdog = _Watchdog()  # the parent's thread does not exist in the child
    _local.__dict__.clear()


os.register_at_fork(after_in_child=_after_fork)


def _current() -> Attempt | None:
    return getattr(_local, "attempt", None)


def remaining() -> float | None:
    """Seconds left before the enclosing deadline of this thread, or None outside any."""
    attempt = _current()
    return None if attempt is None else attempt.remaining()


@contextmanager
def deadline(seconds: float) -> Iterator[Attempt]:
    """Bound every outgoing call made inside this block (in this thread) by one deadline."""
    enclosing = _current()
    end = time.monotonic() + seconds
    if enclosing is not None and enclosing.deadline <= end:
        yield enclosing
        return
    attempt = Attempt(end)
    _local.attempt = attempt
    _watchdog.add(attempt)
    try:
        yield attempt
    finally:
        attempt.finish()
        _local.attempt = enclosing


class _WatchedConnection:
    """A urllib3 connection that joins the thread's current attempt whenever it is used."""

    def connect(self) -> None:
        attempt = _current()
        if attempt is not None:
            attempt.watch(self)
        super().connect()
        if attempt is not None and attempt.expired:
            raise DeadlineExceeded("deadline passed while connecting")

    def request(self, *args, **kwargs):
        attempt = _current()
        if attempt is not None:
            attempt.watch(self)
        return super().request(*args, **kwargs)


class _HTTPConnection(_WatchedConnection, HTTPConnection):
    pass


class _HTTPSConnection(_WatchedConnection, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_WATCHED_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter whose connections (direct or through an HTTP proxy) are watched."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if getattr(manager, "pool_classes_by_scheme", None) is not None and not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager


class OutgoingSession(requests.Session):
    """A session for calls to one kind of peer: default timeouts, a whole-attempt deadline, and
    redirects never followed (a 3xx comes back as the answer), so credentials stay with the peer.

    `timeout` is requests' (connect, read) pair, applied to each socket operation and shrunk to
    what is left of the attempt; `attempt_seconds` bounds each call's whole attempt.
    """

    def __init__(
        self,
        *,
        timeout: tuple[float, float] = (3.05, 5.0),
        attempt_seconds: float = 10.0,
        pool_size: int = 10,
        adapter: HTTPAdapter | None = None,
    ):
        super().__init__()
        self.timeout = timeout
        self.attempt_seconds = attempt_seconds
        adapter = adapter or DeadlineAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    @contextmanager
    def attempt(self, seconds: float | None = None) -> Iterator[Attempt]:
        """One attempt: the calls and body reads inside end by its deadline or raise DeadlineExceeded."""
        with deadline(self.attempt_seconds if seconds is None else seconds) as attempt:
            try:
                yield attempt
            except (requests.RequestException, http.client.HTTPException, OSError) as exc:
                # What a read ends with when the watchdog shuts its socket, in whichever phase.
                if attempt.expired:
                    raise DeadlineExceeded("the attempt outlived its deadline") from exc
                raise
            if attempt.expired:
                # The peer's answer was cut short: whatever was read is not the whole of it.
                raise DeadlineExceeded("the attempt outlived its deadline")

    def request(self, method, url, **kwargs) -> requests.Response:
        """requests' call, within one attempt (with `stream=True`, read the body inside `attempt()`)."""
        with self.attempt():
            return super().request(method, url, **self._defaults(kwargs))

    def read_body(self, method: str, url: str, *, max_bytes: int, **kwargs) -> tuple[requests.Response, bytes]:
        """Make the call and read its body (decoded) within one attempt; BodyTooLarge past `max_bytes`."""
        with self.attempt():
            with super().request(method, url, stream=True, **self._defaults(kwargs)) as response:
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise BodyTooLarge(f"answer declares {declared} bytes, over {max_bytes}")
                body, size = [], 0
                for chunk in response.iter_content(chunk_size=16 * 1024):
                    size += len(chunk)  # decoded size: a compressed bomb is stopped as it inflates
                    if size > max_bytes:
                        raise BodyTooLarge(f"answer over {max_bytes} bytes")
                    body.append(chunk)
            return response, b"".join(body)

    def _defaults(self, kwargs: dict) -> dict:
        """No redirects (whatever the caller says: requests' `get` asks for them); the timeouts, each
        shrunk to what is left of the attempt."""
        kwargs["allow_redirects"] = False
        connect, read = kwargs.pop("timeout", None) or self.timeout
        left = max(_current().remaining(), 0.001)
        kwargs["timeout"] = (min(connect, left), min(read, left))
        return kwargs
