"""The quick-start example: the same tests pass on the reference implementation
(`pytest docs/examples`) and on real Ray Serve (`pytest docs/examples --serve-impl=ray`)."""

import asyncio

from fastapi import FastAPI

from pytest_serve.http import disconnect_after


def test_hello(serve, serve_app):
    app = FastAPI()

    @serve.deployment
    @serve.ingress(app)
    class MyFastAPIDeployment:
        @app.get("/")
        def root(self):
            return "Hello, world!"

    deployed = serve_app(MyFastAPIDeployment.bind(), route_prefix="/hello")
    assert deployed.http.get("/hello").json() == "Hello, world!"


def test_cancelled_on_disconnect(serve, serve_app, serve_probe):
    @serve.deployment
    class Slow:
        def __init__(self, probe):
            self.probe = probe

        async def __call__(self, request):
            self.probe.record("started")
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                self.probe.record("cancelled")
                raise

    deployed = serve_app(Slow.bind(serve_probe))
    disconnect_after(deployed.url, seconds=0.5)
    serve_probe.wait_for("started", timeout=10)
    serve_probe.wait_for("cancelled", timeout=10)
