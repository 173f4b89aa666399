"""`@serve.ingress(app)`: serve an ASGI app (FastAPI, Starlette, ...) from a deployment.

Route functions written as methods of the class get the replica's instance as
`self`: their first parameter becomes a dependency that reads the instance of the
replica handling the request. As on Ray, those routes move behind the app's plain
routes, and the app is served as it stood when the decorator ran.

FastAPI is imported here only for an app that is one: an app of FastAPI's exists only
once its user imported FastAPI.
"""

from __future__ import annotations

import collections.abc
import copy
import inspect
import sys
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette

from .exceptions import RayServeException

if TYPE_CHECKING:
    from fastapi import APIRouter, FastAPI
    from fastapi.routing import APIRoute, APIWebSocketRoute

__all__ = ["IngressSpec", "build_asgi_app", "current_user_object", "ingress", "ingress_spec", "make_class_based_view"]

# The deployment's own object (its class instance) on the replica serving the request: route
# methods get it as `self`. Set by the replica around each request it serves.
current_user_object: ContextVar[Any] = ContextVar("serve_replica_user_object")


def _instance() -> Any:
    try:
        return current_user_object.get()
    except LookupError:
        raise RuntimeError(
            "This route is a method of a Serve deployment; it only runs inside a replica (deploy it with serve.run)."
        ) from None


async def _instance_dependency() -> Any:
    return _instance()


BUILD_METHOD = "__serve_build_asgi_app__"


@dataclass(frozen=True)
class IngressSpec:
    """What `@serve.ingress` was given: an app (copied when decorated), a builder
    function called on each replica, or nothing (the class builds its app)."""

    app: Any | None
    factory: Callable[[], Any] | None


def ingress_spec(cls: type) -> IngressSpec | None:
    return cls.__dict__.get("__serve_ingress__")


def _defined_in(endpoint: Callable[..., Any], cls: type) -> bool:
    """Whether a route function is a method of `cls` or of one of its bases (as Ray reads it)."""
    qualname = getattr(endpoint, "__qualname__", "")
    return any(qualname.startswith(base.__qualname__ + ".") for base in cls.__mro__ if base is not object)


def make_class_based_view(app: FastAPI | APIRouter, cls: type) -> None:
    """Turn the routes written as methods of `cls` into routes of its replicas, as Ray does.

    Each such route moves to the end of the app's routes (so a plain route on the same
    path, declared anywhere, wins over it), its `self` becomes a dependency reading the
    replica's instance, and routes that other classes made their own are dropped: one
    FastAPI object shared by two ingress classes serves each class's methods only
    from that class's deployment.
    """
    from fastapi import FastAPI
    from fastapi.routing import APIRoute, APIWebSocketRoute

    router = app.router if isinstance(app, FastAPI) else app
    owned = [
        route
        for route in router.routes
        if isinstance(route, APIRoute | APIWebSocketRoute) and _defined_in(route.endpoint, cls)
    ]
    others = [
        route
        for route in router.routes
        if route not in owned and getattr(getattr(route, "endpoint", None), "_serve_cls", cls) is cls
    ]
    router.routes[:] = others + [_bound_to_instance(route, cls) for route in owned]
    mark_changed = getattr(router, "_mark_routes_changed", None)
    if mark_changed is not None:  # FastAPI >= 0.160 caches its route lists
        mark_changed()
    if isinstance(app, FastAPI):
        app.openapi_schema = None


def _bound_to_instance(route: APIRoute | APIWebSocketRoute, cls: type) -> APIRoute | APIWebSocketRoute:
    from fastapi import Depends

    endpoint = route.endpoint
    signature = inspect.signature(endpoint)
    params = list(signature.parameters.values())
    if not params:
        raise RayServeException("Methods in FastAPI class-based view must have ``self`` as their first argument.")
    first, rest = params[0], params[1:]
    endpoint.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[first.replace(default=Depends(_instance_dependency))]
        + [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in rest]
    )
    endpoint._serve_cls = cls  # type: ignore[attr-defined]
    # FastAPI reads a route's dependencies when the route is built: build it again.
    return _rebuilt(route)


def _rebuilt(route: APIRoute | APIWebSocketRoute) -> APIRoute | APIWebSocketRoute:
    """A new route of the same class and settings, so FastAPI re-reads the signature."""
    params = inspect.signature(type(route).__init__).parameters
    settings = {
        name: getattr(route, name)
        for name, param in params.items()
        if param.kind is inspect.Parameter.KEYWORD_ONLY and hasattr(route, name)
    }
    return type(route)(route.path, route.endpoint, **settings)


def _frozen(app: Any) -> Any:
    """A copy of a Starlette/FastAPI app whose route list later changes to `app` do not
    reach: Ray serves the app as it was when `@serve.ingress` ran (it pickles it)."""
    if not isinstance(app, Starlette):
        return app
    clone = copy.copy(app)
    clone.router = router = copy.copy(app.router)
    router.routes = list(app.router.routes)
    low_priority = getattr(router, "_low_priority_routes", None)  # FastAPI's own list, where it has one
    if isinstance(low_priority, list):
        router._low_priority_routes = list(low_priority)  # type: ignore[attr-defined]
    if getattr(router.middleware_stack, "__self__", None) is app.router:
        router.middleware_stack = router.app  # the copy's routes, not the original's
    clone.user_middleware = list(app.user_middleware)
    clone.exception_handlers = dict(app.exception_handlers)
    clone.middleware_stack = None
    return clone


class ASGIIngressDeployment:
    """The class `serve.ingress(app)()` stands for: it only keeps its init arguments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs


def ingress(app: Any = None) -> Callable[..., type]:
    """Serve `app` from a deployment class, as Ray 2.60's `serve.ingress` does.

    `app` is a FastAPI/Starlette app (any ASGI app), a function returning one (called
    on each replica), or nothing: the class then builds its app in
    `__serve_build_asgi_app__`, after its constructor. `serve.ingress(app)()` without a
    class gives a deployment class that only serves the app.
    """
    if isinstance(app, type):
        raise TypeError(
            f"@serve.ingress needs an ASGI app instance (e.g. FastAPI()) or a function returning one, got {app!r}"
        )

    def decorate(cls: type | None = None) -> type:
        if cls is None:
            cls = type("ASGIIngressDeployment", (ASGIIngressDeployment,), {})
        if not inspect.isclass(cls):
            raise ValueError("@serve.ingress must be used with a class.")
        if issubclass(cls, collections.abc.Callable):  # type: ignore[arg-type]
            raise ValueError("Classes passed to @serve.ingress may not have __call__ method.")
        if app is None and not hasattr(cls, BUILD_METHOD):
            raise ValueError(
                f"serve.ingress() called without an app argument requires {cls.__name__} to define `{BUILD_METHOD}`."
            )
        fastapi = sys.modules.get("fastapi")
        if fastapi is not None and isinstance(app, fastapi.FastAPI | fastapi.APIRouter):
            make_class_based_view(app, cls)
        cls.__serve_ingress__ = _spec_of(app)  # type: ignore[attr-defined]
        return cls

    return decorate


def _spec_of(app: Any) -> IngressSpec:
    """A plain function is a builder (as on Ray); anything else is the app itself."""
    if inspect.isfunction(app):
        return IngressSpec(app=None, factory=app)
    return IngressSpec(app=_frozen(app) if app is not None else None, factory=None)


async def build_asgi_app(spec: IngressSpec, instance: Any) -> Any:
    """The app a replica serves: the (copied) app, what the builder returns, or what the
    instance's `__serve_build_asgi_app__` returns."""
    if spec.app is not None:
        return spec.app
    if spec.factory is not None:
        app = spec.factory()
        what = f"The ingress builder {spec.factory!r}"
    else:
        app = getattr(instance, BUILD_METHOD)()
        if inspect.isawaitable(app):
            app = await app
        if app is None:
            raise TypeError(f"`{BUILD_METHOD}` must return an ASGI app.")
        what = f"`{BUILD_METHOD}`"
    if not callable(app):
        raise TypeError(f"{what} returned {app!r}, not an ASGI app")
    return app  # as on Ray, served as built: its routes are not methods of the class
