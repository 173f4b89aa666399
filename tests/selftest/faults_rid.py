"""Faults that break the RID clauses (request IDs) of the reference implementation."""

from __future__ import annotations

from faulty import fault


@fault("rid-header-ignored", "RID-1")
def _(mp):
    """The proxy makes up an ID for every request, even when the client sent one."""
    from reference_impl.runtime import proxy

    original = proxy._request_id
    mp.setattr(proxy, "_request_id", lambda scope: original({**scope, "headers": []}))


@fault("rid-hex-ids", "RID-1")
def _(mp):
    """Generated IDs are 32 hex digits, not the UUID form Ray uses."""
    import uuid

    from reference_impl.runtime import proxy

    original = proxy._request_id

    def hex_ids(scope):
        sent = any(name == b"x-request-id" for name, _ in scope["headers"])
        return original(scope) if sent else uuid.UUID(original(scope)).hex

    mp.setattr(proxy, "_request_id", hex_ids)


@fault("rid-not-propagated", "RID-2")
def _(mp):
    """Every handle call gets an ID of its own instead of the request's."""
    from reference_impl import context, handle

    original = handle.DeploymentResponse.__init__

    def init(self, *args, **kwargs):
        token = context.current_request.set(None)
        try:
            original(self, *args, **kwargs)
        finally:
            context.current_request.reset(token)

    mp.setattr(handle.DeploymentResponse, "__init__", init)
