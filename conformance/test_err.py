"""ERR — errors (recommended, beyond the guide): handler exceptions, malformed HTTP,
oversized headers and bad config values.

A failure must give a clear error and nothing more: no traceback in a response, no
hang (every client here has a bounded timeout), and the server keeps serving the same
app, other apps and requests already in flight.
"""

from __future__ import annotations

import socket
import threading
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from pytest_serve import http_client, raw_request

# A bounded wait for any single exchange: far above a healthy answer, far below a hang.
REPLY_TIMEOUT_S = 10.0

# Byte strings that are not HTTP/1.x requests; observed Ray answers each with 400.
MALFORMED = {
    "garbage request line": b"GARBAGE\r\n\r\n",
    "unknown HTTP version": b"GET / HTTP/9.9\r\n\r\n",
    "TLS ClientHello bytes": bytes.fromhex("16030100a5010000a10303") + bytes(range(32)) + b"\r\n\r\n",
}


def _assert_no_leak(response: httpx.Response, secret: str) -> None:
    """The response (body and headers) reveals nothing of the exception `secret` was raised with."""
    shown = response.text + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    signs = {
        "the exception message": secret,
        "the exception type": "ZeroDivisionError",
        "a traceback": "Traceback",
        "a source line reference": 'File "',
        "a Python file path": ".py",
    }
    leaks = [what for what, sign in signs.items() if sign in shown]
    assert not leaks, f"the 500 response reveals {', '.join(leaks)}:\n{shown}"


@pytest.mark.clause("ERR-1")
def test_err_1_handler_exception_gives_clean_500(serve: Any, serve_app: Any, serve_probe: Any) -> None:
    """A handler raises (the probe shows it ran): the client gets 500 whose body and headers
    carry neither the exception's message or type nor a traceback or file path. Then the same
    app answers a good request and another app keeps answering, after several failures."""
    secret = f"err1-secret-{uuid.uuid4().hex}"

    @serve.deployment
    class Fragile:
        def __init__(self, probe: Any) -> None:
            self.probe = probe

        async def __call__(self, request: Any) -> str:
            if request.query_params.get("fail"):
                self.probe.record("raising")
                raise ZeroDivisionError(secret)
            return "fine"

    @serve.deployment
    def other() -> str:
        return "other"

    fragile = serve_app(Fragile.bind(serve_probe), route_prefix="/err1", name="err1")
    bystander = serve_app(other.bind(), route_prefix="/err1-other", name="err1-other")
    for _ in range(3):
        response = fragile.http.get("/err1", params={"fail": "1"}, timeout=REPLY_TIMEOUT_S)
        assert response.status_code == 500, f"a raising handler gave {response.status_code}: {response.text!r}"
        _assert_no_leak(response, secret)
    good = fragile.http.get("/err1", timeout=REPLY_TIMEOUT_S)
    assert (good.status_code, good.text) == (200, "fine"), "the app stopped serving after its handler raised"
    # The 500s came from the handler raising, not from the request missing it.
    serve_probe.wait_for("raising", count=3, timeout=REPLY_TIMEOUT_S)
    other_response = bystander.http.get("/err1-other", timeout=REPLY_TIMEOUT_S)
    assert (other_response.status_code, other_response.text) == (200, "other"), (
        "another app stopped serving after a handler raised"
    )


@pytest.mark.clause("ERR-1")
def test_err_1_fastapi_route_exception_gives_clean_500(serve: Any, serve_app: Any, serve_probe: Any) -> None:
    """The same through a FastAPI ingress: a route raises → 500 with no traceback, message
    or type; the app's other route still answers."""
    from fastapi import FastAPI

    secret = f"err1-fa-secret-{uuid.uuid4().hex}"
    fastapi_app = FastAPI()

    @serve.deployment
    @serve.ingress(fastapi_app)
    class Api:
        def __init__(self, probe: Any) -> None:
            self.probe = probe

        @fastapi_app.get("/boom")
        async def boom(self) -> str:
            self.probe.record("raising")
            raise ZeroDivisionError(secret)

        @fastapi_app.get("/ok")
        async def ok(self) -> str:
            return "fine"

    app = serve_app(Api.bind(serve_probe), route_prefix="/err1fa", name="err1fa")
    response = app.http.get("/err1fa/boom", timeout=REPLY_TIMEOUT_S)
    serve_probe.wait_for("raising", timeout=REPLY_TIMEOUT_S)
    assert response.status_code == 500, f"a raising route gave {response.status_code}: {response.text!r}"
    _assert_no_leak(response, secret)
    good = app.http.get("/err1fa/ok", timeout=REPLY_TIMEOUT_S)
    assert (good.status_code, good.json()) == (200, "fine"), "the app stopped serving after a route raised"


def _send_raw(base_url: str, data: bytes) -> bytes:
    """Send `data` on a fresh connection; return what came back before the server closed.
    Fails if the server neither answers nor closes within REPLY_TIMEOUT_S."""
    parts = urlsplit(base_url)
    received = b""
    with socket.create_connection((parts.hostname, parts.port), timeout=REPLY_TIMEOUT_S) as sock:
        sock.sendall(data)
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return received
                received += chunk
                if b"\r\n\r\n" in received and _complete(received):
                    return received
        except TimeoutError:
            raise AssertionError(
                f"the server neither answered nor closed within {REPLY_TIMEOUT_S} s after "
                f"{data[:40]!r}; received {received[:200]!r}"
            ) from None
        except ConnectionResetError:
            return received


def _complete(response: bytes) -> bool:
    head, _, body = response.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False


@pytest.mark.clause("ERR-2")
def test_err_2_malformed_requests_are_rejected(serve: Any, serve_app: Any, serve_probe: Any) -> None:
    """While a slow request is in flight (the probe shows its handler started), send
    non-HTTP bytes on new connections: each gets a 4xx response (505 for the version) or a
    clean close, within a bounded time. The in-flight request then completes with 200 and
    the app answers new requests."""

    @serve.deployment
    class Slow:
        def __init__(self, probe: Any) -> None:
            self.probe = probe

        async def __call__(self, request: Any) -> str:
            import asyncio

            if request.query_params.get("slow"):
                self.probe.record("slow-started")
                await asyncio.sleep(1.0)
            return "done"

    app = serve_app(Slow.bind(serve_probe), route_prefix="/err2", name="err2")
    outcome: dict[str, Any] = {}

    def slow_request() -> None:
        try:
            with http_client(timeout=REPLY_TIMEOUT_S * 2) as client:
                outcome["response"] = client.get(app.url + "?slow=1")
        except Exception as err:  # reported by the assertion below
            outcome["error"] = err

    client = threading.Thread(target=slow_request, daemon=True)
    client.start()
    try:
        serve_probe.wait_for("slow-started", timeout=REPLY_TIMEOUT_S)
        for what, data in MALFORMED.items():
            reply = _send_raw(app.base_url, data)
            if reply:
                status_line = reply.split(b"\r\n", 1)[0]
                parts = status_line.split(b" ")
                status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
                assert status_line.startswith(b"HTTP/1.") and (400 <= status < 500 or status == 505), (
                    f"{what} ({data[:30]!r}) got {reply[:200]!r}; expected a 4xx response or a close"
                )
    finally:
        client.join(REPLY_TIMEOUT_S * 2 + 5)
    assert not client.is_alive(), "the in-flight request never finished"
    assert "error" not in outcome, f"the in-flight request was lost: {outcome.get('error')!r}"
    response = outcome["response"]
    assert (response.status_code, response.text) == (200, "done"), (
        f"the in-flight request got {response.status_code} {response.text!r}"
    )
    after = app.http.get("/err2", timeout=REPLY_TIMEOUT_S)
    assert (after.status_code, after.text) == (200, "done"), "the app stopped serving after malformed requests"


@pytest.mark.clause("ERR-2")
def test_err_2_oversized_header_gets_answer(serve: Any, serve_app: Any) -> None:
    """A request with one 100 KB header gets, within a bounded time, either a normal 2xx
    (observed Ray accepts it) or a clear 400/413/431 refusal, never a 5xx, a silent close or
    a hang; the app answers a normal request afterwards."""

    @serve.deployment
    def ok() -> str:
        return "ok"

    app = serve_app(ok.bind(), route_prefix="/err2h", name="err2h")
    try:
        status, raw = raw_request(app.url, headers={"X-Big": "a" * 100_000}, timeout=REPLY_TIMEOUT_S)
    except TimeoutError:
        pytest.fail(f"no answer within {REPLY_TIMEOUT_S} s to a request with a 100 KB header")
    except ConnectionResetError:
        status, raw = 0, b""
    assert 200 <= status < 300 or status in (400, 413, 431), (
        f"a request with a 100 KB header got status {status or 'none (closed)'}: {raw[:200]!r}"
    )
    after = app.http.get("/err2h", timeout=REPLY_TIMEOUT_S)
    assert (after.status_code, after.text) == (200, "ok"), "the app stopped serving after an oversized header"


@pytest.mark.clause("ERR-2")
def test_err_2_bad_config_value_names_the_field(serve_config: Any, serve_module: Any) -> None:
    """Deploying a Serve config whose `http_options.keep_alive_timeout_s` is `"abc"` fails,
    and the error names the field `keep_alive_timeout_s` (Ray: a validation error)."""
    module = serve_module(
        """
        @serve.deployment
        def ok():
            return "ok"

        app = ok.bind()
        """
    )
    config = {
        "http_options": {"keep_alive_timeout_s": "abc"},
        "applications": [{"name": "err2c", "route_prefix": "/err2c", "import_path": f"{module}:app"}],
    }
    with pytest.raises(pytest.fail.Exception) as failure:
        serve_config(config)
    assert "keep_alive_timeout_s" in str(failure.value), (
        f"the error does not name the bad field keep_alive_timeout_s: {failure.value}"
    )
