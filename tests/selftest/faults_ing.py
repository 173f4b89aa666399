"""Faults that break the ING clauses (HTTP ingress) of the reference implementation."""

from __future__ import annotations

from faulty import fault


@fault("ing-root-prefix-unrouted", "ING-1")
def _(mp):
    """An app at the default prefix `/` is never matched by the route table."""
    from reference_impl.runtime import route_table as routes

    original = routes.RouteTable.match

    def match(self, path):
        found = original(self, path)
        return None if found is not None and found.prefix == "/" else found

    mp.setattr(routes.RouteTable, "match", match)


@fault("ing-call-gets-scope", "ING-2")
def _(mp):
    """`__call__` gets the raw ASGI scope dict instead of a Starlette Request."""
    from reference_impl.runtime import replica

    mp.setattr(replica, "Request", lambda scope, receive, send: scope)


@fault("ing-no-arg-call-gets-request", "ING-3")
def _(mp):
    """A `__call__`/function without parameters is called with the request anyway."""
    from reference_impl.runtime import replica

    mp.setattr(replica, "_takes_argument", lambda fn: True)


@fault("ing-function-deployment-unserved", "ING-4")
def _(mp):
    """Function deployments deploy but have nothing to call: every request gets 500."""
    from reference_impl.runtime import replica

    original = replica.Replica._start

    async def start(self):
        await original(self)
        if self.deployment.is_function:
            self._call_target = None

    mp.setattr(replica.Replica, "_start", start)
