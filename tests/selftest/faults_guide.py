"""Faults that the guide's own examples (conformance/test_guide.py) must notice.

Most clauses the examples demonstrate are broken by a fault in another file, and the
guide tests fail under it. The faults here cover what none of those touches: the part
of a clause that only the guide's example exercises.
"""

from __future__ import annotations

import asyncio

from faulty import fault


@fault("fa-plain-function-routes-dropped", "FA-4")
def _(mp):
    """An existing FastAPI app loses the routes that are not methods of the wrapping
    class, so the guide's `FastAPIWrapper` (an empty class around `@app.get("/") def f`)
    serves nothing but FastAPI's own pages."""
    from fastapi import FastAPI
    from fastapi.routing import APIRoute, APIWebSocketRoute

    from reference_impl import ingress
    from reference_impl.runtime import replica

    original = replica.build_asgi_app

    async def build(spec, instance):
        app = await original(spec, instance)
        if isinstance(app, FastAPI):
            app.router.routes[:] = [
                route
                for route in app.router.routes
                if not isinstance(route, APIRoute | APIWebSocketRoute)
                or ingress._defined_in(route.endpoint, type(instance))
            ]
            mark_changed = getattr(app.router, "_mark_routes_changed", None)
            if mark_changed is not None:  # FastAPI >= 0.160 caches its route lists
                mark_changed()
        return app

    mp.setattr(replica, "build_asgi_app", build)


@fault("stream-left-running", "STR-3")
def _(mp):
    """Once a response has started, a client that leaves reaches the replica neither as a
    cancellation nor as `http.disconnect`: the proxy stops relaying, and the generator
    streams on into nothing until the app is deleted."""
    from reference_impl.runtime import proxy

    original = proxy.Proxy._pump

    async def pump(self, receive, flow):
        async def hiding_late_disconnect():
            message = await receive()
            if message["type"] == "http.disconnect" and flow.started:
                flow.ex.client_gone = True
                flow.ex.outbox.put(proxy._CLIENT_GONE)  # the proxy stops relaying
                await asyncio.Event().wait()  # and the replica never hears of it
            return message

        return await original(self, hiding_late_disconnect, flow)

    mp.setattr(proxy.Proxy, "_pump", pump)
