"""Faults that break the recommended operations clause (OPS-1) of the reference."""

from __future__ import annotations

import pytest
from faulty import fault

from reference_impl import instance


@fault("ops-delete-leaks-replicas", "OPS-1")
def _(mp: pytest.MonkeyPatch) -> None:
    """Deleting an app retires its routers but never stops its replicas' threads."""

    def stop(self: instance.RunningApp) -> None:
        for dep in self.deployments.values():
            dep.router.retire()

    mp.setattr(instance.RunningApp, "stop", stop)


@fault("ops-delete-keeps-route", "OPS-1")
def _(mp: pytest.MonkeyPatch) -> None:
    """Deleting an app stops its replicas but leaves its route prefix in the route table."""

    def delete(self: instance.ServeInstance, name: str) -> bool:
        with self._lock:
            app = self.apps.pop(name, None)
        if app is None:
            return False
        app.stop()
        return True

    mp.setattr(instance.ServeInstance, "delete", delete)


@fault("rdp-in-flight-killed", "RDP-1")
def _(mp):
    """A replaced application's replicas stop at once, cutting off the requests under way."""
    from reference_impl import instance

    original = instance.RunningApp.stop
    mp.setattr(instance.RunningApp, "stop", lambda self, drain=True: original(self, drain=False))


@fault("bp-queue-unbounded", "BP-1", "BP-2")
def _(mp):
    """`max_queued_requests` is ignored: every request waits for the replica."""
    from reference_impl.runtime import router

    original = router.Router.__init__

    def unbounded(self, name, replicas, max_ongoing, max_queued=-1):
        original(self, name, replicas, max_ongoing, -1)

    mp.setattr(router.Router, "__init__", unbounded)


@fault("bp-503-without-request-id", "BP-1")
def _(mp):
    """The backpressure 503 carries no `x-request-id`."""
    from reference_impl.runtime import proxy

    original = proxy._send_simple

    async def without_id(send, status, body, content_type, request_id=""):
        await original(send, status, body, content_type, "" if status == 503 else request_id)

    mp.setattr(proxy, "_send_simple", without_id)


@fault("hlt-healthy-before-routes", "HLT-1")
def _(mp):
    """The proxy reports itself healthy before it has a route table."""
    from reference_impl.runtime import route_table as routes

    mp.setattr(routes.RouteTable, "populated", property(lambda self: True, lambda self, value: None), raising=False)


@fault("bp-downstream-is-500", "BP-3")
def _(mp):
    """A downstream BackPressureError reaches the client as the handler's 500."""
    from reference_impl.runtime import replica

    mp.setattr(replica, "_UNAVAILABLE", ())


@fault("bp-config-ignored", "BP-4")
def _(mp):
    """`backpressure_config` is accepted but every rejection is a 503 without Retry-After."""
    from reference_impl.runtime import router

    original = router.Router.__init__

    def init(self, name, replicas, max_ongoing, max_queued, rejection=(503, None)):
        original(self, name, replicas, max_ongoing, max_queued)

    mp.setattr(router.Router, "__init__", init)
