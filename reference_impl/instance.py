"""A running Serve instance: the proxy, the route table and the deployed apps."""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .config import HTTPOptions, effective_keep_alive
from .context import DeploymentID
from .deployment import Application, Deployment
from .exceptions import DeploymentStartError, DeploymentUnavailableError, RayServeException, ServeError
from .handle import DeploymentHandle
from .ingress import ingress_spec
from .runtime.health import HealthMonitor
from .runtime.http_server import start_server
from .runtime.loops import LoopThread
from .runtime.proxy import Endpoint, Proxy
from .runtime.replica import Replica
from .runtime.route_table import RouteTable
from .runtime.router import Router
from .schema import ApplicationStatus, DeploymentStatus, DeploymentStatusTrigger, ServeApplicationSchema
from .serialization import copy_value

__all__ = ["RunningApp", "RunningDeployment", "ServeInstance"]

logger = logging.getLogger("reference_impl")

REPLICA_START_TIMEOUT_S = 60.0
# Ray gives up on a deployment whose replica failed to start this many times in a row
# (or `max_constructor_retry_count` times, if fewer).
START_ATTEMPTS = 3
DRAIN_POLL_S = 0.01


@dataclass
class RunningDeployment:
    deployment: Deployment
    replicas: list[Replica]
    router: Router[Replica]
    status: DeploymentStatus = DeploymentStatus.HEALTHY
    trigger: DeploymentStatusTrigger = DeploymentStatusTrigger.CONFIG_UPDATE_COMPLETED
    message: str = ""
    cause: str = ""  # why it failed to deploy, in one line

    def fail(self, app_name: str, message: str, cause: str) -> None:
        """Mark it DEPLOY_FAILED; with no replica left, calls fail at once (503)."""
        self.status, self.trigger, self.message = (
            DeploymentStatus.DEPLOY_FAILED,
            DeploymentStatusTrigger.REPLICA_STARTUP_FAILED,
            message,
        )
        self.cause = cause
        self.router.unavailable = DeploymentUnavailableError(DeploymentID(self.deployment.name, app_name))


@dataclass
class RunningApp:
    name: str
    route_prefix: str | None
    ingress: str
    deployments: dict[str, RunningDeployment] = field(default_factory=dict)
    status: ApplicationStatus = ApplicationStatus.RUNNING
    message: str = ""
    # Deployed from a config file: its entry (Ray's `deployed_app_config`), and each
    # deployment as the code defines it, before the entry's `deployments:` overrides.
    config: ServeApplicationSchema | None = None
    code: dict[str, Deployment] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        return [name for name, dep in self.deployments.items() if dep.status is DeploymentStatus.DEPLOY_FAILED]

    def stop(self, *, drain: bool = True) -> None:
        """Let the requests under way finish (as Ray: up to each deployment's
        `graceful_shutdown_timeout_s`, 20 s by default), then stop every replica.

        The app is out of the route table by now; handle calls made by requests that
        are still running reach this app's deployments until they finish.
        """
        if drain:
            drain_replicas([(r, dep.deployment) for dep in self.deployments.values() for r in dep.replicas])
        for dep in self.deployments.values():
            dep.router.retire()
        for dep in reversed(list(self.deployments.values())):
            for replica in dep.replicas:
                replica.stop()


def drain_replicas(replicas: list[tuple[Replica, Deployment]]) -> None:
    """Wait until each replica has no request under way, for at most its
    deployment's `graceful_shutdown_timeout_s`."""
    started = time.monotonic()
    waiting = {replica: started + dep.options_.graceful_shutdown_timeout_s for replica, dep in replicas}
    while waiting:
        now = time.monotonic()
        waiting = {r: deadline for r, deadline in waiting.items() if r.ongoing > 0 and now < deadline}
        if waiting:
            time.sleep(DRAIN_POLL_S)


def retire_replicas(dep: RunningDeployment, replicas: list[Replica]) -> None:
    """Route nothing more to `replicas`, let them finish their requests, stop them."""
    for replica in replicas:
        dep.router.remove(replica)
        if replica in dep.replicas:
            dep.replicas.remove(replica)
    drain_replicas([(r, dep.deployment) for r in replicas])
    for replica in replicas:
        replica.stop()


class ServeInstance:
    """Owns every thread and socket of one Serve instance; `shutdown()` frees them all."""

    def __init__(self, http_options: HTTPOptions, environ: Mapping[str, str] | None = None):
        self.http_options = http_options
        self._threads_before = set(threading.enumerate())
        keep_alive = effective_keep_alive(http_options, os.environ if environ is None else environ)
        self._lock = threading.RLock()
        self._routes: RouteTable[Endpoint] = RouteTable()
        self.apps: dict[str, RunningApp] = {}
        self._proxy_loop = LoopThread("serve-proxy")
        self._health = HealthMonitor(self._replace_unhealthy)
        self.server = start_server(Proxy(self._routes, http_options), http_options, keep_alive, self._proxy_loop)

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

    def deploy(
        self,
        app: Application,
        name: str,
        route_prefix: str | None,
        config: ServeApplicationSchema | None = None,
        code: Mapping[str, Deployment] | None = None,
    ) -> DeploymentHandle[Any]:
        _check_one_ingress(app, name)
        with self._lock:
            self._check_prefix_free(route_prefix, name)
            new = RunningApp(name, route_prefix, app.deployment.name, config=config, code=dict(code or {}))
            try:
                self._start_graph(app, new, {})
            except BaseException:
                new.stop(drain=False)
                raise
            old = self.apps.get(name)
            if new.failed:
                raise self._failed_deploy(new, old)
            self.apps[name] = new
            if old is not None and old.route_prefix is not None and old.route_prefix != route_prefix:
                self._routes.remove(old.route_prefix)
            if route_prefix is not None:
                router = new.deployments[new.ingress].router
                self._routes.set(route_prefix, Endpoint(name, router))
        if old is not None:
            old.stop()
        return self.handle(name, new.ingress)

    def update_in_place(self, name: str, config: ServeApplicationSchema, deployments: Mapping[str, Deployment]) -> None:
        """A config redeploy whose code is unchanged, as Ray's lightweight update: each
        deployment keeps its replicas, which get a changed `user_config` through
        `reconfigure`; limits change in the router; the replica count scales. A change
        of `ray_actor_options` or placement replaces that deployment's replicas only."""
        app = self.apps[name]
        for dep_name, new in deployments.items():
            self._update_deployment(app.deployments[dep_name], new)
        with self._lock:
            prefix = config.route_prefix
            if prefix != app.route_prefix:
                self._check_prefix_free(prefix, name)
                if app.route_prefix is not None:
                    self._routes.remove(app.route_prefix)
                if prefix is not None:
                    self._routes.set(prefix, Endpoint(name, app.deployments[app.ingress].router))
                app.route_prefix = prefix
            app.config = config

    def _update_deployment(self, running: RunningDeployment, new: Deployment) -> None:
        old, opts = running.deployment.options_, new.options_
        replicas = list(running.replicas)
        if _restart_options(old) != _restart_options(opts):
            self._add_replicas(running, [functools.partial(r.successor, new) for r in replicas])
            retire_replicas(running, replicas)
        else:
            for replica in replicas:
                if opts.user_config != old.user_config:
                    replica.apply_user_config(opts.user_config, REPLICA_START_TIMEOUT_S)
                replica.deployment = new
            running.router.resize(opts.max_ongoing_requests, opts.max_queued_requests)
        running.deployment = new
        replicas = list(running.replicas)
        if len(replicas) > opts.num_replicas:
            retire_replicas(running, replicas[opts.num_replicas :])
        elif replicas and len(replicas) < opts.num_replicas:
            top = max(r.index for r in replicas)
            first = replicas[0]
            added = [
                functools.partial(first.successor, new, top + 1 + i) for i in range(opts.num_replicas - len(replicas))
            ]
            self._add_replicas(running, added)

    def _add_replicas(self, running: RunningDeployment, makers: Sequence[Callable[[], Replica]]) -> None:
        for make in makers:
            started = _start_replica(make, _attempts(running.deployment))
            with self._lock:
                running.replicas.append(started)
                running.router.add(started)
                self._health.watch(started)

    def _failed_deploy(self, new: RunningApp, old: RunningApp | None) -> DeploymentStartError:
        """Keep the app as Ray does after a failed deploy, in status DEPLOY_FAILED.

        A first deploy stays with what did start; its failed deployments answer 503.
        A redeploy is dropped; the running version keeps serving from the replicas a
        rolling update would not have stopped yet (none when it ran one replica).
        """
        failed = new.failed
        summary = f"Failed to update the deployments {failed}."
        # One line, as Ray's `serve.run` raises it: the causes are in `serve.status()`
        # (each deployment's message) and in the log, as on Ray.
        error = DeploymentStartError(f"Deploying application {new.name} failed: {summary}")
        for name in failed:
            logger.error("Deploying %s of application %s failed: %s", name, new.name, new.deployments[name].cause)
        kept = new
        if old is not None:
            new.stop(drain=False)
            kept = old
            for dep_name in failed:
                dep = old.deployments.get(dep_name)
                if dep is None:
                    old.deployments[dep_name] = new.deployments[dep_name]
                    continue
                # Ray's rollout stops `rolling_update_percentage` of the replicas first.
                share = new.deployments[dep_name].deployment.options_.rolling_update_percentage
                stopped = max(int(share * len(dep.replicas)), 1)
                retire_replicas(dep, dep.replicas[:stopped])
                failure = new.deployments[dep_name]
                attempts = _attempts(failure.deployment)
                detail = failure.message.partition("Error:\n")[2]
                dep.fail(old.name, _ROLLOUT_FAILURE.format(attempts=attempts) + detail, failure.cause)
        kept.status, kept.message = ApplicationStatus.DEPLOY_FAILED, summary
        self.apps[kept.name] = kept
        if kept.route_prefix is not None and old is None:
            self._routes.set(kept.route_prefix, Endpoint(kept.name, kept.deployments[kept.ingress].router))
        return error

    def _replace_unhealthy(self, replica: Replica) -> None:
        """As Ray's controller after failed health checks: the deployment (and its app)
        is UNHEALTHY while the replica is stopped (its requests finish, its shutdown
        hooks run) and a new one started in its place; requests that arrive meanwhile
        wait for it."""
        with self._lock:
            app, dep = self._owner_of(replica)
            if app is None or dep is None:
                return  # deleted or redeployed meanwhile
            dep.status, dep.trigger, dep.message = (
                DeploymentStatus.UNHEALTHY,
                DeploymentStatusTrigger.HEALTH_CHECK_FAILED,
                _UNHEALTHY,
            )
            app.status, app.message = (
                ApplicationStatus.UNHEALTHY,
                f"The deployments {[dep.deployment.name]} are UNHEALTHY.",
            )
        retire_replicas(dep, [replica])
        try:
            successor = _start_replica(replica.successor, _attempts(replica.deployment))
        except DeploymentStartError:
            logger.exception("Replica %s could not be replaced; its deployment stays UNHEALTHY", replica.id)
            return
        with self._lock:
            if self.apps.get(app.name) is not app:
                successor.stop()
                return
            dep.replicas.append(successor)
            dep.router.add(successor)
            self._health.watch(successor)
            dep.status, dep.trigger, dep.message = DeploymentStatus.HEALTHY, DeploymentStatusTrigger.UNSPECIFIED, ""
            if all(d.status is DeploymentStatus.HEALTHY for d in app.deployments.values()):
                app.status, app.message = ApplicationStatus.RUNNING, ""

    def _owner_of(self, replica: Replica) -> tuple[RunningApp | None, RunningDeployment | None]:
        app = self.apps.get(replica.app_name)
        dep = None if app is None else app.deployments.get(replica.deployment.name)
        if dep is None or replica not in dep.replicas:
            return None, None
        return app, dep

    def _check_prefix_free(self, route_prefix: str | None, name: str) -> None:
        """Ray's refusal of a prefix another application serves."""
        owner = self._prefix_owner(route_prefix)
        if owner is not None and owner != name:
            raise ServeError(
                f'Prefix {route_prefix} is being used by application "{owner}". Failed to deploy application "{name}".'
            )

    def _prefix_owner(self, route_prefix: str | None) -> str | None:
        if route_prefix is None:
            return None
        for app in self.apps.values():
            if app.route_prefix == route_prefix:
                return app.name
        return None

    def _start_graph(
        self, node: Application, app: RunningApp, seen: dict[int, DeploymentHandle[Any]]
    ) -> DeploymentHandle[Any]:
        """Start `node`'s dependencies first, then its replicas; return its handle."""
        if id(node) in seen:
            return seen[id(node)]
        args = tuple(self._resolve(a, app, seen) for a in node.args)
        kwargs = {k: self._resolve(v, app, seen) for k, v in node.kwargs.items()}
        dep = node.deployment
        _check_init_args(dep, args, kwargs)
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
        bp = opts.backpressure_config
        rejection = (503, None) if bp is None else (bp.status_code, bp.retry_after_s)
        router: Router[Replica] = Router(dep.name, [], opts.max_ongoing_requests, opts.max_queued_requests, rejection)
        deployed = app.deployments[dep.name] = RunningDeployment(dep, [], router)
        for index in range(opts.num_replicas):
            make = functools.partial(Replica, dep, app.name, index, args, kwargs, world_size=opts.num_replicas)
            try:
                replica = _start_replica(make, _attempts(dep))
            except DeploymentStartError as err:
                retire_replicas(deployed, list(deployed.replicas))
                failure = _STARTUP_FAILURE.format(attempts=_attempts(dep))
                deployed.fail(app.name, failure + _traceback(err), str(err))
                break
            deployed.replicas.append(replica)
            router.add(replica)
            self._health.watch(replica)
        handle = self.handle_for(app.name, dep.name, router)
        seen[id(node)] = handle
        return handle

    def _resolve(self, value: Any, app: RunningApp, seen: dict[int, DeploymentHandle[Any]]) -> Any:
        return _replace_applications(value, lambda node: self._start_graph(node, app, seen))

    # -- handles -----------------------------------------------------------------------

    def handle_for(self, app_name: str, deployment: str, router: Router[Replica]) -> DeploymentHandle[Any]:
        return DeploymentHandle(deployment, app_name, router, self.driver_loop)

    def handle(self, app_name: str, deployment: str | None = None) -> DeploymentHandle[Any]:
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
        self._health.stop()
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


def _restart_options(options: Any) -> list[Any]:
    """The options whose change makes Ray restart a deployment's replicas (its actor's
    resources and placement); the others change on the running replicas."""
    return [options.ignored.get(key) for key in _RESTART_OPTIONS]


_RESTART_OPTIONS = ("ray_actor_options", "placement_group_bundles", "placement_group_strategy", "max_replicas_per_node")


def _check_init_args(dep: Deployment, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """As `serve.run` on Ray, which pickles a deployment's init arguments once: refuse
    one that cannot be pickled with Ray's TypeError (measured), naming the deployment."""
    try:
        copy_value((args, kwargs))
    except TypeError as err:
        raise TypeError(f"Could not serialize the deployment init args: {err} (deployment {dep.name!r})") from err


def _attempts(deployment: Deployment) -> int:
    """How many starts of a replica may fail in a row before its deploy fails."""
    return min(START_ATTEMPTS, deployment.options_.max_constructor_retry_count)


def _start_replica(make: Callable[[], Replica], attempts: int) -> Replica:
    """A started replica; as Ray, a failing start is tried `attempts` times."""
    for attempt in range(1, attempts + 1):
        replica = make()
        try:
            replica.start(REPLICA_START_TIMEOUT_S)
        except DeploymentStartError:
            if attempt == attempts:
                raise
            continue
        return replica
    raise AssertionError("unreachable")


_UNHEALTHY = (
    "A replica's health check failed. This deployment will be UNHEALTHY until the replica "
    "recovers or a new deploy happens."
)
# Ray 2.60's messages of a deployment that failed to deploy (`DeploymentStatus`).
_STARTUP_FAILURE = (
    "The deployment failed to start {attempts} times in a row. This may be due to a problem "
    "with its constructor or initial health check failing. See controller logs for details. Error:\n"
)
_ROLLOUT_FAILURE = (
    "The deployment failed to start {attempts} times in a row during a rolling update. This may be "
    "due to a problem with its constructor, initial health check or health checks failing. The update "
    "is stopped and replicas of the previous version keep running until a new deploy. See controller "
    "logs for details. Error:\n"
)


def _traceback(err: DeploymentStartError) -> str:
    return "".join(traceback.format_exception(err.__cause__ or err)).rstrip()


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
