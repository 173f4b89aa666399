"""The proxy's own HTTP behaviour, through real requests: built-in endpoints, 404, request
IDs, errors, request bodies and methods, and a plain deployment's path/root_path (§3, §4)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse

from reference_impl import serve

NOT_FOUND = "Path '{}' not found. Ping http://.../-/routes for available routes."
TEXT = "text/plain; charset=utf-8"


@serve.deployment
class Echo:
    """Echoes what it saw; `/boom` raises, `/json` returns `await request.json()`."""

    async def __call__(self, request: Request) -> Any:
        path = request.url.path
        if path.endswith("/boom"):
            raise RuntimeError("secret-detail-that-must-not-leak")
        if path.endswith("/json"):
            return await request.json()
        body = await request.body()
        seen = {
            "method": request.method,
            "url_path": path,
            "scope_path": request.scope["path"],
            "root_path": request.scope["root_path"],
            "body": body.decode("latin-1"),
        }
        return JSONResponse(seen, headers={"x-method": request.method})


@pytest.fixture
def echo(http: httpx.Client) -> httpx.Client:
    """Function scope, `httpx.Client`: Echo deployed as app 'p' at /prefix."""
    serve.run(Echo.bind(), name="p", route_prefix="/prefix")
    return http


@pytest.mark.parametrize("path", ["/-/healthz", "/-/routes"])
def test_health_and_routes_503_before_the_first_deploy(http: httpx.Client, path: str) -> None:
    """Until an app with a route is deployed, /-/healthz and /-/routes answer 503 'Route
    table is not populated yet.' (as Ray 2.60's proxy); an app without a route changes nothing."""
    serve.run(Echo.bind(), name="hidden", route_prefix=None)
    response = http.get(path)
    assert (response.status_code, response.text) == (503, "Route table is not populated yet.")
    assert response.headers["content-type"] == TEXT


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_healthz_answers_success(http: httpx.Client, method: str) -> None:
    """Once an app with a route was deployed, /-/healthz answers 200 'success' as
    text/plain; charset=utf-8, to GET and POST, also after that app is deleted."""
    serve.run(Echo.bind(), name="routed", route_prefix="/routed")
    serve.delete("routed")
    response = http.request(method, "/-/healthz")
    assert (response.status_code, response.text) == (200, "success")
    assert response.headers["content-type"] == TEXT


def test_routes_lists_prefix_to_app_name(http: httpx.Client) -> None:
    """/-/routes is a JSON object prefix → app name; route_prefix=None apps are absent."""
    serve.run(Echo.bind(), name="gone", route_prefix="/gone")
    serve.delete("gone")
    assert http.get("/-/routes").json() == {}
    serve.run(Echo.bind(), name="hidden", route_prefix=None)
    serve.run(Echo.bind(), name="a", route_prefix="/a")
    serve.run(Echo.bind(), name="ab", route_prefix="/a/b")
    response = http.get("/-/routes")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert json.loads(response.content) == {"/a": "a", "/a/b": "ab"}


@pytest.mark.parametrize("path", ["/x", "/-/routes/", "/prefixextra", "/PREFIX"])
def test_unrouted_path_gives_rays_404_text(echo: httpx.Client, path: str) -> None:
    """An unrouted path gets 404 with Ray's exact text/plain message."""
    response = echo.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == TEXT
    assert response.text == NOT_FOUND.format(path)


def test_response_has_a_request_id(echo: httpx.Client) -> None:
    """Each routed response carries a fresh x-request-id."""
    ids = {echo.get("/prefix").headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3 and all(ids)


def test_client_request_id_is_echoed(echo: httpx.Client) -> None:
    """An x-request-id sent by the client comes back unchanged."""
    response = echo.get("/prefix", headers={"x-request-id": "client-id-123"})
    assert response.headers["x-request-id"] == "client-id-123"


def test_handler_exception_gives_500_without_traceback(echo: httpx.Client) -> None:
    """A raising handler gives 500 'Internal Server Error' only; the server keeps serving."""
    response = echo.get("/prefix/boom")
    assert response.status_code == 500
    assert "content-type" not in response.headers  # as Ray's 500 for a failing handler
    assert response.text == "Internal Server Error"
    assert echo.get("/prefix/ok").status_code == 200
    assert echo.get("/-/healthz").text == "success"


def test_request_body_and_json_reach_the_handler(echo: httpx.Client) -> None:
    """request.body() returns the bytes sent; request.json() parses a JSON body."""
    assert echo.post("/prefix/b", content=b"hello body").json()["body"] == "hello body"
    assert echo.post("/prefix/json", json={"j": [1, 2]}).json() == {"j": [1, 2]}


def test_invalid_json_body_gives_500(echo: httpx.Client) -> None:
    """request.json() on a non-JSON body raises in the handler, which is a 500 (§4)."""
    response = echo.post("/prefix/json", content=b"not json")
    assert (response.status_code, response.text) == (500, "Internal Server Error")


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"])
def test_every_http_method_reaches_call(echo: httpx.Client, method: str) -> None:
    """All methods reach __call__ with request.method as sent; no automatic 405."""
    response = echo.request(method, "/prefix/m")
    assert response.status_code == 200
    assert response.headers["x-method"] == method
    if method == "HEAD":
        assert response.content == b""
    else:
        assert response.json()["method"] == method


@pytest.mark.parametrize(
    ("path", "url_path"),
    [
        ("/prefix", "/prefix"),
        ("/prefix/", "/prefix/"),
        ("/prefix/x/y", "/prefix/x/y"),
        ("/prefix/x/y/", "/prefix/x/y/"),
        ("/prefix//x", "/prefix//x"),
    ],
)
def test_plain_call_sees_full_path_and_prefix_as_root_path(echo: httpx.Client, path: str, url_path: str) -> None:
    """url.path and scope['path'] include the prefix; scope['root_path'] is the prefix (§3)."""
    seen = echo.get(path).json()
    assert (seen["url_path"], seen["scope_path"]) == (url_path, url_path)
    assert seen["root_path"] == "/prefix"


def test_root_prefix_leaves_root_path_empty(http: httpx.Client) -> None:
    """An app at '/' gets root_path '' and the path as sent."""
    serve.run(Echo.bind(), name="root", route_prefix="/")
    seen = http.get("/some/where").json()
    assert (seen["url_path"], seen["root_path"]) == ("/some/where", "")


def test_prefix_with_space_is_served(http: httpx.Client) -> None:
    """route_prefix '/with space' is reachable as /with%20space; root_path is decoded (§3)."""
    serve.run(Echo.bind(), name="space", route_prefix="/with space")
    seen = http.get("/with%20space/x").json()
    assert (seen["url_path"], seen["root_path"]) == ("/with space/x", "/with space")
