"""Faults that break the FA clauses (FastAPI ingress) of the reference implementation."""

from __future__ import annotations

from faulty import fault


@fault("fa-methods-unbound", "FA-1")
def _(mp):
    """Route methods are left unbound: FastAPI sees `self` as a query parameter (422)."""
    from reference_impl import ingress

    mp.setattr(ingress, "_bound_to_instance", lambda route, cls: route)


@fault("fa-root-path-unset", "FA-2")
def _(mp):
    """The proxy does not set `root_path`, so FastAPI routes do not stack on the prefix."""
    from reference_impl.runtime import proxy

    mp.setattr(proxy, "_scope_for_app", lambda scope, prefix: dict(scope))


@fault("fa-routes-by-method-name", "FA-3")
def _(mp):
    """Route methods are found by attribute name, so of two methods named `root` (the
    guide's example) only the last is bound (Ray's #17559)."""
    from reference_impl import ingress

    mp.setattr(
        ingress,
        "_defined_in",
        lambda endpoint, cls: cls.__dict__.get(getattr(endpoint, "__name__", "")) is endpoint,
    )


@fault("fa-exception-handlers-dropped", "FA-4")
def _(mp):
    """The app is served without its exception handlers: a validation error is a 500,
    not FastAPI's 422."""
    from fastapi import FastAPI

    from reference_impl.runtime import replica

    original = replica.build_asgi_app

    async def build(spec, instance):
        app = await original(spec, instance)
        if isinstance(app, FastAPI):
            app.exception_handlers = {}
            app.middleware_stack = None  # Starlette rebuilds it on the next request
        return app

    mp.setattr(replica, "build_asgi_app", build)


@fault("fa-factory-not-called", "FA-5", "ASG-1")
def _(mp):
    """`serve.ingress(factory)` takes the factory for the ASGI app itself (also a builder
    of a Starlette app)."""
    from reference_impl import ingress

    mp.setattr(ingress, "_spec_of", lambda app: ingress.IngressSpec(app=app, factory=None))


@fault("fa-middleware-dropped", "FA-4")
def _(mp):
    """The app's own `@app.middleware("http")` functions are dropped when it is served."""
    from fastapi import FastAPI

    from reference_impl.runtime import replica

    original = replica.build_asgi_app

    async def build(spec, instance):
        app = await original(spec, instance)
        if isinstance(app, FastAPI):
            app.user_middleware = []
            app.middleware_stack = None  # Starlette rebuilds it on the next request
        return app

    mp.setattr(replica, "build_asgi_app", build)
