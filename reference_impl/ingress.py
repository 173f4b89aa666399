"""`@serve.ingress(app)`: serve a FastAPI app from a deployment class.

Route functions written as methods of the class get the replica's instance as
`self`: their first parameter becomes a dependency that reads the instance of the
replica handling the request. Routes keep their order, so FastAPI matches exactly
as it would without Serve.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute

__all__ = ["IngressSpec", "build_asgi_app", "current_instance", "ingress", "ingress_spec"]

# Set by the replica around each request it serves.
current_instance: ContextVar[Any] = ContextVar("serve_replica_instance")


def _instance() -> Any:
    try:
        return current_instance.get()
    except LookupError:
        raise RuntimeError(
            "This route is a method of a Serve deployment; it only runs inside a replica (deploy it with serve.run)."
        ) from None


async def _instance_dependency() -> Any:
    return _instance()


@dataclass(frozen=True)
class IngressSpec:
    """The ASGI app given to `@serve.ingress`, or the factory that builds it."""

    app: Any | None
    factory: Callable[[], Any] | None


def ingress_spec(cls: type) -> IngressSpec | None:
    return cls.__dict__.get("__serve_ingress__")


def _is_method_of(endpoint: Callable[..., Any], cls: type) -> bool:
    qualname = getattr(endpoint, "__qualname__", "")
    return (
        getattr(endpoint, "__module__", None) == cls.__module__
        and qualname.startswith(cls.__qualname__ + ".")
        and "." not in qualname[len(cls.__qualname__) + 1 :]
    )


def bind_methods_to_replica(app: FastAPI, cls: type) -> None:
    """Rewrite the routes declared as methods of `cls` so `self` is injected."""
    owned = [
        (index, route)
        for index, route in enumerate(app.router.routes)
        if isinstance(route, APIRoute | APIWebSocketRoute) and _is_method_of(route.endpoint, cls)
    ]
    if not owned:
        return
    for _, route in owned:
        endpoint = route.endpoint
        params = list(inspect.signature(endpoint).parameters.values())
        if not params:
            raise TypeError(
                f"Route {route.path!r} is defined in {cls.__name__} but "
                f"{endpoint.__qualname__} takes no `self`; add `self` as its first parameter."
            )
        first, rest = params[0], params[1:]
        endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [first.replace(default=Depends(_instance_dependency))]
            + [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in rest],
            return_annotation=inspect.signature(endpoint).return_annotation,
        )
    # FastAPI computes a route's dependencies when the route is built: build each
    # again from its own settings and put it back where the old one stood.
    for index, route in owned:
        app.router.routes[index] = _rebuilt(route)
    mark_changed = getattr(app.router, "_mark_routes_changed", None)
    if mark_changed is not None:  # FastAPI >= 0.160 caches its route lists
        mark_changed()
    app.openapi_schema = None


def _rebuilt(route: APIRoute | APIWebSocketRoute) -> APIRoute | APIWebSocketRoute:
    """A new route of the same class and settings, so FastAPI re-reads the signature."""
    params = inspect.signature(type(route).__init__).parameters
    settings = {
        name: getattr(route, name)
        for name, param in params.items()
        if param.kind is inspect.Parameter.KEYWORD_ONLY and hasattr(route, name)
    }
    return type(route)(route.path, route.endpoint, **settings)


def ingress(app: Any) -> Callable[[type], type]:
    """Serve `app` (a FastAPI/Starlette app, or a callable returning one) from the class."""
    if app is None or isinstance(app, type):
        raise TypeError(
            f"@serve.ingress needs an ASGI app instance (e.g. FastAPI()) or a function returning one, got {app!r}"
        )
    spec = IngressSpec(app=app, factory=None) if _is_asgi_app(app) else IngressSpec(app=None, factory=app)

    def decorate(cls: type) -> type:
        if not isinstance(cls, type):
            raise TypeError(f"@serve.ingress decorates a class, got {cls!r}")
        if spec.app is not None and isinstance(spec.app, FastAPI):
            bind_methods_to_replica(spec.app, cls)
        cls.__serve_ingress__ = spec  # type: ignore[attr-defined]
        return cls

    return decorate


def _is_asgi_app(obj: Any) -> bool:
    """An app instance (FastAPI, Starlette, any ASGI callable object) vs a factory."""
    if isinstance(obj, FastAPI):
        return True
    if inspect.isfunction(obj) or inspect.ismethod(obj):
        params = inspect.signature(obj).parameters
        return len(params) == 3  # a bare `async def app(scope, receive, send)`
    return callable(obj)


def build_asgi_app(spec: IngressSpec, cls: type) -> Any:
    """The app a replica serves: the given one, or what the factory returns."""
    if spec.app is not None:
        return spec.app
    assert spec.factory is not None
    app = spec.factory()
    if not callable(app):
        raise TypeError(f"The ingress factory {spec.factory!r} returned {app!r}, not an ASGI app")
    if isinstance(app, FastAPI):
        bind_methods_to_replica(app, cls)
    return app
