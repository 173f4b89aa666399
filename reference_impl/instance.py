"""A running Serve instance: the proxy, the route table and the deployed apps."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .config import HTTPOptions, effective_keep_alive
from .deployment import Application, Deployment
from .exceptions import DeploymentStartError, RayServeException, ServeError
from .handle import DeploymentHandle
from .ingress import ingress_spec
from .loops import LoopThread
from .proxy import Endpoint, Proxy
from .replica import Replica
from .router import Router
from .routes import RouteTable
from .server import HTTPServer

__all__ = ["DeployedApp", "DeployedDeployment", "ServeInstance"]

logger = logging.getLogger("reference_impl")

REPLICA_START_TIMEOUT_S = 60.0
DRAIN_POLL_S = 0.01


@dataclass
class DeployedDeployment:
    deployment: Deployment
    replicas: list[Replica]
    router: Router[Replica]


@dataclass
class DeployedApp:
    name: str
    route_prefix: str | None
    ingress: str
    deployments: dict[str, DeployedDeployment] = field(default_factory=dict)

    def stop(self, *, drain: bool = True) -> None:
        """Let the requests under way finish (as Ray: up to each deployment's
        `graceful_shutdown_timeout_s`, 20 s by default), then stop every replica.

        The app is out of the route table by now; handle calls made by requests that
        are still running reach this app's deployments until they finish.
        """
        if drain:
            self._drain()
        for dep in self.deployments.values():
            dep.router.retire()
        for dep in reversed(list(self.deployments.values())):
            for replica in dep.replicas:
                replica.stop()

    def _drain(self) -> None:
        started = time.monotonic()
        waiting = {
            replica: started + dep.deployment.options_.graceful_shutdown_timeout_s
            for dep in self.deployments.values()
            for replica in dep.replicas
        }
        while waiting:
            now = time.monotonic()
            waiting = {r: deadline for r, deadline in waiting.items() if r.ongoing > 0 and now < deadline}
            if waiting:
                time.sleep(DRAIN_POLL_S)


class ServeInstance:
    """Owns every thread and socket of one Serve instance; `shutdown()` frees them all."""

    def __init__(self, http_options: HTTPOptions, environ: Mapping[str, str] | None = None):
        self.http_options = http_options
        self._threads_before = set(threading.enumerate())
        keep_alive = effective_keep_alive(http_options, os.environ if environ is None else environ)
        self._lock = threading.RLock()
        self._routes: RouteTable[Endpoint] = RouteTable()
        self.apps: dict[str, DeployedApp] = {}
        self._proxy_loop = LoopThread("serve-proxy")
        try:
            self.server = HTTPServer(Proxy(self._routes, http_options), http_options, keep_alive, self._proxy_loop)
            self.server.start()
        except BaseException:
            self._proxy_loop.stop()
            raise

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def keep_alive_timeout_s(self) -> int:
        return self.server.keep_alive_s

    def driver_loop(self) -> Any:
        """The loop that runs handle calls made from plain (non-async) code."""
        return self._proxy_loop.loop

    # -- deploying -------------------------------------------------------------------

    def deploy(self, app: Application, name: str, route_prefix: str | None) -> DeploymentHandle:
        _check_one_ingress(app, name)
        with self._lock:
            owner = self._prefix_owner(route_prefix)
            if owner is not None and owner != name:
                raise ServeError(
                    f'Prefix {route_prefix} is being used by application "{owner}". '
                    f'Failed to deploy application "{name}".'
                )
            new = DeployedApp(name, route_prefix, app.deployment.name)
            try:
                self._start_graph(app, new, {})
            except BaseException:
                new.stop(drain=False)
                raise
            old = self.apps.get(name)
            self.apps[name] = new
            if old is not None and old.route_prefix is not None and old.route_prefix != route_prefix:
                self._routes.remove(old.route_prefix)
            if route_prefix is not None:
                router = new.deployments[new.ingress].router
                self._routes.set(route_prefix, Endpoint(name, router))
        if old is not None:
            old.stop()
        return self.handle(name, new.ingress)

    def _prefix_owner(self, route_prefix: str | None) -> str | None:
        if route_prefix is None:
            return None
        for app in self.apps.values():
            if app.route_prefix == route_prefix:
                return app.name
        return None

    def _start_graph(self, node: Application, app: DeployedApp, seen: dict[int, DeploymentHandle]) -> DeploymentHandle:
        """Start `node`'s dependencies first, then its replicas; return its handle."""
        if id(node) in seen:
            return seen[id(node)]
        args = tuple(self._resolve(a, app, seen) for a in node.args)
        kwargs = {k: self._resolve(v, app, seen) for k, v in node.kwargs.items()}
        dep = node.deployment
        if dep.name in app.deployments:
            # As Ray: a second deployment of the same name becomes Name_1, Name_2, ...
            base, index = dep.name, 1
            while f"{base}_{index}" in app.deployments:
                index += 1
            logger.warning(
                "There are multiple deployments with the same name '%s'. Renaming one to '%s'.",
                base,
                f"{base}_{index}",
            )
            dep = dep.options(name=f"{base}_{index}")
        opts = dep.options_
        replicas = [
            Replica(dep, app.name, i, args, kwargs, world_size=opts.num_replicas) for i in range(opts.num_replicas)
        ]
        router: Router[Replica] = Router(dep.name, replicas, opts.max_ongoing_requests, opts.max_queued_requests)
        app.deployments[dep.name] = DeployedDeployment(dep, [], router)
        for replica in replicas:
            try:
                replica.start(REPLICA_START_TIMEOUT_S)
            except DeploymentStartError:
                for other in replicas:
                    if other is not replica:
                        other.stop()
                app.deployments.pop(dep.name)
                raise
            app.deployments[dep.name].replicas.append(replica)
        handle = self.handle_for(app.name, dep.name, router)
        seen[id(node)] = handle
        return handle

    def _resolve(self, value: Any, app: DeployedApp, seen: dict[int, DeploymentHandle]) -> Any:
        return _replace_applications(value, lambda node: self._start_graph(node, app, seen))

    # -- handles -----------------------------------------------------------------------

    def handle_for(self, app_name: str, deployment: str, router: Router[Replica]) -> DeploymentHandle:
        return DeploymentHandle(deployment, app_name, router, self.driver_loop)

    def handle(self, app_name: str, deployment: str | None = None) -> DeploymentHandle:
        app = self.apps.get(app_name)
        if app is None:
            raise ServeError(f"Application '{app_name}' does not exist.")
        name = deployment or app.ingress
        dep = app.deployments.get(name)
        if dep is None:
            raise ServeError(
                f"Deployment '{name}' does not exist in application '{app_name}'; it has {sorted(app.deployments)}."
            )
        return self.handle_for(app_name, name, dep.router)

    # -- teardown ------------------------------------------------------------------------

    def delete(self, name: str) -> bool:
        with self._lock:
            app = self.apps.pop(name, None)
            if app is None:
                return False
            if app.route_prefix is not None:
                self._routes.remove(app.route_prefix)
        app.stop()
        return True

    def shutdown(self) -> None:
        with self._lock:
            apps, self.apps = list(self.apps.values()), {}
            for app in apps:
                if app.route_prefix is not None:
                    self._routes.remove(app.route_prefix)
        for app in apps:
            app.stop()
        self.server.stop()
        self._proxy_loop.stop()
        self._join_worker_threads(timeout=2.0)

    def _join_worker_threads(self, timeout: float) -> None:
        """Wait for the worker threads anyio started for sync routes; they are told to
        stop when their loop ends and exit within milliseconds."""
        deadline = time.monotonic() + timeout
        for thread in set(threading.enumerate()) - self._threads_before:
            if thread.name.startswith("AnyIO worker"):
                thread.join(max(0.0, deadline - time.monotonic()))


def _replace_applications(value: Any, replace: Callable[[Application], Any]) -> Any:
    """`value` with each bound deployment in it (also inside lists, tuples and dicts)
    replaced by `replace(it)`."""
    if isinstance(value, Application):
        return replace(value)
    if isinstance(value, list | tuple):
        return type(value)(_replace_applications(v, replace) for v in value)
    if isinstance(value, dict):
        return {k: _replace_applications(v, replace) for k, v in value.items()}
    return value


def _check_one_ingress(app: Application, name: str) -> None:
    """Ray 2.60 refuses an application with more than one `@serve.ingress` deployment."""
    seen: dict[int, Application] = {}
    stack = [app]
    while stack:
        node = stack.pop()
        if id(node) not in seen:
            seen[id(node)] = node
            _replace_applications([node.args, node.kwargs], stack.append)
    targets = [n.deployment.func_or_class for n in seen.values()]
    ingresses = [t for t in targets if isinstance(t, type) and ingress_spec(t) is not None]
    if len(ingresses) > 1:
        raise RayServeException(
            f'Found multiple FastAPI deployments in application "{name}". Please only include one '
            "deployment with @serve.ingress in your application to avoid this issue."
        )
