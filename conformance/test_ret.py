"""RET: how a handler's return value becomes the HTTP response."""

from __future__ import annotations

import pytest


def _media_type(response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip().lower()


@pytest.mark.clause("RET-1")
def test_ret_1_json_values_become_json_bodies(serve, serve_app):
    """A plain `__call__` returns the value named by `?v=`: a dict, a list, an int, a
    float and a bool each come back as an `application/json` body that parses to it."""

    @serve.deployment
    class Values:
        def __call__(self, request):
            values = {
                "dict": {"k": 1, "nested": {"list": [1, "a", None]}},
                "list": [1, "a", None, True],
                "int": 42,
                "float": 1.5,
                "bool": True,
            }
            return values[request.query_params["v"]]

    app = serve_app(Values.bind())
    expected = {
        "dict": {"k": 1, "nested": {"list": [1, "a", None]}},
        "list": [1, "a", None, True],
        "int": 42,
        "float": 1.5,
        "bool": True,
    }
    for name, value in expected.items():
        response = app.http.get("/", params={"v": name})
        assert response.status_code == 200, (name, response.text)
        assert _media_type(response) == "application/json", (name, response.headers)
        assert response.json() == value, name


@pytest.mark.clause("RET-1")
def test_ret_1_str_bytes_none_are_plain_text(serve, serve_app):
    """As Ray 2.60 does (observed §1): a returned `str` is sent as itself with
    `text/plain; charset=utf-8` (checked with non-ASCII text), `bytes` as the raw bytes and
    `None` as an empty body, both `text/plain`."""

    @serve.deployment
    class Texts:
        def __call__(self, request):
            values = {"str": "héllo 你好", "bytes": b"\x00\xffraw", "none": None}
            return values[request.query_params["v"]]

    app = serve_app(Texts.bind())
    text = app.http.get("/", params={"v": "str"})
    assert text.status_code == 200, text.text
    assert _media_type(text) == "text/plain"
    assert "charset=utf-8" in text.headers["content-type"].lower().replace(" ", "")
    assert text.content == "héllo 你好".encode()
    raw = app.http.get("/", params={"v": "bytes"})
    assert raw.status_code == 200 and _media_type(raw) == "text/plain", raw.headers
    assert raw.content == b"\x00\xffraw"
    empty = app.http.get("/", params={"v": "none"})
    assert empty.status_code == 200 and _media_type(empty) == "text/plain", empty.headers
    assert empty.content == b""


@pytest.mark.clause("RET-1")
def test_ret_1_fastapi_route_uses_fastapi_encoding(serve, serve_app):
    """The guide's FastAPI example: a route returning "Hello, world!" answers the JSON
    string `"Hello, world!"` (FastAPI's encoding, not plain text)."""
    from fastapi import FastAPI

    fastapi_app = FastAPI()

    @serve.deployment
    @serve.ingress(fastapi_app)
    class MyFastAPIDeployment:
        @fastapi_app.get("/")
        def root(self):
            return "Hello, world!"

    app = serve_app(MyFastAPIDeployment.bind(), route_prefix="/hello")
    response = app.http.get("/hello")
    assert response.status_code == 200, response.text
    assert _media_type(response) == "application/json"
    assert response.content == b'"Hello, world!"'
    assert response.json() == "Hello, world!"


@pytest.mark.clause("RET-2")
def test_ret_2_query_params_become_json_object(serve, serve_app):
    """The guide's `Counter` returns `request.query_params`: `GET /?a=b&c=d` gives the JSON
    object {"a": "b", "c": "d"}; percent-escapes and `+` arrive decoded."""

    @serve.deployment
    class Counter:
        def __call__(self, request):
            return request.query_params

    app = serve_app(Counter.bind())
    response = app.http.get("/?a=b&c=d")
    assert response.status_code == 200, response.text
    assert _media_type(response) == "application/json"
    assert response.json() == {"a": "b", "c": "d"}
    decoded = app.http.get("/?name=%E4%BD%A0&x=a+b%20c")
    assert decoded.json() == {"name": "你", "x": "a b c"}


@pytest.mark.clause("RET-3")
def test_ret_3_response_sent_as_is(serve, serve_app):
    """A returned Starlette `Response` (status 418, a custom header, a custom media type,
    a binary body) and its subclasses (`JSONResponse` 201 with a `location` header,
    `PlainTextResponse` 202) reach the client with status, headers, body and type intact."""

    @serve.deployment
    class Responder:
        def __call__(self, request):
            from starlette.responses import JSONResponse, PlainTextResponse, Response

            kind = request.query_params["r"]
            if kind == "raw":
                return Response(
                    content=b"\x01teapot\x02",
                    status_code=418,
                    headers={"x-custom": "ret-3"},
                    media_type="application/x-ret3",
                )
            if kind == "json":
                return JSONResponse({"created": True}, status_code=201, headers={"location": "/things/1"})
            return PlainTextResponse("accepted", status_code=202, headers={"x-other": "two"})

    app = serve_app(Responder.bind())
    raw = app.http.get("/", params={"r": "raw"})
    assert raw.status_code == 418
    assert raw.headers.get("x-custom") == "ret-3"
    assert _media_type(raw) == "application/x-ret3"
    assert raw.content == b"\x01teapot\x02"
    created = app.http.get("/", params={"r": "json"})
    assert created.status_code == 201
    assert created.headers.get("location") == "/things/1"
    assert _media_type(created) == "application/json"
    assert created.json() == {"created": True}
    text = app.http.get("/", params={"r": "text"})
    assert text.status_code == 202
    assert text.headers.get("x-other") == "two"
    assert _media_type(text) == "text/plain"
    assert text.text == "accepted"
