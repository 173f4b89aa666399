"""FastAPI ingress through real requests: validation, 405, middleware, lifespan, factories,
paths under a prefix and the trailing-slash redirect (observed §9)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from pydantic import BaseModel

from reference_impl import api as serve_api
from reference_impl import serve
from reference_impl.exceptions import DeploymentStartError
from reference_impl.instance import ServeInstance

api = FastAPI()


@api.middleware("http")
async def add_header(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    response = await call_next(request)
    response.headers["x-mw"] = "yes"
    return response


class Item(BaseModel):
    x: int
    y: int


@api.get("/typed")
def typed(n: int) -> dict[str, int]:
    return {"n": n}


@api.post("/item")
def item(body: Item) -> Item:
    return body


@api.get("/")
def root() -> str:
    return "root"


@serve.deployment
@serve.ingress(api)
class Api:
    def __init__(self) -> None:
        self.name = "bound"

    @api.get("/where")
    def where(self, request: Request) -> dict[str, str]:
        scope = request.scope
        return {"self": self.name, "path": request.url.path, "root_path": scope["root_path"]}


def build_app() -> FastAPI:
    app = FastAPI()

    @app.get("/hi")
    def hi() -> dict[str, str]:
        return {"from": "builder"}

    return app


@serve.deployment
@serve.ingress(build_app)
class Built:
    pass


@pytest.fixture
def fa(http: httpx.Client) -> httpx.Client:
    """Function scope, `httpx.Client`: the Api deployment at /fa."""
    serve.run(Api.bind(), name="fa", route_prefix="/fa")
    return http


@pytest.mark.parametrize(
    ("request_args", "body"),
    [
        (
            ("GET", "/fa/typed?n=abc"),
            b'{"detail":[{"type":"int_parsing","loc":["query","n"],"msg":"Input should be a valid '
            b'integer, unable to parse string as an integer","input":"abc"}]}',
        ),
        (
            ("GET", "/fa/typed"),
            b'{"detail":[{"type":"missing","loc":["query","n"],"msg":"Field required","input":null}]}',
        ),
    ],
    ids=["bad-int", "missing"],
)
def test_validation_error_is_fastapis_422(fa: httpx.Client, request_args: tuple[str, str], body: bytes) -> None:
    """A bad or missing typed query parameter gives FastAPI's exact 422 JSON body."""
    response = fa.request(*request_args)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"
    assert response.content == body


def test_body_model_validation_lists_every_error(fa: httpx.Client) -> None:
    """A bad body model gives 422 with one entry per bad field (§9)."""
    response = fa.post("/fa/item", json={"x": "nope"})
    assert response.status_code == 422
    assert [(e["type"], e["loc"]) for e in response.json()["detail"]] == [
        ("int_parsing", ["body", "x"]),
        ("missing", ["body", "y"]),
    ]


def test_wrong_method_is_405_with_allow(fa: httpx.Client) -> None:
    """POST to a GET route gives 405 {"detail":"Method Not Allowed"} and allow: GET."""
    response = fa.post("/fa/typed")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert response.content == b'{"detail":"Method Not Allowed"}'


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/fa/typed?n=1", 200), ("GET", "/fa/nothere", 404), ("POST", "/fa/typed", 405), ("GET", "/fa/typed", 422)],
)
def test_middleware_header_on_every_response(fa: httpx.Client, method: str, path: str, status: int) -> None:
    """@app.middleware("http") runs for 200, 404, 405 and 422 responses alike."""
    response = fa.request(method, path)
    assert response.status_code == status
    assert response.headers["x-mw"] == "yes"


def test_route_method_sees_self_path_and_root_path(fa: httpx.Client) -> None:
    """A route method gets the replica as self; url.path has the prefix, root_path is it."""
    assert fa.get("/fa/where").json() == {"self": "bound", "path": "/fa/where", "root_path": "/fa"}


def test_get_slash_route_under_prefix_redirects(fa: httpx.Client, instance: ServeInstance) -> None:
    """@app.get("/") under /fa: GET /fa is a 307 to /fa/, which answers 200 (§9)."""
    response = fa.get("/fa")
    assert response.status_code == 307
    assert response.headers["location"] == f"{instance.url}/fa/"
    assert (fa.get("/fa/").status_code, fa.get("/fa/").json()) == (200, "root")


def test_ingress_accepts_a_factory_function(http: httpx.Client) -> None:
    """@serve.ingress(function returning FastAPI) serves that app, docs included."""
    serve.run(Built.bind(), name="fb", route_prefix="/fb")
    assert http.get("/fb/hi").json() == {"from": "builder"}
    assert http.get("/fb/docs").status_code == 200


def test_lifespan_starts_before_run_returns_and_stops_on_delete(http: httpx.Client) -> None:
    """Lifespan startup has run when serve.run returns; shutdown runs on serve.delete."""
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    app = FastAPI(lifespan=lifespan)

    @app.get("/events")
    def seen() -> list[str]:
        return list(events)

    @serve.deployment
    @serve.ingress(app)
    class WithLifespan:
        pass

    serve.run(WithLifespan.bind(), name="life", route_prefix="/life")
    assert events == ["startup"]
    assert http.get("/life/events").json() == ["startup"]
    serve.delete("life")
    assert events == ["startup", "shutdown"]
    assert http.get("/life/events").status_code == 404


def test_failing_lifespan_startup_fails_the_deploy(http: httpx.Client) -> None:
    """A lifespan that raises at startup makes serve.run raise; nothing is routed."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        raise RuntimeError("no database")
        yield  # pragma: no cover

    app = FastAPI(lifespan=lifespan)

    @serve.deployment
    @serve.ingress(app)
    class BrokenLifespan:
        pass

    with pytest.raises(DeploymentStartError, match="BrokenLifespan"):
        serve.run(BrokenLifespan.bind(), name="broken", route_prefix="/broken")
    # As on Ray, the cause is in the deployment's status, not in serve.run's error.
    assert "RuntimeError: no database" in serve.status().applications["broken"].deployments["BrokenLifespan"].message
    assert http.get("/broken").status_code == 503
    assert serve.status().applications["broken"].status == "DEPLOY_FAILED"


def test_http_options_root_path_mounts_the_apps() -> None:
    """Ray's test_root_path: root_path '/api', app at '/': GET /api/hello → root_path '/api'."""
    app = FastAPI()

    @app.get("/hello")
    def hello(request: Request) -> dict[str, str]:
        return {"hello": request.scope["root_path"]}

    @serve.deployment
    @serve.ingress(app)
    class Mounted:
        pass

    serve.start(http_options={"port": 0, "root_path": "/api"})
    serve.run(Mounted.bind())
    instance = serve_api.running_instance()
    assert instance is not None
    response = httpx.get(f"{instance.url}/api/hello", timeout=10)
    assert (response.status_code, response.json()) == (200, {"hello": "/api"})
