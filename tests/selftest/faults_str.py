"""Faults that break the STR clauses (streaming responses) of the reference implementation.

Each one is a plausible way to get streaming wrong; `test_faults.py` checks that
the STR conformance tests notice it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from faulty import fault

from reference_impl.runtime import proxy, replica

Send = Callable[[dict[str, Any]], Awaitable[None]]


def _buffering(send: Send) -> Send:
    """A `send` that holds body chunks back until the last one."""
    held: list[bytes] = []

    async def buffered(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            held.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            message = {**message, "body": b"".join(held)}
            held.clear()
        await send(message)

    return buffered


def _wrap_relay(mp: pytest.MonkeyPatch, wrap: Callable[[Send], Send]) -> None:
    original = proxy.Proxy._relay

    async def relay(self: Any, flow: Any, router: Any, scope: Any, send: Send) -> None:
        await original(self, flow, router, scope, wrap(send))

    mp.setattr(proxy.Proxy, "_relay", relay)


@fault("proxy-buffers-stream", "STR-1")
def _(mp: pytest.MonkeyPatch) -> None:
    """The proxy collects the whole streamed body and sends it in one piece at the end."""
    _wrap_relay(mp, _buffering)


@fault("ingress-buffers-stream", "STR-2")
def _(mp: pytest.MonkeyPatch) -> None:
    """FastAPI ingress apps run behind a middleware that buffers the response body
    (plain `__call__` deployments still stream)."""
    original = replica.build_asgi_app

    async def build(spec: Any, instance: Any) -> Any:
        app = await original(spec, instance)

        async def buffered_app(scope: Any, receive: Any, send: Send) -> None:
            if scope["type"] == "http":
                send = _buffering(send)
            await app(scope, receive, send)

        return buffered_app

    mp.setattr(replica, "build_asgi_app", build)


@fault("stream-not-cancelled", "STR-3")
def _(mp: pytest.MonkeyPatch) -> None:
    """Once a response has started, the proxy stops relaying when the client leaves but
    tells the replica nothing, so the generator streams on into the void."""
    original = proxy.Proxy._pump

    async def pump(self: Any, receive: Any, flow: Any) -> None:
        async def receive_until_streaming_client_leaves() -> dict[str, Any]:
            message = await receive()
            if message["type"] in proxy._DISCONNECTS and flow.started and not flow.settled:
                flow.ex.client_gone = True
                flow.ex.outbox.put(proxy._CLIENT_GONE)
                await asyncio.Event().wait()  # swallow it: the replica never hears
            return message

        await original(self, receive_until_streaming_client_leaves, flow)

    mp.setattr(proxy.Proxy, "_pump", pump)


@fault("stream-head-rewritten", "STR-4")
def _(mp: pytest.MonkeyPatch) -> None:
    """The proxy answers streamed responses (no Content-Length) with its own head:
    200 and `text/plain; charset=utf-8`."""

    def rewrite(send: Send) -> Send:
        async def rewritten(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if not any(k.lower() == b"content-length" for k, _ in headers):
                    kept = [(k, v) for k, v in headers if k.lower() != b"content-type"]
                    message = {
                        **message,
                        "status": 200,
                        "headers": [*kept, (b"content-type", b"text/plain; charset=utf-8")],
                    }
            await send(message)

        return rewritten

    _wrap_relay(mp, rewrite)
