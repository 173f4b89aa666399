"""Faults that break the WS clauses (WebSockets) of the reference implementation."""

from __future__ import annotations

import asyncio

from faulty import fault


def _filter_client_messages(mp, keep):
    """Make the proxy forward only the client messages for which `keep(message)` is true;
    the others are swallowed (the proxy keeps waiting for the next one)."""
    from reference_impl.runtime import proxy

    original = proxy.Proxy._pump

    async def pump(self, receive, flow):
        async def filtered():
            while True:
                message = await receive()
                if keep(message):
                    return message
                if message["type"] == "websocket.disconnect":
                    await asyncio.Event().wait()  # nothing more will come

        return await original(self, filtered, flow)

    mp.setattr(proxy.Proxy, "_pump", pump)


@fault("ws-messages-not-relayed", "WS-1")
def _(mp):
    """WebSocket messages from the client never reach the handler."""
    _filter_client_messages(mp, lambda m: m["type"] != "websocket.receive")


@fault("ws-disconnect-not-forwarded", "WS-2")
def _(mp):
    """The client's close never reaches the handler, which waits in `receive` forever."""
    _filter_client_messages(mp, lambda m: m["type"] != "websocket.disconnect")


@fault("ws-root-path-unset", "WS-3")
def _(mp):
    """WebSocket requests get no `root_path`, so `@app.websocket` routes ignore the prefix."""
    from reference_impl.runtime import proxy

    original = proxy._scope_for_app

    def scope_for_app(scope, prefix):
        return dict(scope) if scope["type"] == "websocket" else original(scope, prefix)

    mp.setattr(proxy, "_scope_for_app", scope_for_app)
