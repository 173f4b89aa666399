"""ASG: the forms of `serve.ingress` and how the app's routes are served (beyond the guide)."""

# No `from __future__ import annotations`: FastAPI reads the route functions' annotations.
import pytest


@pytest.mark.clause("ASG-1")
def test_asg_1_ingress_without_a_class_serves_the_app(serve, serve_app):
    """`serve.deployment(serve.ingress(app)())`: no class of one's own; the app's plain
    routes are served under the prefix."""
    from fastapi import FastAPI

    fastapi_app = FastAPI()

    @fastapi_app.get("/hi")
    def hi():
        return "hi from a plain route"

    deployment = serve.deployment(serve.ingress(fastapi_app)())
    app = serve_app(deployment.bind(), route_prefix="/asg1")
    response = app.http.get("/asg1/hi")
    assert response.status_code == 200, response.text
    assert response.json() == "hi from a plain route"


@pytest.mark.clause("ASG-1")
@pytest.mark.parametrize("kind", ["fastapi-builder", "starlette-app", "starlette-builder"])
def test_asg_1_builders_and_starlette_apps(serve, serve_app, kind):
    """A function returning a FastAPI or Starlette app is called on the replica and its
    app is served; a Starlette app is served as given. The builder runs on the replica
    (it sees the replica context), not where the app is bound."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    def starlette_app():
        async def hi(request):
            context = serve.get_replica_context()
            return JSONResponse({"kind": "starlette", "deployment": context.deployment})

        return Starlette(routes=[Route("/hi", hi)])

    def fastapi_builder():
        from fastapi import FastAPI

        built = FastAPI()

        @built.get("/hi")
        def hi():
            return {"kind": "fastapi", "deployment": serve.get_replica_context().deployment}

        return built

    given = {"fastapi-builder": fastapi_builder, "starlette-builder": starlette_app}.get(kind)
    if given is None:
        given = starlette_app()  # called here: the app itself, outside any replica
        expected_kind = "starlette"
    else:
        expected_kind = "fastapi" if kind == "fastapi-builder" else "starlette"

    @serve.deployment
    @serve.ingress(given)
    class Asg1Built:
        pass

    app = serve_app(Asg1Built.bind(), route_prefix="/asg1b")
    response = app.http.get("/asg1b/hi")
    assert response.status_code == 200, response.text
    assert response.json() == {"kind": expected_kind, "deployment": "Asg1Built"}


@pytest.mark.clause("ASG-2")
def test_asg_2_forms_ray_rejects(serve):
    """`serve.ingress` raises `ValueError` with Ray's messages for a function instead of a
    class, a class with `__call__`, and no app on a class without `__serve_build_asgi_app__`."""
    from fastapi import FastAPI

    fastapi_app = FastAPI()

    def a_function():
        return "no"

    class Callable_:
        def __call__(self):
            return "no"

    class NoBuilder:
        pass

    with pytest.raises(ValueError, match=r"^@serve\.ingress must be used with a class\.$"):
        serve.ingress(fastapi_app)(a_function)
    with pytest.raises(ValueError, match=r"^Classes passed to @serve\.ingress may not have __call__ method\.$"):
        serve.ingress(fastapi_app)(Callable_)
    with pytest.raises(
        ValueError,
        match=r"^serve\.ingress\(\) called without an app argument requires NoBuilder to define "
        r"`__serve_build_asgi_app__`\.$",
    ):
        serve.ingress()(NoBuilder)


@pytest.mark.clause("ASG-2")
def test_asg_2_late_bound_app_from_the_class(serve, serve_app):
    """`serve.ingress()` with no app: the class's `__serve_build_asgi_app__` builds the app
    after `__init__`, and may use what `__init__` set."""

    @serve.deployment
    @serve.ingress()
    class LateBound:
        def __init__(self, word):
            self.word = word

        def __serve_build_asgi_app__(self):
            from fastapi import FastAPI

            built = FastAPI()

            @built.get("/word")
            def word():
                return self.word

            return built

    app = serve_app(LateBound.bind("late"), route_prefix="/asg2")
    response = app.http.get("/asg2/word")
    assert response.status_code == 200, response.text
    assert response.json() == "late"


@pytest.mark.clause("ASG-3")
def test_asg_3_route_precedence_and_frozen_app(serve, serve_app):
    """A plain route beats a method route on the same path whichever was declared first;
    of two method routes the first wins; a route added after `@serve.ingress` ran is not
    served (404)."""
    from fastapi import FastAPI

    fastapi_app = FastAPI()

    def plain_declared_later():
        return "plain"

    @serve.deployment
    @serve.ingress(fastapi_app)
    class Precedence:
        @fastapi_app.get("/mix")
        def method_declared_first(self):
            return "method"

        fastapi_app.add_api_route("/mix", plain_declared_later, methods=["GET"])

        @fastapi_app.get("/twice")
        def first(self):
            return "first"

        @fastapi_app.get("/twice")
        def second(self):
            return "second"

    @fastapi_app.get("/after")
    def after():
        return "added after the decorator"

    app = serve_app(Precedence.bind(), route_prefix="/asg3")
    assert app.http.get("/asg3/mix").json() == "plain"
    assert app.http.get("/asg3/twice").json() == "first"
    late = app.http.get("/asg3/after")
    assert late.status_code == 404, late.text


@pytest.mark.clause("ASG-4")
def test_asg_4_one_fastapi_object_two_applications(serve, serve_app):
    """One FastAPI object decorates two classes deployed as two applications: each serves
    its own class's method routes (the other's are 404) and the plain routes that existed
    when it was decorated."""
    from fastapi import FastAPI

    shared = FastAPI()

    @shared.get("/common")
    def common():
        return "common"

    @serve.deployment
    @serve.ingress(shared)
    class First:
        @shared.get("/first")
        def first(self):
            return "first"

    @shared.get("/between")
    def between():
        return "between"

    @serve.deployment
    @serve.ingress(shared)
    class Second:
        @shared.get("/second")
        def second(self):
            return "second"

    one = serve_app(First.bind(), route_prefix="/asg4a", name="asg4a")
    two = serve_app(Second.bind(), route_prefix="/asg4b", name="asg4b")
    seen = {
        (prefix, path): one.http.get(f"{prefix}{path}").status_code
        for prefix in ("/asg4a", "/asg4b")
        for path in ("/common", "/first", "/second", "/between")
    }
    assert seen == {
        ("/asg4a", "/common"): 200,
        ("/asg4a", "/first"): 200,
        ("/asg4a", "/second"): 404,
        ("/asg4a", "/between"): 404,
        ("/asg4b", "/common"): 200,
        ("/asg4b", "/first"): 404,
        ("/asg4b", "/second"): 200,
        ("/asg4b", "/between"): 200,
    }
    assert two.http.get("/asg4b/second").json() == "second"


@pytest.mark.clause("ASG-5")
def test_asg_5_two_ingress_deployments_in_one_application(serve, serve_instance):
    """An application with two `@serve.ingress` deployments (one passed to the other) is
    refused by `serve.run` with Ray's `RayServeException`, and nothing is deployed."""
    from fastapi import FastAPI

    from_outer, from_inner = FastAPI(), FastAPI()

    @serve.deployment
    @serve.ingress(from_inner)
    class Inner:
        pass

    @serve.deployment
    @serve.ingress(from_outer)
    class Outer:
        def __init__(self, inner):
            self.inner = inner

    with pytest.raises(serve.exceptions.RayServeException) as raised:
        serve.run(Outer.bind(Inner.bind()), name="asg5", route_prefix="/asg5")
    assert str(raised.value) == (
        'Found multiple FastAPI deployments in application "asg5". Please only include one '
        "deployment with @serve.ingress in your application to avoid this issue."
    )
    assert "asg5" not in serve.status().applications
