"""Faults that break the ASG clauses (forms of `serve.ingress`, route matching).

ASG-1 (builders) is broken by `fa-factory-not-called` in faults_fa.py."""

from __future__ import annotations

from faulty import fault


@fault("asg-no-late-bound-app", "ASG-2")
def _(mp):
    """`serve.ingress()` without an app is accepted, but the class's own builder is never called."""
    from reference_impl.runtime import replica

    original = replica.build_asgi_app

    async def build(spec, instance):
        if spec.app is None and spec.factory is None:
            raise TypeError("no ASGI app was given to @serve.ingress")
        return await original(spec, instance)

    mp.setattr(replica, "build_asgi_app", build)


@fault("asg-routes-keep-their-order", "ASG-3")
def _(mp):
    """Method routes are bound where they were declared instead of moving behind the
    plain routes, so a method declared first beats a plain route on the same path."""
    from fastapi.routing import APIRoute, APIWebSocketRoute

    from reference_impl import ingress

    def in_place(app, cls):
        routes = app.router.routes
        for index, route in enumerate(routes):
            if isinstance(route, APIRoute | APIWebSocketRoute) and ingress._defined_in(route.endpoint, cls):
                routes[index] = ingress._bound_to_instance(route, cls)
        app.router._mark_routes_changed()

    mp.setattr(ingress, "make_class_based_view", in_place)


@fault("asg-app-not-frozen", "ASG-3", "ASG-4")
def _(mp):
    """The app object itself is served, so routes added later (or by another class) are served too."""
    from reference_impl import ingress

    mp.setattr(ingress, "_frozen", lambda app: app)


@fault("asg-other-class-routes-kept", "ASG-4")
def _(mp):
    """Routes that another class's `@serve.ingress` made its own stay in the app."""
    from reference_impl import ingress

    original = ingress.make_class_based_view

    def keep_others(app, cls):
        router = app.router
        others = [r for r in router.routes if getattr(getattr(r, "endpoint", None), "_serve_cls", cls) is not cls]
        original(app, cls)
        router.routes.extend(others)

    mp.setattr(ingress, "make_class_based_view", keep_others)


@fault("asg-two-ingresses-accepted", "ASG-5")
def _(mp):
    """An application with two ingress deployments is deployed like any other."""
    from reference_impl import instance

    mp.setattr(instance, "_check_one_ingress", lambda app, name: None)
