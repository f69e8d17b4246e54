"""The whole-attempt deadline over real sockets: a peer dripping its headers or its body a byte at
a time is cut off at the deadline, not after each slow read; a healthy peer is unaffected.

The peers are small socket servers in this process, on loopback (no process is started).
"""

import socket
import threading
import time

import pytest
import requests

from aggregator.outgoing_http import BodyTooLarge, DeadlineExceeded, OutgoingSession, deadline

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]"


class Peer:
    """Answers every request with `answer(connection)`; counts the connections it accepted."""

    def __init__(self, answer):
        self.answer = answer
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.connections = 0
        self.stopping = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/"

    def close(self):
        self.stopping.set()
        self.listener.close()

    def _accept(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection):
        with connection:
            try:
                while connection.recv(65536):
                    self.answer(connection, self.stopping)
            except OSError:
                pass


def drip(first: bytes, then: bytes):
    def answer(connection, stopping):
        connection.sendall(first)
        while not stopping.wait(0.05):  # a byte every 50 ms: far under any read timeout
            connection.sendall(then)

    return answer


@pytest.fixture
def peer():
    made = []

    def make(answer):
        made.append(Peer(answer))
        return made[-1]

    yield make
    for p in made:
        p.close()


@pytest.mark.parametrize(
    "answer",
    [
        drip(b"HTTP/1.1 200 OK\r\n", b"X"),
        drip(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", b"["),
        drip(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"1\r\n[\r\n"),
    ],
    ids=["headers", "body", "chunked-body"],
)
def test_a_dripping_answer_fails_at_the_deadline(peer, answer):
    session = OutgoingSession(timeout=(1.0, 1.0), attempt_seconds=0.5)
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        session.read_body("GET", peer(answer).url, max_bytes=10**6)
    assert time.monotonic() - started < 1.5


def test_a_streamed_body_read_inside_the_attempt_is_bounded_too(peer):
    session = OutgoingSession(timeout=(1.0, 1.0), attempt_seconds=0.5)
    started = time.monotonic()
    with pytest.raises(requests.Timeout), session.attempt():
        url = peer(drip(b"HTTP/1.1 200 OK\r\nContent-Length: 9000\r\n\r\n", b" ")).url
        with session.get(url, stream=True) as response:
            response.content  # noqa: B018 (reading is the point)
    assert time.monotonic() - started < 1.5


def test_an_enclosing_deadline_caps_the_attempts_inside_it(peer):
    session = OutgoingSession(timeout=(5.0, 5.0), attempt_seconds=5.0)
    url = peer(drip(b"HTTP/1.1 200 OK\r\n", b"X")).url
    started = time.monotonic()
    with deadline(0.5), pytest.raises(DeadlineExceeded):
        session.get(url)
    assert time.monotonic() - started < 1.5


def test_healthy_answers_are_read_whole_on_one_kept_alive_connection(peer):
    healthy = peer(lambda connection, stopping: connection.sendall(OK))
    session = OutgoingSession(attempt_seconds=0.5)
    answers = [session.read_body("GET", healthy.url, max_bytes=100)[1] for _ in range(5)]
    assert answers == [b"[]"] * 5
    assert healthy.connections == 1


def test_a_body_over_the_limit_is_refused(peer):
    big = peer(lambda connection, stopping: connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"))
    with pytest.raises(BodyTooLarge):
        OutgoingSession().read_body("GET", big.url, max_bytes=100)


def test_redirects_are_not_followed(peer):
    target = peer(lambda connection, stopping: connection.sendall(OK))
    redirect = f"HTTP/1.1 307 Temporary Redirect\r\nLocation: {target.url}\r\nContent-Length: 0\r\n\r\n"
    source = peer(lambda connection, stopping: connection.sendall(redirect.encode()))
    response = OutgoingSession().get(source.url, headers={"Bearer": "secret"})
    assert response.status_code == 307
    assert target.connections == 0
