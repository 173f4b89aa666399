"""FA: FastAPI apps served through `@serve.ingress`."""

# No `from __future__ import annotations`: FastAPI reads the route functions' annotations,
# and string annotations naming classes local to a test (`Item`) would not resolve.
import re

import pytest


@pytest.mark.clause("FA-1")
def test_fa_1_route_methods_bound_to_replica(serve, serve_app, serve_probe):
    """Route methods read and change state that `__init__` set from its bound arguments:
    the greeting comes back, a counter kept on `self` grows across requests, and the
    route's `id(self)` is the id `__init__` recorded through the probe."""
    from fastapi import FastAPI

    fastapi_app = FastAPI()

    @serve.deployment
    @serve.ingress(fastapi_app)
    class Greeter:
        def __init__(self, greeting, probe):
            self.greeting = greeting
            self.count = 0
            probe.record("init", instance=f"{id(self)}")

        @fastapi_app.get("/greet")
        def greet(self):
            self.count += 1
            return {"greeting": self.greeting, "count": self.count, "instance": f"{id(self)}"}

    app = serve_app(Greeter.bind("bonjour", serve_probe), route_prefix="/fa1")
    first = app.http.get("/fa1/greet")
    assert first.status_code == 200, first.text
    second = app.http.get("/fa1/greet")
    assert second.status_code == 200, second.text
    init = serve_probe.wait_for("init", timeout=10)
    assert first.json() == {"greeting": "bonjour", "count": 1, "instance": init.data["instance"]}
    assert second.json() == {"greeting": "bonjour", "count": 2, "instance": init.data["instance"]}


@pytest.mark.clause("FA-2")
def test_fa_2_routes_stack_on_prefix(serve, serve_app):
    """The guide's note: prefix `/my_app` + `@app.get("/fetch_data")` is served at
    `/my_app/fetch_data`; `/fetch_data` alone is not (404)."""
    from fastapi import FastAPI

    fastapi_app = FastAPI()

    @serve.deployment
    @serve.ingress(fastapi_app)
    class MyApp:
        @fastapi_app.get("/fetch_data")
        def fetch_data(self):
            return {"data": [1, 2, 3]}

    app = serve_app(MyApp.bind(), route_prefix="/my_app")
    response = app.http.get("/my_app/fetch_data")
    assert response.status_code == 200, response.text
    assert response.json() == {"data": [1, 2, 3]}
    assert app.http.get("/fetch_data").status_code == 404


@pytest.mark.clause("FA-3")
def test_fa_3_several_routes_methods_and_path_params(serve, serve_app):
    """The guide's `MyFastAPIDeployment` (two methods both named `root`) at `/hello`:
    `GET /hello` → "Hello, world!", `POST /hello/Serve` → "Hello from Serve!"; a `DELETE`
    route with a typed path parameter works too, and an unrouted method gets 405."""
    from fastapi import FastAPI

    fastapi_app = FastAPI()

    @serve.deployment
    @serve.ingress(fastapi_app)
    class MyFastAPIDeployment:
        @fastapi_app.get("/")
        def root(self):
            return "Hello, world!"

        @fastapi_app.post("/{subpath}")
        def root(self, subpath: str):  # noqa: F811 — the guide reuses the name
            return f"Hello from {subpath}!"

        @fastapi_app.delete("/items/{item_id}")
        def remove(self, item_id: int):
            return {"deleted": item_id}

    app = serve_app(MyFastAPIDeployment.bind(), route_prefix="/hello")
    got = app.http.get("/hello")
    assert got.status_code == 200, got.text
    assert got.json() == "Hello, world!"
    posted = app.http.post("/hello/Serve")
    assert posted.status_code == 200, posted.text
    assert posted.json() == "Hello from Serve!"
    deleted = app.http.delete("/hello/items/7")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"deleted": 7}
    assert app.http.put("/hello/Serve").status_code == 405


@pytest.mark.clause("FA-4")
def test_fa_4_existing_app_served_as_is(serve, serve_app):
    """An existing FastAPI app (plain-function routes, an HTTP middleware, a dependency,
    typed parameters) wrapped by an empty class at `/fa4`: routes answer with the
    dependency's value; the middleware's header is on 200 and 422 answers; bad input gives
    422; `/fa4/docs` is HTML whose OpenAPI URL loads; `/fa4/openapi.json` lists the routes."""
    from fastapi import Depends, FastAPI, Header
    from pydantic import BaseModel

    fastapi_app = FastAPI(title="existing")

    @fastapi_app.middleware("http")
    async def tag(request, call_next):
        response = await call_next(request)
        response.headers["x-mw"] = "yes"
        return response

    def caller(x_caller: str = Header("anonymous")):
        return x_caller.upper()

    class Item(BaseModel):
        name: str
        size: int

    @fastapi_app.get("/items/{item_id}")
    def read_item(item_id: int, q: str = "", who: str = Depends(caller)):
        return {"item_id": item_id, "q": q, "who": who}

    @fastapi_app.post("/items")
    def make_item(item: Item):
        return {"made": item.name, "size": item.size}

    @serve.deployment
    @serve.ingress(fastapi_app)
    class FastAPIWrapper:
        pass

    app = serve_app(FastAPIWrapper.bind(), route_prefix="/fa4")
    read = app.http.get("/fa4/items/3", params={"q": "x"}, headers={"x-caller": "ann"})
    assert read.status_code == 200, read.text
    assert read.json() == {"item_id": 3, "q": "x", "who": "ANN"}
    assert read.headers.get("x-mw") == "yes"
    made = app.http.post("/fa4/items", json={"name": "box", "size": 2})
    assert made.status_code == 200 and made.json() == {"made": "box", "size": 2}, made.text

    bad_path = app.http.get("/fa4/items/abc")
    assert bad_path.status_code == 422, bad_path.text
    assert bad_path.headers.get("x-mw") == "yes"
    assert bad_path.json()["detail"][0]["loc"] == ["path", "item_id"]
    bad_body = app.http.post("/fa4/items", json={"name": "box", "size": "big"})
    assert bad_body.status_code == 422, bad_body.text

    docs = app.http.get("/fa4/docs")
    assert docs.status_code == 200, docs.text
    assert docs.headers["content-type"].startswith("text/html")
    spec_url = re.search(r"""url:\s*['"]([^'"]+)['"]""", docs.text)
    assert spec_url, docs.text[:500]
    # Resolved against the page's own URL, as a browser resolves it.
    spec_link = docs.url.join(spec_url.group(1))
    assert app.http.get(spec_link).status_code == 200, spec_link
    spec = app.http.get("/fa4/openapi.json")
    assert spec.status_code == 200, spec.text
    assert spec.json()["info"]["title"] == "existing"
    assert {"/items/{item_id}", "/items"} <= set(spec.json()["paths"])


@pytest.mark.clause("FA-5")
def test_fa_5_ingress_accepts_factory(serve, serve_app, serve_probe):
    """`@serve.ingress(build)` with `build` a function returning a FastAPI app: the app it
    builds is served at `/fb` (its route answers) and the probe shows `build` ran."""
    probe = serve_probe

    def build():
        from fastapi import FastAPI

        built = FastAPI()
        probe.record("factory-called")

        @built.get("/hi")
        def hi():
            return {"from": "factory"}

        return built

    @serve.deployment
    @serve.ingress(build)
    class Built:
        pass

    app = serve_app(Built.bind(), route_prefix="/fb")
    response = app.http.get("/fb/hi")
    assert response.status_code == 200, response.text
    assert response.json() == {"from": "factory"}
    serve_probe.wait_for("factory-called", timeout=10)
