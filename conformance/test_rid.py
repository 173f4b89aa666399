"""RID: request IDs (beyond the guide)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest


def _ids_app(serve: Any) -> Any:
    """An ingress that answers its own request ID and the one a downstream call sees.

    The ID is read where Ray keeps it, `serve.context._get_serve_request_context()`."""
    _get_serve_request_context = serve.context._get_serve_request_context

    @serve.deployment
    class RidDown:
        def __call__(self) -> str:
            return _get_serve_request_context().request_id

    @serve.deployment
    class RidUp:
        def __init__(self, down: Any) -> None:
            self.down = down

        async def __call__(self, request: Any) -> dict[str, str]:
            own = _get_serve_request_context().request_id
            return {"own": own, "down": await self.down.remote()}

    return RidUp.bind(RidDown.bind())


@pytest.mark.clause("RID-1")
def test_rid_1_sent_id_is_used_and_returned(serve, serve_app):
    """A request with `X-Request-Id: rid-1-abc` gets that value back in `x-request-id`,
    and the handler's request context carries it."""
    app = serve_app(_ids_app(serve), route_prefix="/rid1")
    response = app.http.get("/rid1", headers={"X-Request-Id": "rid-1-abc"})
    assert response.status_code == 200, response.text
    assert response.headers.get("x-request-id") == "rid-1-abc"
    assert response.json()["own"] == "rid-1-abc"


@pytest.mark.clause("RID-1")
def test_rid_1_generated_id_is_a_uuid4(serve, serve_app):
    """Without the header each response carries a new ID in `str(uuid.uuid4())` form,
    and it is the one the handler read."""
    app = serve_app(_ids_app(serve), route_prefix="/rid1g")
    seen = set()
    for _ in range(3):
        response = app.http.get("/rid1g")
        assert response.status_code == 200, response.text
        returned = response.headers.get("x-request-id", "")
        parsed = uuid.UUID(returned)  # raises for anything else
        assert str(parsed) == returned and parsed.version == 4, returned
        assert response.json()["own"] == returned
        seen.add(returned)
    assert len(seen) == 3, seen


@pytest.mark.clause("RID-2")
def test_rid_2_handle_calls_carry_the_request_id(serve, serve_app):
    """A handle call made while serving a request sees the same request ID downstream,
    whether the client sent it or the proxy made it up."""
    app = serve_app(_ids_app(serve), route_prefix="/rid2")
    sent = app.http.get("/rid2", headers={"X-Request-Id": "rid-2-xyz"}).json()
    assert sent == {"own": "rid-2-xyz", "down": "rid-2-xyz"}
    response = app.http.get("/rid2")
    assert response.json() == {"own": response.headers["x-request-id"], "down": response.headers["x-request-id"]}
