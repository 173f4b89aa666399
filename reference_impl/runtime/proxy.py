"""The HTTP proxy: an ASGI app that routes each request to its app's ingress replicas.

Per request: match the longest route prefix, take a replica slot from the
deployment's router (waiting in line if all are busy), then relay ASGI messages
both ways through an `Exchange`. A task pumps the client's messages; when the
client leaves before the response is complete, a queued request is dropped
(CAN-3) and a running one is cancelled on its replica (CAN-2). Past
`request_timeout_s` the request is cancelled and the client gets 408 (CAN-1). A body
over `max_request_body_bytes`, declared or counted as it arrives (chunked), gets 413.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from ..config import HTTPOptions
from ..context import new_request_id
from ..exceptions import DeploymentUnavailableError, retry_after
from ..multiplex import model_id_of
from ..types import Message, Receive, Scope, Send
from .channel import Channel
from .exchange import Exchange, Finished
from .replica import Replica, ReplicaCall
from .route_table import RouteTable
from .router import BackPressureError, Router

__all__ = ["Endpoint", "Proxy"]

logger = logging.getLogger("reference_impl")

_TEXT = b"text/plain; charset=utf-8"
_JSON = b"application/json"
_DISCONNECTS = frozenset({"http.disconnect", "websocket.disconnect"})
_CLIENT_GONE: Message = {"type": "reference_impl.client_gone"}
_TOO_LARGE: Message = {"type": "reference_impl.body_too_large"}


@dataclass(frozen=True)
class Endpoint:
    """What a route prefix leads to: an app and the router of its ingress deployment."""

    app_name: str
    router: Router[Replica]


class _Flow:
    """Progress of one request through the proxy."""

    __slots__ = ("call", "ex", "settled", "started", "too_large", "waiting")

    def __init__(self, ex: Exchange) -> None:
        self.ex = ex
        self.waiting: asyncio.Future[Replica] | None = None
        self.call: ReplicaCall | None = None
        self.started = False  # the response (or WebSocket accept) has gone out
        self.settled = False  # past this point a disconnect cancels nothing
        self.too_large = False  # the request body passed max_request_body_bytes

    def client_left(self) -> None:
        self.ex.client_gone = True
        self._abandon(_CLIENT_GONE)

    def body_too_large(self) -> None:
        """Drop the request (queued) or cancel it (running); the proxy answers 413."""
        self.too_large = True
        self._abandon(_TOO_LARGE)

    def _abandon(self, reason: Message) -> None:
        """Drop a queued request or cancel a running one; wake the relay with `reason`."""
        if self.waiting is not None:
            self.waiting.cancel()
        if self.call is not None:
            self.call.cancel()
        self.ex.outbox.put(reason)


async def _send_simple(
    send: Send, status: int, body: bytes, content_type: bytes, request_id: str = "", retry_after_s: float | None = None
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if request_id:
        headers.append((b"x-request-id", request_id.encode("latin-1")))
    if retry_after_s is not None:
        headers.append((b"retry-after", retry_after(retry_after_s).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


if sys.version_info >= (3, 11):

    async def _within(timeout: float, work: Coroutine[Any, Any, None]) -> None:
        async with asyncio.timeout(timeout):
            await work

else:  # Python 3.10 has no asyncio.timeout; wait_for runs the work in a task of its own

    async def _within(timeout: float, work: Coroutine[Any, Any, None]) -> None:
        await asyncio.wait_for(work, timeout)


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            return bytes(value).decode("latin-1")
    return new_request_id()


class Proxy:
    def __init__(self, routes: RouteTable[Endpoint], options: HTTPOptions) -> None:
        self._routes = routes
        self._root = options.root_path
        self._timeout = options.request_timeout_s
        self._body_limit = options.max_request_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)

    # -- HTTP ----------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = _route_path(scope, self._root)
        if path is None:
            return await self._not_found(scope["path"], send)
        if path in ("/-/healthz", "/-/routes") and not self._routes.populated:
            return await _send_simple(send, 503, b"Route table is not populated yet.", _TEXT)
        if path == "/-/healthz":
            return await _send_simple(send, 200, b"success", _TEXT)
        if path == "/-/routes":
            table = {prefix: ep.app_name for prefix, ep in self._routes.items()}
            return await _send_simple(send, 200, json.dumps(table, separators=(",", ":")).encode(), _JSON)
        match = self._routes.match(path)
        if match is None:
            return await self._not_found(scope["path"], send)
        if self._body_limit is not None and _declared_length(scope) > self._body_limit:
            return await self._too_large(send)

        flow = _Flow(Exchange(_request_id(scope)))
        scope = _scope_for_app(scope, self._root, match.prefix)
        pump = asyncio.get_running_loop().create_task(self._pump(receive, flow))
        try:
            if self._timeout is None:
                await self._relay(flow, match.target.router, scope, send)
            else:
                try:
                    await _within(self._timeout, self._relay(flow, match.target.router, scope, send))
                except asyncio.TimeoutError:
                    await self._timed_out(flow, send)
        except BackPressureError as err:
            await _send_simple(send, err.status_code, str(err).encode(), _TEXT, flow.ex.request_id, err.retry_after_s)
        except DeploymentUnavailableError as err:
            await _send_simple(send, 503, err.message.encode(), _TEXT, flow.ex.request_id)
        finally:
            if not pump.done():
                pump.cancel()
        if flow.too_large and not flow.started:
            await self._too_large(send)
        # (A response already under way is left incomplete; uvicorn closes the connection.)

    async def _too_large(self, send: Send) -> None:
        body = f"Request body exceeds the limit of {self._body_limit} bytes."
        await _send_simple(send, 413, body.encode(), _TEXT)

    async def _not_found(self, path: str, send: Send) -> None:
        body = f"Path '{path}' not found. Ping http://.../-/routes for available routes."
        await _send_simple(send, 404, body.encode(), _TEXT)

    async def _timed_out(self, flow: _Flow, send: Send) -> None:
        if flow.call is not None:
            flow.call.cancel()
        flow.settled = True
        if not flow.started:
            body = f"Request {flow.ex.request_id} timed out after {self._timeout}s."
            await _send_simple(send, 408, body.encode(), _TEXT, flow.ex.request_id)
        # A response already under way is left incomplete; uvicorn closes the connection.

    async def _pump(self, receive: Receive, flow: _Flow) -> None:
        """Forward client messages to the replica; notice the client leaving."""
        inbox = flow.ex.inbox
        limit, received = self._body_limit, 0
        while True:
            message = await receive()
            if message["type"] in _DISCONNECTS:
                if not flow.settled:
                    flow.client_left()
                else:
                    flow.ex.client_gone = True
                inbox.put(message)
                return
            if limit is not None and message["type"] == "http.request":
                # NOTE: a chunked body declares no length; count what arrives.
                received += len(message.get("body", b""))
                if received > limit:
                    flow.body_too_large()
                    return
            inbox.put(message)

    async def _relay(self, flow: _Flow, router: Router[Replica], scope: Scope, send: Send) -> None:
        model_id = model_id_of(scope["headers"])
        replica = router.try_assign(model_id)
        if replica is None:
            flow.waiting = asyncio.ensure_future(router.assign(model_id))
            try:
                replica = await flow.waiting
            except asyncio.CancelledError:
                if flow.ex.client_gone or flow.too_large:
                    return  # dropped before any replica saw it (CAN-3)
                raise
            finally:
                flow.waiting = None
        if flow.ex.client_gone or flow.too_large:
            router.release(replica)
            return
        flow.call = replica.submit_asgi(scope, flow.ex, lambda: router.release(replica), model_id)
        outbox = flow.ex.outbox
        try:
            await self._forward(flow, outbox, send)
        finally:
            outbox.close()  # a replica still sending is not held waiting for room

    async def _forward(self, flow: _Flow, outbox: Channel[Message | Finished], send: Send) -> None:
        """Send the replica's messages to the client until the replica or the client is done."""
        request_id = flow.ex.request_id.encode("latin-1")
        while True:
            message = await outbox.get()
            if message is _CLIENT_GONE or message is _TOO_LARGE or type(message) is Finished:
                return
            assert isinstance(message, dict)
            kind = message["type"]
            if kind == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id)]
                flow.started = True
            elif kind == "http.response.body":
                if not message.get("more_body", False):
                    flow.settled = True
            elif kind == "websocket.accept":
                # From here the handler sees the client's close as WebSocketDisconnect
                # instead of being cancelled (Ray does the same).
                flow.started = flow.settled = True
            if flow.ex.client_gone:  # set by the pump meanwhile
                continue
            try:
                await send(message)
            except OSError:
                flow.client_left()

    # -- WebSocket -------------------------------------------------------------------

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = _route_path(scope, self._root)
        match = None if path is None else self._routes.match(path)
        if match is None:
            # Ray 2.60 rejects the handshake to an unrouted path with 500.
            await _deny_websocket(scope, send, 500, b"Internal Server Error")
            return
        flow = _Flow(Exchange(_request_id(scope)))
        scope = _scope_for_app(scope, self._root, match.prefix)
        pump = asyncio.get_running_loop().create_task(self._pump(receive, flow))
        try:
            await self._relay(flow, match.target.router, scope, send)
        except (BackPressureError, DeploymentUnavailableError):
            await _deny_websocket(scope, send, 503, b"Service Unavailable")
        finally:
            if not pump.done():
                pump.cancel()


def _route_path(scope: Scope, root: str) -> str | None:
    """The path to route on: without `http_options.root_path`, which clients include (as
    in Ray: all routes are mounted under it); None when the path is outside it."""
    path: str = scope["path"]
    if not root:
        return path
    if path == root or path.startswith(root + "/"):
        return path[len(root) :] or "/"
    return None


def _scope_for_app(scope: Scope, root: str, prefix: str) -> Scope:
    scope = dict(scope)
    scope["root_path"] = root + ("" if prefix == "/" else prefix)
    return scope


def _declared_length(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


async def _deny_websocket(scope: Scope, send: Send, status: int, body: bytes) -> None:
    if "websocket.http.response" in scope.get("extensions", {}):
        await send(
            {
                "type": "websocket.http.response.start",
                "status": status,
                "headers": [(b"content-type", _TEXT), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1011})
