"""Limits on a request's head (`http_options.max_request_header_bytes` and
`request_header_timeout_s`): a head over the cap gets 431 and a close, having been read
no further than the cap; a head that does not arrive within the bound has its connection
closed. Other clients are served meanwhile.

Inputs go over raw sockets (rawhttp.py); memory is traced with tracemalloc, which sees
every buffer the parser keeps.
"""

from __future__ import annotations

import socket
import time
import tracemalloc
from collections.abc import Iterator

import pytest
from direct_serve import StartServe
from starlette.requests import Request

from reference_impl import serve
from reference_impl.config import DEFAULT_MAX_REQUEST_HEADER_BYTES, DEFAULT_REQUEST_HEADER_TIMEOUT_S

from .rawhttp import exchange, parse, request
from .traffic import Bystanders

REPLY_S = 10.0
CAP = 4096
BOUND_S = 0.5
CLOSED_WITHIN_S = 5.0  # after BOUND_S: a generous margin for a loaded machine
TOO_LARGE = b"Request headers exceed the limit of %d bytes."


@serve.deployment(max_ongoing_requests=100)
class Heads:
    """Answers the length of its `x-big` header."""

    async def __call__(self, request: Request) -> str:
        return str(len(request.headers.get("x-big", "")))


def _deploy(start: StartServe, **http_options: object) -> int:
    instance = start(**http_options)
    serve.run(Heads.bind(), name="heads", route_prefix="/heads")
    return instance.server.port


def _head(size: int, connection: str = "close") -> bytes:
    """A request whose head (request line and headers) is exactly `size` bytes."""
    bare = request("GET", "/heads", {"Host": "x", "Connection": connection, "X-Big": ""})
    return request("GET", "/heads", {"Host": "x", "Connection": connection, "X-Big": "a" * (size - len(bare))})


def _answers(port: int, data: bytes | list[bytes], pause: float = 0.0) -> list[tuple[int, bytes]]:
    return [(r.status, r.body) for r in parse(exchange(port, data, timeout=REPLY_S, pause=pause))]


# -- the size cap ---------------------------------------------------------------------------------


def test_head_at_the_cap_is_served_one_byte_over_gets_431(start_serve: StartServe) -> None:
    """A head of exactly `max_request_header_bytes` gets 200; one byte more gets 431 with
    a plain-text reason, `connection: close` and no request ID (no app saw it), whether
    it arrives in one write or in pieces; the next request is served."""
    port = _deploy(start_serve, max_request_header_bytes=CAP)
    assert _answers(port, _head(CAP)) == [(200, str(CAP - len(_head(0))).encode())]
    over = _head(CAP + 1)
    for pieces in ([over], [over[i : i + 1000] for i in range(0, len(over), 1000)]):
        responses = parse(exchange(port, pieces, timeout=REPLY_S, pause=0.01))
        assert [(r.status, r.body) for r in responses] == [(431, TOO_LARGE % CAP)]
        assert responses[0].headers["connection"] == "close"
        assert "x-request-id" not in responses[0].headers
    assert _answers(port, _head(100))[0][0] == 200


def test_cap_counts_each_request_of_a_keep_alive_connection(start_serve: StartServe) -> None:
    """On one connection, requests each just under the cap are all served (the count
    starts again with each request), also with bodies between them (of declared length,
    chunked); then one over it gets 431."""
    port = _deploy(start_serve, max_request_header_bytes=CAP)
    keep = _head(CAP, connection="keep-alive")
    post = request("POST", "/heads", {"Host": "x", "Content-Length": "3000"}, b"b" * 3000)
    chunked = request("POST", "/heads", {"Host": "x", "Transfer-Encoding": "chunked"}, b"5\r\nhello\r\n0\r\n\r\n")
    answers = _answers(port, [keep, post, keep, chunked, keep, _head(CAP + 1)])
    assert [status for status, _ in answers] == [200, 200, 200, 200, 200, 431]


def test_default_cap_refuses_100_kb_and_none_accepts_it(start_serve: StartServe) -> None:
    """By default a head over 64 KiB gets 431 (one 100 KB header); with
    `max_request_header_bytes=None` it gets 200, as from Ray (uvicorn's default)."""
    assert DEFAULT_MAX_REQUEST_HEADER_BYTES == 64 * 1024
    big = request("GET", "/heads", {"Host": "x", "X-Big": "a" * 100_000, "Connection": "close"})
    assert _answers(_deploy(start_serve), big) == [(431, TOO_LARGE % DEFAULT_MAX_REQUEST_HEADER_BYTES)]
    serve.shutdown()
    assert _answers(_deploy(start_serve, max_request_header_bytes=None), big) == [(200, b"100000")]


@pytest.fixture
def traced() -> Iterator[None]:
    tracemalloc.start()
    yield
    tracemalloc.stop()


def _peak_while(port: int, data: bytes) -> tuple[list[tuple[int, bytes]], int]:
    """The answers to `data`, and the peak of traced memory above the start meanwhile."""
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    answers = _answers(port, data)
    return answers, tracemalloc.get_traced_memory()[1] - before


def test_huge_head_is_not_buffered_beyond_the_cap(start_serve: StartServe, traced: None) -> None:
    """An 8 MB header: without a cap the server holds all of it while reading (the peak
    grows by more than 8 MB, which shows the measure works); with the default cap it
    answers 431 and the peak stays under 1 MB, a few read buffers."""
    data = request("GET", "/heads", {"Host": "x", "X-Big": "a" * 8_000_000, "Connection": "close"})
    answers, unlimited_peak = _peak_while(_deploy(start_serve, max_request_header_bytes=None), data)
    assert answers == [(200, b"8000000")]
    assert unlimited_peak > 8_000_000
    serve.shutdown()
    answers, capped_peak = _peak_while(_deploy(start_serve), data)
    assert [status for status, _ in answers] == [431]
    assert capped_peak < 1_000_000, f"the peak grew by {capped_peak} bytes"


# -- the time bound -------------------------------------------------------------------------------


def _read_response(sock: socket.socket) -> bytes:
    """One whole response with a body of declared length, read within REPLY_S."""
    sock.settimeout(REPLY_S)
    data = b""
    while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + _length(data):
        chunk = sock.recv(65536)
        assert chunk, f"closed mid-response: {data!r}"
        data += chunk
    return data


def _length(data: bytes) -> int:
    head = data.split(b"\r\n\r\n", 1)[0].lower()
    return int(head.split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])


def _closed_after(sock: socket.socket, began: float) -> float:
    """Seconds from `began` until the server closes `sock` (EOF or reset); fails after
    BOUND_S + CLOSED_WITHIN_S."""
    sock.settimeout(BOUND_S + CLOSED_WITHIN_S)
    try:
        data = sock.recv(65536)
    except ConnectionResetError:
        data = b""
    except TimeoutError:
        raise AssertionError(f"still open {BOUND_S + CLOSED_WITHIN_S} s after the head began") from None
    assert data == b"", f"the server answered instead of closing: {data[:200]!r}"
    return time.monotonic() - began


@pytest.mark.parametrize(
    ("what", "sent"),
    [
        ("nothing", b""),
        ("half a request line", b"GET /heads HT"),
        ("part of the headers", b"GET /heads HTTP/1.1\r\nHo"),
    ],
)
@pytest.mark.parametrize("cap", [DEFAULT_MAX_REQUEST_HEADER_BYTES, None], ids=["capped", "no cap"])
def test_head_not_received_in_time_closes_the_connection(
    start_serve: StartServe, what: str, sent: bytes, cap: int | None
) -> None:
    """A client that sends `what` and then stays silent: the connection closes after
    `request_header_timeout_s` (counted from the connection's opening), without an
    answer, with or without a size cap."""
    port = _deploy(start_serve, request_header_timeout_s=BOUND_S, max_request_header_bytes=cap)
    with socket.create_connection(("127.0.0.1", port), timeout=REPLY_S) as sock:
        began = time.monotonic()
        sock.sendall(sent)
        assert _closed_after(sock, began) >= BOUND_S * 0.8


def test_trickling_head_is_bounded_in_total_time(start_serve: StartServe) -> None:
    """A client that keeps sending its head a byte every 20 ms is closed at the bound
    too: it is the whole head's time that counts, not the silence between bytes."""
    port = _deploy(start_serve, request_header_timeout_s=BOUND_S)
    head = request("GET", "/heads", {"Host": "x", "X-Pad": "p" * 200})
    with socket.create_connection(("127.0.0.1", port), timeout=REPLY_S) as sock:
        began = time.monotonic()
        for offset in range(len(head) - 1):
            try:
                sock.sendall(head[offset : offset + 1])
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.02)
        else:
            raise AssertionError("the whole head was accepted over 4 s with a 0.5 s bound")
        assert _closed_after(sock, began) < BOUND_S + CLOSED_WITHIN_S


@pytest.mark.parametrize("cap", [DEFAULT_MAX_REQUEST_HEADER_BYTES, None], ids=["capped", "no cap"])
def test_idle_keep_alive_time_does_not_count(start_serve: StartServe, cap: int | None) -> None:
    """After a response, a keep-alive connection idle for longer than the head bound (and
    shorter than keep_alive_timeout_s) is not closed; its next request is served, then a
    request whose head stops halfway is closed at the bound, counted from its first bytes."""
    port = _deploy(start_serve, request_header_timeout_s=BOUND_S, keep_alive_timeout_s=10, max_request_header_bytes=cap)
    keep = request("GET", "/heads", {"Host": "x"})
    with socket.create_connection(("127.0.0.1", port), timeout=REPLY_S) as sock:
        for _ in range(2):
            sock.sendall(keep)
            assert parse(_read_response(sock))[0].status == 200
            time.sleep(BOUND_S * 3)
        began = time.monotonic()
        sock.sendall(b"GET /heads HTTP/1.1\r\nHo")
        assert _closed_after(sock, began) >= BOUND_S * 0.8


def test_silent_clients_are_closed_while_others_are_served(start_serve: StartServe) -> None:
    """100 connections that send a request line and part of the headers, then nothing:
    all are closed soon after the bound, while a request in flight and a heartbeat of
    new requests are served."""
    instance = start_serve(request_header_timeout_s=BOUND_S)
    serve.run(Heads.bind(), name="heads", route_prefix="/heads")
    with Bystanders(instance.url):
        socks = [socket.create_connection(("127.0.0.1", instance.server.port), timeout=REPLY_S) for _ in range(100)]
        try:
            began = time.monotonic()
            for sock in socks:
                sock.sendall(b"GET /heads HTTP/1.1\r\nHost: x\r\nX-Part")
            for sock in socks:
                _closed_after(sock, began)
        finally:
            for sock in socks:
                sock.close()


def test_no_bound_keeps_a_silent_client_open(start_serve: StartServe) -> None:
    """With `request_header_timeout_s=None` a silent client's connection stays open past
    where the bound would have closed it (uvicorn's behaviour, and so Ray's). The default
    bound is 30 s."""
    assert DEFAULT_REQUEST_HEADER_TIMEOUT_S == 30.0
    port = _deploy(start_serve, request_header_timeout_s=None)
    with socket.create_connection(("127.0.0.1", port), timeout=REPLY_S) as sock:
        sock.sendall(b"GET /heads HT")
        sock.settimeout(BOUND_S * 4)
        with pytest.raises(TimeoutError):
            sock.recv(1)
