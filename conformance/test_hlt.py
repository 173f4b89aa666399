"""HLT: the proxy's own endpoints, `/-/healthz` and `/-/routes` (beyond the guide)."""

from __future__ import annotations

import pytest

from pytest_serve import wait_until

NOT_POPULATED = (503, "Route table is not populated yet.")


def _both(http) -> list[tuple[int, str]]:
    return [(r.status_code, r.text) for r in (http.get("/-/healthz"), http.get("/-/routes"))]


@pytest.mark.serve_fresh_instance
@pytest.mark.clause("HLT-1")
def test_hlt_1_not_populated_until_an_app_with_a_route(serve, serve_app):
    """On a fresh instance both endpoints answer 503 "Route table is not populated yet."
    (text/plain), still after an app without a route is deployed; once an app with a
    route runs they answer 200 `success` and the JSON route table, and still 200 (with
    `{}`) after that app is deleted."""

    @serve.deployment
    def hlt_hello():
        return "hello"

    hidden = serve_app(hlt_hello.bind(), route_prefix=None, name="hlt-hidden")
    assert _both(hidden.http) == [NOT_POPULATED, NOT_POPULATED]
    assert hidden.http.get("/-/healthz").headers["content-type"] == "text/plain; charset=utf-8"
    routed = serve_app(hlt_hello.bind(), route_prefix="/hlt1", name="hlt-routed")
    assert routed.http.get("/hlt1").text == "hello"
    assert _both(routed.http) == [(200, "success"), (200, '{"/hlt1":"hlt-routed"}')]
    serve.delete("hlt-routed")
    wait_until(
        lambda: routed.http.get("/hlt1").status_code == 404, timeout=10, message="the deleted route still answers"
    )
    assert _both(routed.http) == [(200, "success"), (200, "{}")]
