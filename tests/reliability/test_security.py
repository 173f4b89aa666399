"""Security defaults: bind 127.0.0.1; error responses without tracebacks or internals;
`/-/routes` lists only prefixes and app names; bodies over `max_request_body_bytes`
get 413, declared or chunked.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import psutil
import pytest
from direct_serve import SharedEvent, StartServe
from fastapi import FastAPI
from resources import eventually
from starlette.requests import Request
from starlette.responses import StreamingResponse

from reference_impl import serve
from reference_impl.config import HTTPOptions
from reference_impl.config_file import load_config, start_options
from reference_impl.instance import ServeInstance

from .rawhttp import exchange, parse, request

REPLY_S = 10.0
SECRET = "sec-4b1e-do-not-show"
LIMIT = 1000


# -- the bind address ---------------------------------------------------------------------------


def test_default_bind_is_loopback_only(instance: ServeInstance) -> None:
    """Without a host, http_options, config files and the plugin all use 127.0.0.1, and the
    socket really listens on 127.0.0.1 only (not 0.0.0.0 or ::)."""
    assert HTTPOptions().host == "127.0.0.1"
    assert start_options(load_config({"applications": []})).host == "127.0.0.1"  # Ray's schema says 0.0.0.0
    from pytest_serve.manager import InstanceManager

    assert InstanceManager("reference").host == "127.0.0.1"
    listening = [c.laddr for c in psutil.Process().net_connections("inet") if c.status == psutil.CONN_LISTEN]
    assert [(a.ip, a.port) for a in listening] == [("127.0.0.1", instance.server.port)]


# -- error responses ----------------------------------------------------------------------------


class SecretInternalDeployment:
    """A deployment whose names and arguments must never show in a response."""

    def __init__(self, token: str, started: threading.Event) -> None:
        self.token, self.started = token, started

    async def __call__(self, request: Request) -> Any:
        what = request.query_params.get("what")
        if what == "raise":
            raise PermissionError(f"{SECRET} token={self.token}")
        if what == "unencodable":
            return {"token": object()}
        if what == "read":
            return len(await request.body())
        if what == "slow":
            self.started.set()
            await asyncio.sleep(5)
        if what == "stream":

            async def broken() -> Any:
                yield "a"
                raise PermissionError(SECRET)

            return StreamingResponse(broken())
        return "ok"


secret_api = FastAPI()


@secret_api.get("/item/{number}")
async def item(number: int) -> int:
    if number == 13:
        raise PermissionError(SECRET)
    return number


@serve.deployment
@serve.ingress(secret_api)
class SecretApi:
    pass


LEAK_SIGNS = {
    "the secret": SECRET,
    "a traceback": "Traceback",
    "a source reference": 'File "',
    "a Python file": ".py",
    "an exception type": "PermissionError",
    "the deployment class": "SecretInternalDeployment",
    "a replica ID": "#",
    "an implementation module": "reference_impl",
    "a thread name": "serve-",
}


def _leaks(status: int, headers: dict[str, str], body: bytes) -> list[str]:
    # NOTE: `server: uvicorn` and `date` are uvicorn's standard headers (as in Ray); the
    # rest of the response is scanned.
    shown = body.decode("latin-1") + "".join(f"\n{k}: {v}" for k, v in headers.items() if k not in ("server", "date"))
    return [f"{status} shows {what}" for what, sign in LEAK_SIGNS.items() if sign in shown]


@pytest.fixture
def secretive(start_serve: StartServe) -> Iterator[tuple[ServeInstance, threading.Event]]:
    """Function scope · (instance, slow handler started) · request_timeout_s 3, body limit
    1000 bytes, a plain app at /secret (max one ongoing, one queued) and a FastAPI app at /api."""
    instance = start_serve(request_timeout_s=3, max_request_body_bytes=LIMIT)
    started = SharedEvent()
    deployment = serve.deployment(max_ongoing_requests=1, max_queued_requests=1)(SecretInternalDeployment)
    serve.run(deployment.bind(SECRET, started), name="secret", route_prefix="/secret")
    serve.run(SecretApi.bind(), name="api", route_prefix="/api")
    yield instance, started


def test_error_responses_show_no_internals(secretive: tuple[ServeInstance, threading.Event]) -> None:
    """Every error the server itself produces, for raw and FastAPI apps: 500 (exception,
    unencodable value, WebSocket to a plain app), 404 (unrouted, FastAPI), 405, 408, 413,
    422, 503 (backpressure), 400 (malformed), 431 (head too large) and a stream cut by an
    exception. None of the
    bodies or headers carries the exception's message or type, a traceback, a file name,
    the deployment's class, a replica ID or module names."""
    instance, started = secretive
    port = instance.server.port
    seen: dict[str, tuple[int, dict[str, str], bytes]] = {}

    def raw(name: str, data: bytes) -> None:
        response = parse(exchange(port, data, timeout=REPLY_S))[0]
        seen[name] = (response.status, response.headers, response.body)

    def get(name: str, path: str, **kwargs: Any) -> None:
        response = httpx.request(kwargs.pop("method", "GET"), instance.url + path, timeout=REPLY_S, **kwargs)
        seen[name] = (response.status_code, dict(response.headers), response.content)

    get("exception", "/secret?what=raise")
    get("unencodable", "/secret?what=unencodable")
    get("fastapi exception", "/api/item/13")
    get("fastapi 422", "/api/item/x")
    get("fastapi 404", "/api/nothing")
    get("fastapi 405", "/api/item/1", method="DELETE")
    get("unrouted 404", "/nowhere")
    get("413 declared", "/secret?what=read", method="POST", content=b"x" * (LIMIT + 1))
    get("413 chunked", "/secret?what=read", method="POST", content=iter([b"x" * 600, b"x" * 600]))
    raw(
        "websocket to a plain app",
        request(
            "GET",
            "/secret",
            {
                "Host": "x",
                "Connection": "Upgrade",
                "Upgrade": "websocket",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            },
        ),
    )
    raw("malformed", b"GET /secret HTTP/1.1\r\nBad Header: x\r\n\r\n")
    raw("431", request("GET", "/secret", {"Host": "x", "X-Big": "a" * 70_000}))
    raw("stream cut", request("GET", "/secret?what=stream", {"Host": "x"}))
    # One request runs (max_ongoing_requests=1), one waits (max_queued_requests=1): the
    # third is refused with 503; the running one ends at request_timeout_s with 408.
    first = threading.Thread(target=get, args=("408", "/secret?what=slow"))
    first.start()
    assert started.wait(REPLY_S)
    queued = threading.Thread(target=get, args=("queued", "/secret?what=slow"))
    queued.start()
    router = instance.apps["secret"].deployments["SecretInternalDeployment"].router
    assert eventually(lambda: router.queued, lambda count: count == 1, REPLY_S)[0]
    get("503", "/secret?what=ok")
    for thread in (first, queued):
        thread.join(REPLY_S)
        assert not thread.is_alive()
    statuses = {name: status for name, (status, _, _) in seen.items()}
    assert statuses == {
        "exception": 500,
        "unencodable": 500,
        "fastapi exception": 500,
        "fastapi 422": 422,
        "fastapi 404": 404,
        "fastapi 405": 405,
        "unrouted 404": 404,
        "413 declared": 413,
        "413 chunked": 413,
        "websocket to a plain app": 500,
        "malformed": 400,
        "431": 431,
        "stream cut": 200,
        "408": 408,
        "queued": 408,
        "503": 503,
    }
    leaks = [leak for status, headers, body in seen.values() for leak in _leaks(status, headers, body)]
    assert not leaks, leaks


# -- /-/routes ---------------------------------------------------------------------------------------


@serve.deployment
class InternalNameNobodyShouldSee:
    def __init__(self, api_key: str) -> None:
        self.api_key = api_key

    def __call__(self) -> str:
        return "ok"


def test_routes_endpoint_shows_only_prefixes_and_app_names(http: httpx.Client) -> None:
    """GET /-/routes is exactly {prefix: app name}: no deployment names, bound arguments,
    replica counts or handle-only apps (route_prefix=None)."""
    serve.run(InternalNameNobodyShouldSee.options(num_replicas=2).bind(SECRET), name="public-a", route_prefix="/a")
    serve.run(InternalNameNobodyShouldSee.bind(SECRET), name="public-b", route_prefix="/b/c")
    serve.run(InternalNameNobodyShouldSee.bind(SECRET), name="internal", route_prefix=None)
    response = http.get("/-/routes")
    assert response.status_code == 200
    assert response.json() == {"/a": "public-a", "/b/c": "public-b"}
    assert SECRET not in response.text and "InternalName" not in response.text


# -- request body limit -----------------------------------------------------------------------------


@serve.deployment
class BodyLength:
    def __init__(self) -> None:
        self.bodies_read = 0

    async def __call__(self, request: Request) -> str:
        body = await request.body()
        self.bodies_read += 1
        return str(len(body))


body_api = FastAPI()


@body_api.post("/")
async def body_route(request: Request) -> int:
    return len(await request.body())


@serve.deployment
@serve.ingress(body_api)
class BodyApi:
    pass


def _chunks(total: int, size: int = 100) -> Iterator[bytes]:
    for start in range(0, total, size):
        yield b"x" * min(size, total - start)


def test_no_body_limit_by_default(http: httpx.Client) -> None:
    """Without max_request_body_bytes, a 10 MiB body reaches the handler whole (as Ray)."""
    serve.run(BodyLength.bind(), name="len", route_prefix="/len")
    response = http.post("/len", content=b"x" * (10 * 2**20))
    assert (response.status_code, response.text) == (200, str(10 * 2**20))


@pytest.mark.parametrize("path", ["/len", "/api/"], ids=["plain", "fastapi"])
def test_body_over_the_limit_gets_413(start_serve: StartServe, path: str) -> None:
    """max_request_body_bytes = 1000: a body of exactly 1000 bytes, declared or chunked in
    100-byte pieces, reaches the handler whole (200); 1001 bytes, declared (refused before
    dispatch) or chunked (refused as the 1001st byte arrives), get 413 and no handler
    reads them whole. The 413 says only the limit; the app serves on."""
    instance = start_serve(max_request_body_bytes=LIMIT)
    serve.run(BodyLength.bind(), name="len", route_prefix="/len")
    serve.run(BodyApi.bind(), name="api", route_prefix="/api")
    with httpx.Client(base_url=instance.url, timeout=REPLY_S) as client:
        assert client.post(path, content=b"x" * LIMIT).text == str(LIMIT)
        assert client.post(path, content=_chunks(LIMIT)).text == str(LIMIT)
        for body in (b"x" * (LIMIT + 1), _chunks(LIMIT + 1)):
            response = client.post(path, content=body)
            assert (response.status_code, response.text) == (413, f"Request body exceeds the limit of {LIMIT} bytes.")
        assert client.post(path, content=b"small").status_code == 200  # the app still serves
    reads = instance.apps["len"].deployments["BodyLength"].replicas[0].instance.bodies_read
    assert reads == (0 if path == "/api/" else 3), "a handler read an oversized body whole"
