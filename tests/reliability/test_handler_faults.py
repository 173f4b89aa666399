"""Handler faults (ERR-1): exceptions, exceptions mid-stream, unserializable returns,
handlers that never return, constructors that raise.

Each fault stays with its request: the client gets a clean 500, a truncated stream
that ends (never one that hangs), or 408 at `request_timeout_s`; a failed deploy
names the deployment and leaves nothing of the app behind. The server keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from direct_serve import SharedEvent, StartServe
from fastapi import FastAPI, WebSocket
from resources import Usage, eventually
from starlette.requests import Request
from starlette.responses import StreamingResponse
from websockets.sync.client import connect as ws_connect

from reference_impl import serve
from reference_impl.exceptions import DeploymentStartError
from reference_impl.instance import ServeInstance

from .rawhttp import exchange, parse, request

REPLY_S = 10.0
SECRET = "fault-secret-7c1d"
INTERNAL_ERROR = (500, b"Internal Server Error")


@serve.deployment
def ok() -> str:
    return "ok"


# -- exceptions --------------------------------------------------------------------------------


@serve.deployment
class Raising:
    async def __call__(self, request: Request) -> Any:
        what = request.query_params["what"]
        if what == "raise":
            raise ZeroDivisionError(SECRET)
        if what == "object":
            return object()
        if what == "nested":
            return {"fine": 1, "bad": object()}
        if what == "generator":
            return (i for i in range(3))
        if what == "coroutine":
            return asyncio.sleep(0)
        return "fine"


@serve.deployment
class SyncRaising:
    def __call__(self) -> str:
        raise KeyError(SECRET)


failing_api = FastAPI()


@failing_api.get("/raise")
async def route_raises() -> str:
    raise ZeroDivisionError(SECRET)


@failing_api.get("/object")
def route_returns_object() -> Any:
    return {"bad": object()}


@failing_api.get("/fine")
def route_fine() -> str:
    return "fine"


@serve.deployment
@serve.ingress(failing_api)
class FailingApi:
    pass


@pytest.mark.parametrize(
    "path",
    [
        "/raising?what=raise",
        "/raising?what=object",
        "/raising?what=nested",
        "/raising?what=generator",
        "/raising?what=coroutine",
        "/sync-raising",
        "/api/raise",
        "/api/object",
    ],
)
def test_exception_or_unserializable_return_gives_clean_500(instance: ServeInstance, path: str) -> None:
    """A handler that raises, or returns what cannot be encoded (an object, a generator,
    an un-awaited coroutine): 500 "Internal Server Error" and nothing else (no message,
    type or traceback); the same app and the others answer the next request."""
    serve.run(Raising.bind(), name="raising", route_prefix="/raising")
    serve.run(SyncRaising.bind(), name="sync-raising", route_prefix="/sync-raising")
    serve.run(FailingApi.bind(), name="api", route_prefix="/api")
    serve.run(ok.bind(), name="ok", route_prefix="/ok")
    with httpx.Client(base_url=instance.url, timeout=REPLY_S) as client:
        for _ in range(3):
            response = client.get(path)
            assert (response.status_code, response.content) == INTERNAL_ERROR
            shown = response.text + str(response.headers)
            assert SECRET not in shown and "Error" not in shown.replace("Internal Server Error", "")
        fine = "/api/fine" if path.startswith("/api") else "/raising?what=fine"
        assert client.get(fine).status_code == 200
        assert client.get("/ok").text == "ok"


# -- exceptions mid-stream --------------------------------------------------------------------------


def _sync_chunks(fail_at: int) -> Iterator[str]:
    for i in range(3):
        if i == fail_at:
            raise RuntimeError(SECRET)
        yield f"c{i}\n"
        time.sleep(0.05)


async def _async_chunks(fail_at: int) -> AsyncIterator[str]:
    for i in range(3):
        if i == fail_at:
            raise RuntimeError(SECRET)
        yield f"c{i}\n"
        await asyncio.sleep(0.05)


@serve.deployment
class Streamer:
    async def __call__(self, request: Request) -> StreamingResponse:
        fail_at = int(request.query_params.get("fail_at", 99))
        if request.query_params.get("mode") == "sync":
            return StreamingResponse(_sync_chunks(fail_at), media_type="text/plain")
        return StreamingResponse(_async_chunks(fail_at), media_type="text/plain")


stream_api = FastAPI()


@stream_api.get("/")
def route_streams(fail_at: int = 99) -> StreamingResponse:
    return StreamingResponse(_sync_chunks(fail_at), media_type="text/plain")


@serve.deployment
@serve.ingress(stream_api)
class StreamApi:
    pass


@pytest.mark.parametrize("keep_alive", [False, True], ids=["close", "keep-alive"])
@pytest.mark.parametrize(
    ("path", "received"),
    [
        ("/stream?mode=sync&fail_at=2", b"c0\nc1\n"),
        ("/stream?mode=async&fail_at=1", b"c0\n"),
        ("/stream?mode=async&fail_at=0", b""),
        ("/api/?fail_at=1", b"c0\n"),
    ],
)
def test_exception_mid_stream_truncates_the_response(
    instance: ServeInstance, path: str, received: bytes, keep_alive: bool
) -> None:
    """A generator raises after some chunks (or before the first): the client gets 200,
    the chunks sent so far, then the connection closes without the terminating chunk
    (as with Ray and plain uvicorn), within 3 s; never a 5xx after a 200, never a hang,
    also on a keep-alive connection. A full stream then works."""
    serve.run(Streamer.bind(), name="stream", route_prefix="/stream")
    serve.run(StreamApi.bind(), name="api", route_prefix="/api")
    headers = {"Host": "x"} if keep_alive else {"Host": "x", "Connection": "close"}
    began = time.monotonic()
    responses = parse(exchange(instance.server.port, request("GET", path, headers), timeout=REPLY_S))
    # NOTE: 3 s is far above the stream's 0.1 s and below the 5 s keep-alive timeout, after
    # which an idle connection would be closed anyway.
    assert time.monotonic() - began < 3.0
    assert [(r.status, r.body, r.complete) for r in responses] == [(200, received, False)]
    assert SECRET.encode() not in responses[0].body
    with httpx.Client(base_url=instance.url, timeout=REPLY_S) as client:
        with pytest.raises(httpx.RemoteProtocolError):  # what a client library reports
            client.get(path)
        assert client.get("/stream?mode=async").text == "c0\nc1\nc2\n"


# -- handlers that send without pause ---------------------------------------------------------------

flood_app = FastAPI()
FLOOD_CHUNK = b"x" * 1024


@serve.deployment(max_ongoing_requests=1)
@serve.ingress(flood_app)
class Flood:
    """Sends as fast as it can and never awaits anything else; one request at a time."""

    @flood_app.websocket("/ws")
    async def ws(self, websocket: WebSocket) -> None:
        await websocket.accept()
        while True:
            await websocket.send_bytes(FLOOD_CHUNK)

    @flood_app.get("/http")
    def http(self) -> StreamingResponse:
        async def endless() -> AsyncIterator[bytes]:
            while True:
                yield FLOOD_CHUNK

        return StreamingResponse(endless(), media_type="application/octet-stream")

    @flood_app.get("/ping")
    def ping(self) -> str:
        return "pong"


def _vanish_after_some(instance: ServeInstance, kind: str) -> None:
    """Take some of the flood, then close the socket without a goodbye (no close frame)."""
    if kind == "ws":
        with ws_connect(f"ws://127.0.0.1:{instance.server.port}/flood/ws", open_timeout=REPLY_S) as client:
            for _ in range(10):
                client.recv(timeout=REPLY_S)
            client.socket.close()
        return
    with socket.create_connection(("127.0.0.1", instance.server.port), timeout=REPLY_S) as sock:
        sock.sendall(request("GET", "/flood/http", {"Host": "x"}))
        received = 0
        while received < 64 * 1024:
            received += len(sock.recv(65536))


@pytest.mark.parametrize("kind", ["ws", "http"])
def test_handler_sending_without_pause_to_a_vanished_client(instance: ServeInstance, kind: str) -> None:
    """A WebSocket handler or a stream that sends without ever awaiting anything else
    reaches its client; when the client takes some and vanishes, the proxy keeps answering
    other apps, and the handler's request ends: the replica (one request at a time) serves
    the next one within 10 s."""
    serve.run(Flood.bind(), name="flood", route_prefix="/flood")
    serve.run(ok.bind(), name="ok", route_prefix="/ok")
    _vanish_after_some(instance, kind)
    with httpx.Client(base_url=instance.url, timeout=REPLY_S) as client:
        for _ in range(3):
            assert client.get("/ok").text == "ok"
        assert client.get("/flood/ping").json() == "pong", "the flood's request still holds its replica"


# -- handlers that never return --------------------------------------------------------------------


@serve.deployment(max_ongoing_requests=1)
class Stuck:
    def __init__(self, cancelled: threading.Event) -> None:
        self.cancelled = cancelled

    async def __call__(self, request: Request) -> Any:
        how = request.query_params.get("how")
        if how == "await":
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
        if how == "stream":

            async def endless() -> AsyncIterator[str]:
                while True:
                    yield "x"
                    await asyncio.sleep(0.05)

            return StreamingResponse(endless(), media_type="text/plain")
        if how == "block":
            time.sleep(1.5)  # sync code: nothing can interrupt it
        return "done"


TIMEOUT_S = 0.5
SLACK_S = 1.5  # scheduling delay allowed on a loaded machine


def test_handler_that_never_returns_is_bounded_by_request_timeout(start_serve: StartServe) -> None:
    """With `request_timeout_s` = 0.5: a handler awaiting forever → 408 after ~0.5 s and
    its CancelledError runs; its slot (max_ongoing_requests=1) is free again at once; an
    endless stream is cut at 0.5 s (truncated, connection closed); a handler blocking in
    sync code still gets the client a 408 at 0.5 s, while another app keeps answering."""
    instance = start_serve(request_timeout_s=TIMEOUT_S)
    cancelled = SharedEvent()
    serve.run(Stuck.bind(cancelled), name="stuck", route_prefix="/stuck")
    serve.run(ok.bind(), name="ok", route_prefix="/ok")
    with httpx.Client(base_url=instance.url, timeout=REPLY_S) as client:
        began = time.monotonic()
        response = client.get("/stuck?how=await")
        took = time.monotonic() - began
        assert response.status_code == 408 and TIMEOUT_S <= took < TIMEOUT_S + SLACK_S, (response, took)
        assert cancelled.wait(REPLY_S), "the stuck handler was not cancelled"
        assert client.get("/stuck").text == "done"  # the slot came back

        began = time.monotonic()
        streamed = parse(exchange(instance.server.port, request("GET", "/stuck?how=stream", {"Host": "x"})))
        assert time.monotonic() - began < TIMEOUT_S + SLACK_S
        assert [(r.status, r.complete) for r in streamed] == [(200, False)]
        assert streamed[0].body and set(streamed[0].body) == {ord("x")}

        began = time.monotonic()
        assert client.get("/stuck?how=block").status_code == 408
        assert time.monotonic() - began < TIMEOUT_S + SLACK_S
        assert client.get("/ok").text == "ok"  # other apps are not held up meanwhile


# -- constructors that raise --------------------------------------------------------------------------


class Broken(RuntimeError):
    pass


@serve.deployment(num_replicas=3)
class SecondReplicaFails:
    made = 0
    lock = threading.Lock()

    def __init__(self) -> None:
        with self.lock:
            type(self).made += 1
            if type(self).made >= 2:  # replica 2 fails, also when tried again
                raise Broken("replica 2 cannot load its model")

    def __call__(self) -> str:
        return "never"


@serve.deployment
class Constructs:
    def __init__(self, fail: bool) -> None:
        if fail:
            raise Broken("no model file")

    def __call__(self) -> str:
        return "constructed"


@serve.deployment
class Ingress:
    def __init__(self, down: Any) -> None:
        raise Broken("ingress cannot start")


@contextlib.asynccontextmanager
async def _failing_lifespan(app: FastAPI) -> AsyncIterator[None]:
    raise Broken("lifespan startup failed")
    yield


lifespan_api = FastAPI(lifespan=_failing_lifespan)


@serve.deployment
@serve.ingress(lifespan_api)
class LifespanFails:
    pass


@pytest.mark.parametrize(
    ("app", "deployment", "cause"),
    [
        (Constructs.bind(True), "Constructs", "Broken: no model file"),
        (SecondReplicaFails.bind(), "SecondReplicaFails", "Broken: replica 2 cannot load its model"),
        (Ingress.bind(Constructs.bind(False)), "Ingress", "Broken: ingress cannot start"),
        (LifespanFails.bind(), "LifespanFails", "lifespan startup failed"),
    ],
    ids=["constructor", "second-of-three-replicas", "ingress-after-its-downstream", "lifespan"],
)
def test_failing_deploy_gives_clear_error_and_leaves_nothing_after_delete(
    instance: ServeInstance, app: Any, deployment: str, cause: str
) -> None:
    """serve.run raises DeploymentStartError naming the app and the deployment (the cause
    is in the deployment's status); as Ray, the app stays in serve.status() as DEPLOY_FAILED and its route
    answers 503 while the other apps keep serving; once deleted, every replica thread
    it started (also of deployments that did start) is gone."""
    SecondReplicaFails.func_or_class.made = 0  # type: ignore[attr-defined]
    serve.run(ok.bind(), name="ok", route_prefix="/ok")
    baseline = Usage.now()
    with pytest.raises(DeploymentStartError) as failure:
        serve.run(app, name="broken", route_prefix="/broken")
    message = str(failure.value)
    assert f"Failed to update the deployments ['{deployment}']" in message, message
    status = serve.status().applications["broken"]
    assert status.status == "DEPLOY_FAILED" and cause in status.deployments[deployment].message
    with httpx.Client(base_url=instance.url, timeout=REPLY_S) as client:
        assert client.get("/broken").status_code == 503
        assert client.get("/ok").text == "ok"
    serve.delete("broken")
    ok_, usage = eventually(Usage.now, lambda u: u == baseline, 2.0)
    assert ok_, usage.diff(baseline)


@pytest.mark.parametrize(("replicas", "still_serving"), [(1, False), (5, True)])
def test_failed_redeploy_stops_one_rollout_batch_of_the_running_version(
    instance: ServeInstance, replicas: int, still_serving: bool
) -> None:
    """Redeploying with a constructor that raises fails with DeploymentStartError and
    leaves the app DEPLOY_FAILED. As in Ray's rolling update, max(1, 20 %) of the
    running version's replicas were already stopped: with one replica the route
    answers 503, with five the other four keep answering."""
    serve.run(Constructs.options(num_replicas=replicas).bind(False), name="app", route_prefix="/app")
    with pytest.raises(DeploymentStartError, match="Constructs"):
        serve.run(Constructs.options(num_replicas=replicas).bind(True), name="app", route_prefix="/app")
    with httpx.Client(base_url=instance.url, timeout=REPLY_S) as client:
        response = client.get("/app")
    assert (response.status_code, response.text == "constructed") == ((200, True) if still_serving else (503, False))
    status = serve.status().applications["app"]
    assert status.status == "DEPLOY_FAILED"
    assert status.deployments["Constructs"].replica_states == ({"RUNNING": replicas - 1} if still_serving else {})
    assert "during a rolling update" in status.deployments["Constructs"].message
