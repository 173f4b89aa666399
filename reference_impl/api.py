"""The public `serve.*` functions, over one process-wide `ServeInstance`."""

from __future__ import annotations

import asyncio
import atexit
import functools
import importlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from .config import (
    ControllerOptions,
    HTTPOptions,
    gRPCOptions,
    parse_http_options,
    validate_route_prefix,
)
from .config_file import (
    ServeConfig,
    apply_overrides,
    builder_args,
    code_version,
    env_vars,
    load_config,
    no_effect,
    overridden_deployments,
    start_options,
)
from .deployment import Application, Deployment
from .exceptions import ServeNotRunningError
from .handle import DeploymentHandle
from .instance import ServeInstance
from .schema import (
    ApplicationStatusOverview,
    DeploymentStatusOverview,
    ProxyStatus,
    ReplicaState,
    ServeApplicationSchema,
    ServeStatus,
    deployment_logging_config,
    global_logging_config,
)

__all__ = [
    "RunTarget",
    "delete",
    "get_app_handle",
    "get_deployment_handle",
    "run",
    "run_config",
    "run_many",
    "running_instance",
    "shutdown",
    "shutdown_async",
    "start",
    "status",
]

logger = logging.getLogger("reference_impl")

_lock = threading.RLock()
_instance: ServeInstance | None = None

# Ray's switch for `serve.run(..., _local_testing_mode=True)` everywhere; only "1" turns it
# on, as in Ray (which reads it when ray.serve is imported; the reference, at each run).
LOCAL_TESTING_ENV_VAR = "RAY_SERVE_FORCE_LOCAL_TESTING_MODE"
_local_testing_noted = False


def running_instance() -> ServeInstance | None:
    """The running instance, if any (used by the pytest plugin's adapter)."""
    return _instance


def start(
    http_options: HTTPOptions | Mapping[str, Any] | None = None,
    logging_config: Any = None,
    **ignored: Any,
) -> None:
    """Start the instance (proxy on `http_options.host:port`) if it is not running.

    When it runs already, differing `http_options` are ignored with a warning, as in
    Ray: HTTP settings are fixed for the life of the instance (KA-5). So is
    `logging_config`, checked (as Ray does) only when the instance starts.
    """
    global _instance
    unknown = set(ignored) - {"detached", "proxy_location", "grpc_options", "tracing_config", "controller_options"}
    if unknown:
        raise TypeError(f"serve.start() got unexpected keyword argument(s) {sorted(unknown)}")
    options = parse_http_options(http_options)
    _check_options(ignored.get("grpc_options"), gRPCOptions, "grpc_options")
    _check_options(ignored.get("controller_options"), ControllerOptions, "controller_options")
    with _lock:
        if _instance is None:
            global_logging_config(logging_config)
            _instance = ServeInstance(options)
            return
        running = _instance.http_options
        logger.info("Connecting to the running Serve instance. New http_options will not be applied.")
        if http_options is not None:
            differing = [
                name for name in type(options).model_fields if getattr(options, name) != getattr(running, name)
            ]
            if differing:
                logger.warning(
                    "The new client HTTP config differs from the existing one in the following "
                    "fields: %s. The new HTTP config is ignored.",
                    differing,
                )


def _require() -> ServeInstance:
    if _instance is None:
        raise ServeNotRunningError("Serve is not running; call serve.run(app) or serve.start() first.")
    return _instance


def run(
    target: Application,
    blocking: bool = False,
    name: str = "default",
    route_prefix: str | None = "/",
    logging_config: Any = None,
    _local_testing_mode: bool = False,
    external_scaler_enabled: bool = False,
    controller_options: ControllerOptions | Mapping[str, Any] | None = None,
) -> DeploymentHandle[Any]:
    """Deploy `target` as app `name` at `route_prefix`; return its ingress handle.

    `external_scaler_enabled` (whether an outside scaler may set the replica count) and
    `controller_options` are accepted as Ray accepts them; one process has no scaler and
    no controller actor."""
    _check_options(controller_options, ControllerOptions, "controller_options")
    if isinstance(target, Deployment):
        raise TypeError(f"serve.run() expects an Application; call `{target.name}.bind()` and pass that.")
    if not isinstance(target, Application):
        raise TypeError(f"serve.run() expects an Application returned by Deployment.bind(), got {target!r}")
    if not isinstance(name, str) or not name:
        raise ValueError(f"Invalid application name {name!r}: must be a non-empty string.")
    if _local_testing_mode or os.environ.get(LOCAL_TESTING_ENV_VAR) == "1":
        _note_local_testing_mode()
    handle = _deploy(target, name, route_prefix, logging_config)
    if blocking:
        _block_until_interrupted()
    return handle


def _note_local_testing_mode() -> None:
    """Say once what Ray's local testing mode means here: the code under test may ask for
    it, and a test that passes on the reference must not be mistaken for one that passes
    in that mode, which lacks most of what the reference runs."""
    global _local_testing_noted
    if _local_testing_noted:
        return
    _local_testing_noted = True
    logger.warning(
        "Ray Serve's local testing mode (_local_testing_mode=True or $%s=1) changes nothing on "
        "the reference: every app runs in this process anyway, with its HTTP proxy, @serve.batch, "
        "@serve.multiplexed, replica contexts, replica counts and request limits, as on Ray. On "
        "Ray, local testing mode has none of these; run the same tests with --serve-impl=ray-local "
        "to see which of them need it.",
        LOCAL_TESTING_ENV_VAR,
    )


def _deploy(
    target: Application,
    name: str,
    route_prefix: str | None,
    logging_config: Any,
    config: ServeApplicationSchema | None = None,
    code: Mapping[str, Deployment] | None = None,
) -> DeploymentHandle[Any]:
    validate_route_prefix(route_prefix)
    if logging_config:
        # Ray applies it to each deployment without its own, checking it as theirs.
        deployment_logging_config(logging_config)
    with _lock:
        if _instance is None:
            start()
        _deployed_at[name] = time.time()
        return _require().deploy(target, name, route_prefix, config=config, code=code)


def _block_until_interrupted() -> None:
    stop = threading.Event()
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        shutdown()


def delete(name: str, _blocking: bool = True) -> None:
    """Delete app `name` (its route disappears, its replicas stop); unknown names are ignored."""
    with _lock:
        if _instance is not None:
            _instance.delete(name)


def shutdown() -> None:
    """Stop every app, the proxy and their threads; a no-op when not running."""
    global _instance
    with _lock:
        instance, _instance = _instance, None
    if instance is not None:
        instance.shutdown()


async def shutdown_async() -> None:
    """`shutdown()` for code inside an event loop: the loop keeps running meanwhile."""
    await asyncio.to_thread(shutdown)


@dataclass(frozen=True)
class RunTarget:
    """One application for `run_many` (Ray's fields and defaults)."""

    target: Application
    name: str = "default"
    route_prefix: str | None = "/"
    logging_config: Any = None
    external_scaler_enabled: bool = False


def run_many(
    targets: Sequence[RunTarget],
    blocking: bool = False,
    wait_for_ingress_deployment_creation: bool = True,
    wait_for_applications_running: bool = True,
    _local_testing_mode: bool = False,
    controller_options: ControllerOptions | Mapping[str, Any] | None = None,
) -> list[DeploymentHandle[Any]]:
    """Deploy each target, in order; their ingress handles. The reference deploys each
    app to RUNNING (or raises) whatever the two `wait_for_*` flags say."""
    _check_options(controller_options, ControllerOptions, "controller_options")
    handles = [
        run(
            t.target,
            name=t.name,
            route_prefix=t.route_prefix,
            logging_config=t.logging_config,
            _local_testing_mode=_local_testing_mode,
        )
        for t in targets
    ]
    if blocking:
        _block_until_interrupted()
    return handles


def _check_options(options: Any, model: type[BaseModel], what: str) -> None:
    """Validate `options` given as a dict or a `model` (pydantic's error names the field)."""
    if options is not None and not isinstance(options, model):
        if not isinstance(options, Mapping):
            raise TypeError(f"{what} must be a dict or {model.__name__}, got {type(options).__name__}")
        model(**options)


# NOTE: as Ray does (`atexit.register(shutdown, True)` in ray/_private/worker.py), a
# script's instance goes down as the script exits, so cancelled handlers still run their
# `except` blocks (the guide's second stream.py prints "Cancelled! Exiting." at the end).
atexit.register(shutdown)


def get_app_handle(name: str) -> DeploymentHandle[Any]:
    return _require().handle(name)


def get_deployment_handle(deployment_name: str, app_name: str | None = None) -> DeploymentHandle[Any]:
    instance = _require()
    if app_name is None:
        if len(instance.apps) != 1:
            raise ValueError(f"app_name is required when more than one application is running: {sorted(instance.apps)}")
        app_name = next(iter(instance.apps))
    return instance.handle(app_name, deployment_name)


# The one "node" of this process, named like a Ray node ID (56 hex digits).
NODE_ID = (uuid.uuid4().hex + uuid.uuid4().hex)[:56]
# When each app's latest deploy began (Ray's `last_deployed_time_s`).
_deployed_at: dict[str, float] = {}


def last_deployed_time_s(name: str) -> float:
    return _deployed_at.get(name, 0.0)


def status() -> ServeStatus:
    """Ray's `ServeStatus`: the proxy, and each app with its deployments.

    A deploy finishes before `serve.run` returns: an app is RUNNING, or DEPLOY_FAILED
    after a failed deploy; a deployment whose replica failed its health checks is
    UNHEALTHY until its replacement runs.
    """
    instance = _instance
    if instance is None:
        return ServeStatus()
    applications = {
        name: ApplicationStatusOverview(
            status=app.status,
            message=app.message,
            last_deployed_time_s=last_deployed_time_s(name),
            deployments={
                dep_name: DeploymentStatusOverview(
                    status=dep.status,
                    status_trigger=dep.trigger,
                    replica_states={ReplicaState.RUNNING.value: len(dep.replicas)} if dep.replicas else {},
                    message=dep.message,
                )
                for dep_name, dep in list(app.deployments.items())
            },
        )
        for name, app in list(instance.apps.items())
    }
    return ServeStatus(proxies={NODE_ID: ProxyStatus.HEALTHY}, applications=applications, target_capacity=None)


def import_attr(path: str) -> Any:
    """`pkg.mod:attr` or `pkg.mod.attr` → the object."""
    module_name, _, attr = path.partition(":") if ":" in path else path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ImportError(f"Cannot import module {module_name!r} from import_path {path!r}: {err}") from err
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ImportError(f"Module {module_name!r} has no attribute {attr!r} (import_path {path!r})") from None


def build_application(import_path: str, args: Mapping[str, Any]) -> Application:
    """What a config file's `import_path` names: an Application, or a builder taking `args`."""
    target = import_attr(import_path)
    if isinstance(target, Application):
        if args:
            raise ValueError(
                f"import_path {import_path!r} names a bound Application, which takes no args; "
                "point it at a builder function `def app_builder(args: dict) -> Application`."
            )
        return target
    if isinstance(target, Deployment):
        raise TypeError(f"import_path {import_path!r} names a Deployment; bind it: `app = {target.name}.bind()`.")
    if callable(target):
        built = target(builder_args(target, args))
        if isinstance(built, Application):
            return built
        raise TypeError(f"The builder {import_path!r} returned {built!r}, not an Application")
    raise TypeError(f"import_path {import_path!r} names {target!r}, not an Application or builder")


def run_config(
    config: ServeConfig | str | Mapping[str, Any],
    on_app_error: Callable[[str, BaseException], None] | None = None,
) -> dict[str, DeploymentHandle[Any]]:
    """Deploy a config file declaratively, as Ray's `serve deploy` / `serve run config.yaml`:
    start with its http_options, deploy each application with its `deployments:`
    overrides, `args`, `logging_config` and `runtime_env.env_vars`, and delete the apps an
    earlier config deployed that this one no longer lists. An app whose code version is
    unchanged (import path, args, runtime_env) is updated in place (Ray's lightweight
    update): its replicas stay, `reconfigure` gets a new `user_config`.

    An app that fails raises, unless `on_app_error(name, error)` is given: then the other
    apps deploy all the same (as Ray's controller applies each app on its own)."""
    if not isinstance(config, ServeConfig):
        config = load_config(config)
    ignored = no_effect(config)
    if ignored:
        logger.warning("Serve config: accepted, with no effect in one process: %s", ", ".join(ignored))

    def attempt(name: str, step: Callable[[], object]) -> None:
        if on_app_error is None:
            step()
            return
        try:
            step()
        except Exception as err:
            on_app_error(name, err)

    running = _instance.apps if _instance is not None else {}
    entries = [_with_global_logging(entry, config) for entry in config.applications]
    in_place: dict[str, dict[str, Deployment]] = {}
    rebuilt: dict[str, tuple[Application, dict[str, Deployment]]] = {}

    def prepare(entry: ServeApplicationSchema) -> None:
        current = running.get(entry.name)
        if (
            current is not None
            and current.config is not None
            and code_version(current.config) == code_version(entry)
            and set(current.code) <= set(current.deployments)  # else rebuild (e.g. a renamed duplicate)
        ):
            in_place[entry.name] = overridden_deployments(current.code, entry.deployments, entry.name)
            return
        os.environ.update(env_vars(entry))  # before the app's module is imported, as on Ray
        app = build_application(entry.import_path, entry.args)
        rebuilt[entry.name] = (app, apply_overrides(app, entry.deployments, entry.name))

    for entry in entries:
        attempt(entry.name, functools.partial(prepare, entry))
    start(start_options(config), logging_config=config.logging_config)
    instance = _require()
    listed = {entry.name for entry in entries}
    for name in [n for n, a in list(instance.apps.items()) if a.config is not None and n not in listed]:
        delete(name)
    for entry in entries:
        if entry.name in in_place:
            attempt(entry.name, functools.partial(instance.update_in_place, entry.name, entry, in_place[entry.name]))
        elif entry.name in rebuilt:
            app, code = rebuilt[entry.name]
            deploy = functools.partial(_deploy, app, entry.name, entry.route_prefix, entry.logging_config, entry, code)
            attempt(entry.name, deploy)
    return {e.name: instance.handle(e.name) for e in entries if e.name in instance.apps}


def _with_global_logging(entry: ServeApplicationSchema, config: ServeConfig) -> ServeApplicationSchema:
    """As Ray: an app without its own logging_config gets the config's global one."""
    if config.logging_config and entry.logging_config is None:
        return entry.model_copy(update={"logging_config": config.logging_config})
    return entry
