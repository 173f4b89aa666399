"""Adapter for Ray Serve's local testing mode: `serve.run(app, _local_testing_mode=True)`.

In that mode Ray builds each deployment of the app in the test process, one replica on
a thread of its own, with no Ray cluster, controller or HTTP proxy; handles call it
directly. This adapter certifies that mode as it is, so the reports show clause by
clause what it does: tests that need HTTP fail with the reason, and whatever the mode
lacks fails as on it. `RAY_SERVE_FORCE_LOCAL_TESTING_MODE=1` is set before Ray Serve is
imported, so code under test that calls `serve.run` itself stays local too.

Two things of the mode shape this adapter: deleting an app has no local counterpart
(`serve.delete` starts a full Ray, then raises "There is no Serve instance running"), so
`delete` forgets the app's handle and its replicas stay in memory, as after a test that
uses the mode; and a test that calls `serve.status()`, `serve.get_deployment_handle()`
or `serve.delete()` starts a full Ray in this process, as it would for any user of the
mode, which `stop()` shuts down.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any, ClassVar

from ..deployed import NoHTTPError
from .base import Adapter

__all__ = ["RayLocalAdapter"]

FORCE_ENV_VAR = "RAY_SERVE_FORCE_LOCAL_TESTING_MODE"


class RayLocalAdapter(Adapter):
    name = "ray-local"
    no_http: ClassVar[str | None] = "Ray Serve's local testing mode runs apps in the test process without an HTTP proxy"

    def __init__(self) -> None:
        from .ray import LOOPBACK_ENV, import_ray

        # Read when ray.serve is imported (its constants); a Ray that a test starts
        # through serve.status() stays on loopback as the ray adapter's does.
        self._ray, self._serve = import_ray("ray-local", {FORCE_ENV_VAR: "1", **LOOPBACK_ENV})
        self._handles: dict[str, Any] = {}

    @property
    def serve(self) -> ModuleType:
        return self._serve

    @property
    def version(self) -> str:
        return str(self._ray.__version__)

    @property
    def base_url(self) -> str:
        raise NoHTTPError(f"no HTTP here, so this test cannot run: {self.no_http}")

    def check_testable(
        self, http_options: Mapping[str, Any], env: Mapping[str, str], defaults: Sequence[str] = ()
    ) -> str | None:
        """A test's `serve_env` cannot apply: the mode starts nothing that would read it, and
        Ray Serve read its settings from the environment when this process imported it.
        (`http_options` need no check: without a proxy, a test that uses them fails on HTTP.)"""
        if env:
            return (
                f"needs the environment {dict(env)} at the start of Serve; Ray Serve's local testing mode "
                "starts nothing, and ray.serve read its environment when this process imported it"
            )
        return None

    def start(self, http_options: Mapping[str, Any], env: Mapping[str, str]) -> None:
        """Nothing to start: the mode has no proxy, so `http_options` have nowhere to go."""

    def stop(self) -> None:
        self._handles.clear()
        if self._ray.is_initialized():  # a test's serve.status() or serve.delete() started one
            try:
                self._serve.shutdown()
            finally:
                self._ray.shutdown()

    def deploy(self, app: Any, *, name: str, route_prefix: str | None) -> Any:
        handle = self._serve.run(app, name=name, route_prefix=route_prefix, _local_testing_mode=True)
        self._handles[name] = handle
        return handle

    def delete(self, name: str) -> None:
        """The mode has no delete of its own: forget the handle (its replicas stay)."""
        self._handles.pop(name, None)

    def deployment_errors(self, app_name: str) -> list[str]:
        # serve.status() would start a full Ray; a local deploy raises its error itself.
        return []
