"""ING: the ingress deployment is served over HTTP and its `__call__` gets the request.

The path an app sees is compared with the one the client sent (`response.request.url.path`):
on a shared cluster the session's own route root comes before the test's prefix.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest


@pytest.mark.clause("ING-1")
def test_ing_1_app_served_at_default_prefix(serve, serve_app):
    """Deploys a class without naming a route prefix and GETs the instance's base URL `/`:
    the ingress answers there. The guide's default address is 127.0.0.1:8000; the host is
    checked to be 127.0.0.1, the port is the one pytest-serve chose for the instance."""

    @serve.deployment
    class Root:
        def __call__(self, request):
            return "ing-1 root"

    app = serve_app(Root.bind())
    assert urlsplit(app.base_url).hostname == "127.0.0.1"
    response = app.http.get("/")
    assert response.status_code == 200, response.text
    assert response.text == "ing-1 root"


@pytest.mark.clause("ING-2")
def test_ing_2_call_gets_starlette_request(serve, serve_app):
    """`__call__(self, *args, **kwargs)` reports what it was called with: exactly one
    positional argument, no keywords, a `starlette.requests.Request` whose method, path,
    query and body are those the client sent."""

    @serve.deployment
    class Inspector:
        async def __call__(self, *args, **kwargs):
            from starlette.requests import Request

            request = args[0] if args else None
            return {
                "nargs": len(args),
                "kwargs": sorted(kwargs),
                "is_request": isinstance(request, Request),
                "method": request.method,
                "path": request.url.path,
                "q": request.query_params.get("q"),
                "body": (await request.body()).decode(),
            }

    app = serve_app(Inspector.bind())
    response = app.http.post("/?q=1", content=b"payload")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "nargs": 1,
        "kwargs": [],
        "is_request": True,
        "method": "POST",
        "path": response.request.url.path,
        "q": "1",
        "body": "payload",
    }


@pytest.mark.clause("ING-3")
def test_ing_3_no_arg_call_is_called(serve, serve_app, serve_probe):
    """The guide's `SnoringSleeper` shape: `async def __call__(self)` takes no request.
    A GET succeeds and the handler's own record of being called arrives via the probe."""

    @serve.deployment
    class NoArgs:
        def __init__(self, probe):
            self.probe = probe

        async def __call__(self):
            self.probe.record("no-arg-called")
            return "called without a request"

    app = serve_app(NoArgs.bind(serve_probe))
    response = app.http.get("/")
    assert response.status_code == 200, response.text
    assert response.text == "called without a request"
    serve_probe.wait_for("no-arg-called", timeout=10)


@pytest.mark.clause("ING-3")
def test_ing_3_no_arg_function_is_called(serve, serve_app, serve_probe):
    """The guide's `startled` shape: a function deployment with no parameters (one `async
    def`, one `def`). Each is called for a GET (probe record) and its value is the body."""
    probe = serve_probe

    @serve.deployment
    async def startled():
        probe.record("fn-called", kind="async")
        return "async no-arg"

    @serve.deployment
    def sleepy():
        probe.record("fn-called", kind="sync")
        return "sync no-arg"

    async_app = serve_app(startled.bind(), route_prefix="/startled", name="startled")
    sync_app = serve_app(sleepy.bind(), route_prefix="/sleepy", name="sleepy")
    assert async_app.http.get("/startled").text == "async no-arg"
    assert sync_app.http.get("/sleepy").text == "sync no-arg"
    serve_probe.wait_for("fn-called", kind="async", timeout=10)
    serve_probe.wait_for("fn-called", kind="sync", timeout=10)


@pytest.mark.clause("ING-4")
@pytest.mark.parametrize("flavour", ["async", "sync"])
def test_ing_4_function_deployment_serves_http(serve, serve_app, flavour):
    """A function deployment taking the request (`async def` and `def`) answers GET and
    POST like a class would: its return value, computed from the request, is the body."""

    if flavour == "async":

        @serve.deployment
        async def handler(request):
            body = (await request.body()).decode()
            return {"method": request.method, "path": request.url.path, "body": body}

    else:

        @serve.deployment
        def handler(request):
            q = request.query_params.get("q")
            return {"method": request.method, "path": request.url.path, "q": q}

    app = serve_app(handler.bind(), route_prefix="/fn")
    got = app.http.get("/fn?q=x")
    assert got.status_code == 200, got.text
    assert got.json()["method"] == "GET" and got.json()["path"] == got.request.url.path
    posted = app.http.post("/fn", content=b"data")
    assert posted.status_code == 200, posted.text
    assert posted.json()["method"] == "POST" and posted.json()["path"] == posted.request.url.path
    if flavour == "async":
        assert posted.json()["body"] == "data"
    else:
        assert got.json()["q"] == "x"
