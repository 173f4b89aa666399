"""Adapter for real Ray Serve: a local Ray instance started and stopped by the plugin.

Ray's processes (raylet, proxy and replica actors) read the environment when they
start, so the environment is set before `ray.init()` and a test with another
`serve_env` restarts Ray itself; the plugin groups tests so that happens once per
configuration. Deployments defined in test modules travel to Ray's workers by value,
so test modules need not be importable there.
"""

from __future__ import annotations

import importlib
import os
import socket
import sys
import time
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any, ClassVar

from .base import Adapter, AdapterError, patched_environ
from .deadline import within_deadline

__all__ = ["RayAdapter"]

# Logical CPUs for the local Ray instance: every replica reserves one by default,
# and the conformance suite runs a few replicas at once on a 2-core machine.
NUM_CPUS = 32
START_TIMEOUT_S = 60.0
GCS_WAIT_ENV_VAR = "RAY_gcs_server_port_wait_time_s"
GCS_WAIT_S = 90
INIT_ATTEMPTS = 2
# Past this, a `ray.init()` or a Serve start is taken as hung (one was seen to hang for
# over 10 minutes under load): what it started is stopped and the start fails, or is
# tried again. The GCS alone may take GCS_WAIT_S.
DEADLINE_ENV_VAR = "PYTEST_SERVE_RAY_START_TIMEOUT_S"
DEADLINE_S = 240.0
# Read by Ray when it is imported: a one-node Ray then takes 127.0.0.1 as its node address,
# which every listener of it follows (GCS, raylet, agents, workers; docs/cluster.md names
# the one that does not). `ray.init(_node_ip_address=...)` alone would not do it: Ray
# resolves a loopback value back to the machine's address.
LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


class RayAdapter(Adapter):
    name = "ray"
    # Whether this adapter starts its own Ray (the cluster adapter joins one instead).
    starts_ray: ClassVar[bool] = True
    deviations: ClassVar[Mapping[str, str]] = {
        "KA-1": "Ray Serve 2.60's default keep-alive timeout is 90 s "
        "(RAY_SERVE_HTTP_KEEP_ALIVE_TIMEOUT_S unset, no http_options), not uvicorn's 5 s "
        "that the guide states.",
    }

    def __init__(self) -> None:
        # Ray reads it when imported: a one-node Ray then binds its GCS to loopback.
        self._ray, self._serve = import_ray("ray", LOOPBACK_ENV if self.starts_ray else {})
        self._url: str | None = None
        self._ray_env: dict[str, str] | None = None  # the environment Ray was started with
        self._ray_paths: set[str] = set()  # the PYTHONPATH its workers have

    @property
    def serve(self) -> ModuleType:
        return self._serve

    @property
    def version(self) -> str:
        return str(self._ray.__version__)

    @property
    def base_url(self) -> str:
        if self._url is None:
            raise AdapterError("ray: the instance is not running")
        return self._url

    def _init_ray(self, env: Mapping[str, str]) -> None:
        # The raylet and every worker read the environment when they start: set it
        # before ray.init and also hand it over as the job's runtime_env.
        self._ray_env = dict(env)
        env = {"RAY_AUTH_MODE": "disabled", **env}
        runtime_env = {"env_vars": dict(env)}
        # Ray's workers read PYTHONPATH once: the serve_module folder is on it from the
        # start, so a config file deployed later (onto this Ray) imports its modules.
        paths = [str(self.modules_dir)] if self.modules_dir is not None else []
        paths += _pythonpath()
        self._ray_paths = set(paths)
        if paths:
            runtime_env["env_vars"].setdefault("PYTHONPATH", os.pathsep.join(dict.fromkeys(paths)))
        # Ray gives its GCS 30 s to write its port file. On a loaded 2-core machine a
        # restart has been seen to miss that twice in a row (the failed start is then
        # cleaned up by ray.shutdown): allow longer, and try a second time.
        init_env = {GCS_WAIT_ENV_VAR: os.environ.get(GCS_WAIT_ENV_VAR, str(GCS_WAIT_S)), **LOOPBACK_ENV, **env}
        for attempt in range(1, INIT_ATTEMPTS + 1):
            try:
                with patched_environ(init_env):
                    within_deadline(
                        _deadline(),
                        "ray.init()",
                        lambda: self._ray.init(
                            # A private instance, even when $RAY_ADDRESS or a `ray start` cluster
                            # on this machine would make ray.init() connect to it: this adapter
                            # stops Serve and Ray when it is done.
                            address="local",
                            num_cpus=NUM_CPUS,
                            include_dashboard=False,
                            log_to_driver=False,
                            runtime_env=runtime_env,
                        ),
                        hint=f", or allow longer with ${DEADLINE_ENV_VAR}",
                    )
                break
            except Exception as err:
                self._ray.shutdown()
                if attempt == INIT_ATTEMPTS:
                    raise AdapterError(
                        f"ray.init() failed {INIT_ATTEMPTS} times; the last error: {type(err).__name__}: {err}"
                    ) from err
                print(f"pytest-serve: ray.init() failed ({type(err).__name__}: {err}); trying again", file=sys.stderr)
        _poll_faster()

    def start(self, http_options: Mapping[str, Any], env: Mapping[str, str]) -> None:
        self._start(http_options, env, keep_ray=False)

    def _start(self, http_options: Mapping[str, Any], env: Mapping[str, str], *, keep_ray: bool) -> None:
        options = dict(http_options)
        reservation = None
        if not options.get("port"):
            # NOTE: Serve's proxy binds with SO_REUSEPORT, so two instances given the same
            # port would share it silently. Hold the port with a REUSEPORT socket that does
            # not listen until the proxy has bound it, so no other process takes it meanwhile.
            reservation = _reserve_port(options.get("host", "127.0.0.1"))
            options["port"] = reservation.getsockname()[1]
        try:
            if not keep_ray:
                self._init_ray(env)
            with patched_environ(env):
                within_deadline(
                    _deadline(),
                    "serve.start()",
                    lambda: self._serve.start(http_options=options),
                    hint=f", or allow longer with ${DEADLINE_ENV_VAR}",
                )
            self._url = f"http://{options['host']}:{options['port']}"
            self._wait_until_serving()
        except Exception:
            self.stop()  # nothing of a failed start is left running
            raise
        finally:
            if reservation is not None:
                reservation.close()

    def restart(self, http_options: Mapping[str, Any], env: Mapping[str, str]) -> None:
        """Only Serve restarts when the environment stays the same (its HTTP options are
        fixed when Serve starts, not Ray): a Ray start costs ~10 s more."""
        if self._can_keep_ray(env):
            self._serve.shutdown()
            self._url = None
            self._start(http_options, env, keep_ray=True)
        else:
            self.stop()
            self.start(http_options, env)

    def _can_keep_ray(self, env: Mapping[str, str]) -> bool:
        """Whether the Ray this adapter started runs with `env`, and its workers with every
        folder now on `PYTHONPATH` (a test may add its own), so only Serve need restart."""
        return (
            self.starts_ray
            and bool(self._ray.is_initialized())
            and self._ray_env == dict(env)
            and set(_pythonpath()) <= self._ray_paths
        )

    def _wait_until_serving(self) -> None:
        """Until the proxy answers HTTP at all (its /-/healthz says 503 while no app runs)."""
        import httpx

        from ..http import http_client

        deadline = time.monotonic() + START_TIMEOUT_S
        last: object = None
        with http_client(timeout=2) as client:
            while time.monotonic() < deadline:
                try:
                    client.get(self.base_url + "/-/healthz")
                    return
                except httpx.TransportError as err:
                    last = err
                time.sleep(0.05)
        raise AdapterError(
            f"Ray Serve's proxy did not answer on {self.base_url} within {START_TIMEOUT_S:.0f} s (last error: {last})"
        )

    def deploy_config(self, config: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
        """As `serve run config.yaml` does: Ray validates the file and deploys it itself."""
        from ray.serve._private import api as private_api
        from ray.serve.schema import ServeDeploySchema

        keep_ray = self._can_keep_ray(env)
        if keep_ray:
            self._serve.shutdown()
            self._url = None
        else:
            self.stop()
        config = dict(config)
        http_options = dict(config.get("http_options") or {})
        reservation = None
        if not http_options.get("port"):
            reservation = _reserve_port(http_options.get("host", "127.0.0.1"))
            http_options["port"] = reservation.getsockname()[1]
        try:
            schema = ServeDeploySchema.model_validate({**config, "http_options": http_options})
            options = schema.http_options.model_dump()
            if not keep_ray:
                self._init_ray(env)
            with patched_environ(env):
                client = within_deadline(
                    _deadline(),
                    "serve.start()",
                    lambda: private_api.serve_start(http_options=options, proxy_location=schema.proxy_location),
                    hint=f", or allow longer with ${DEADLINE_ENV_VAR}",
                )
            self._url = f"http://{options['host']}:{options['port']}"
            client.deploy_apps(schema, _blocking=False)
            names = [app.name for app in schema.applications]
            self._wait_until_running(names)
        finally:
            if reservation is not None:
                reservation.close()
        return names

    def _wait_until_running(self, names: list[str]) -> None:
        """Ray's own wait gives up only after 60 s even when an app failed at once."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            apps = self._serve.status().applications
            states = {n: apps[n] for n in names if n in apps}
            failed = {n: a.message for n, a in states.items() if str(a.status).endswith("DEPLOY_FAILED")}
            if failed:
                raise AdapterError(f"Ray could not deploy {sorted(failed)}: {failed}")
            if len(states) == len(names) and all(str(a.status).endswith("RUNNING") for a in states.values()):
                return
            time.sleep(0.05)
        raise AdapterError(f"Ray did not bring {names} to RUNNING within {START_TIMEOUT_S:.0f} s")

    def stop(self) -> None:
        if self._ray.is_initialized():
            try:
                self._serve.shutdown()
            finally:
                self._ray.shutdown()
        self._url = None
        self._ray_env = None

    def alive(self) -> bool:
        return bool(self._ray.is_initialized())

    def deploy(self, app: Any, *, name: str, route_prefix: str | None) -> Any:
        _ship_by_value(app)
        return self._serve.run(app, name=name, route_prefix=route_prefix)


def import_ray(impl: str, env: Mapping[str, str]) -> tuple[ModuleType, ModuleType]:
    """Real `ray` and `ray.serve` for `--serve-impl=impl`, with `env` set (unless already
    set) if Ray is not imported yet, as Ray reads some settings only then."""
    from reference_impl import ray_alias

    if ray_alias.is_installed():
        raise AdapterError(
            f"--serve-impl={impl}: `ray` in this process is the reference implementation's "
            "stand-in (an enclosing pytest session or `reference-serve` installed it); run "
            "in a fresh process, or start the enclosing session with --no-serve-ray-alias."
        )
    if "ray.serve" not in sys.modules:  # (nor, then, the parts of Ray that read env)
        for key, value in env.items():
            os.environ.setdefault(key, value)
    try:
        return importlib.import_module("ray"), importlib.import_module("ray.serve")
    except ImportError as err:
        raise AdapterError(
            f'--serve-impl={impl} needs Ray Serve ({err}); install it with `pip install "pytest-serve[ray]"`.'
        ) from None


def _pythonpath() -> list[str]:
    return [path for path in os.environ.get("PYTHONPATH", "").split(os.pathsep) if path]


def _deadline() -> float:
    value = os.environ.get(DEADLINE_ENV_VAR, "")
    try:
        return float(value) if value else DEADLINE_S
    except ValueError:
        raise AdapterError(f"${DEADLINE_ENV_VAR} must be a number of seconds, got {value!r}") from None


def _poll_faster() -> None:
    """Ray's client polls the controller every second while serve.run/delete wait; poll
    every 50 ms so each deploy takes ~1 s less. Harmless if the setting moves."""
    try:
        from ray.serve._private import client
    except ImportError:
        return
    if hasattr(client, "CLIENT_POLLING_INTERVAL_S"):
        client.CLIENT_POLLING_INTERVAL_S = 0.05


def _reserve_port(host: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if hasattr(socket, "SO_REUSEPORT"):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, 0))
    return sock


def _ship_by_value(app: Any) -> None:
    """Pickle the modules of the app's deployments by value, so Ray's workers need not
    import test modules (pytest puts their folders on the driver's sys.path only)."""
    from ray import cloudpickle

    # Typed here: Ray's cloudpickle has no annotations when Ray is installed.
    register_by_value: Callable[[ModuleType], None] = cloudpickle.register_pickle_by_value
    seen: set[int] = set()
    stack = [app]
    while stack:
        node = stack.pop()
        deployment = getattr(node, "_bound_deployment", None)  # a ray.serve Application
        if deployment is None or id(node) in seen:
            continue
        seen.add(id(node))
        module = sys.modules.get(getattr(deployment.func_or_class, "__module__", "") or "")
        if module is not None and _is_test_module(module):
            try:
                register_by_value(module)
            except ValueError:
                pass
        stack.extend(deployment.init_args)
        stack.extend(deployment.init_kwargs.values())


def _is_test_module(module: ModuleType) -> bool:
    path = getattr(module, "__file__", "") or ""
    return "site-packages" not in path and "dist-packages" not in path and module.__name__ != "__main__"
