"""Cluster mode of the Ray adapter: certify a running Ray cluster that is not the plugin's.

`--ray-address ADDR` (or `$RAY_ADDRESS`) connects to a cluster (a `ray start` cluster,
KubeRay) whose Serve is already running. The plugin is a guest there:

- it never starts, restarts or shuts down Ray or Serve on it; it deploys under names
  and a route prefix of its own (`psv-<id>-name` at `/psv-<id>/...`) and deletes only
  those, at each test's end and again when the session ends (also after Ctrl-C);
- a test that needs other `http_options` or environment than the cluster runs with is
  not run but graded "not testable", with the reason (`NotTestableError`);
- `serve_probe` records through a named Ray actor, which replicas on every node reach;
- what the cluster actually does is observed and reported instead: its HTTP settings,
  and how long it keeps idle connections, at the proxy and through `--serve-url`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from ..keepalive import IdleCloseCheck, keep_alive_verdict
from ..probe import ActorChannel, Probe
from .base import AdapterError, NotTestableError
from .cluster_view import Namespace, SessionServe
from .ray import RayAdapter, _poll_faster, _ship_by_value

__all__ = ["ClusterServe", "Namespace", "RayClusterAdapter"]

#: The Ray namespace of the probe actors.
PROBE_NAMESPACE = "pytest-serve"
#: How long to watch an idle connection before reporting it "still open": covers
#: Ray's 90 s default keep-alive.
IDLE_OBSERVE_MAX_S = 100.0
# http_options whose values the cluster's Serve reports and a test may need.
_COMPARED_OPTIONS = ("keep_alive_timeout_s", "request_timeout_s", "root_path")


class ClusterServe(SessionServe):
    """The driver's `SessionServe`: `run` and `delete` go through the adapter (which
    keeps track of this session's apps), errors come back in the test's names, and
    `shutdown` deletes this session's apps only."""

    def __init__(self, serve: ModuleType, namespace: Namespace, adapter: RayClusterAdapter) -> None:
        super().__init__(serve, namespace)
        self._adapter = adapter

    def run(self, target: Any, *args: Any, name: str = "default", route_prefix: str | None = "/", **kw: Any) -> Any:
        try:
            return self._adapter.deploy(target, name=name, route_prefix=route_prefix, extra=(args, kw))
        except Exception as err:
            raise self._ns.unmask_error(err) from None

    def delete(self, name: str, _blocking: bool = True) -> None:
        self._serve.delete(self._ns.name(name), _blocking=_blocking)

    def shutdown(self) -> None:
        """The cluster's Serve is not this session's to stop: delete this session's apps."""
        self._adapter.delete_session_apps()


class RayClusterAdapter(RayAdapter):
    """Real Ray Serve on a running cluster; see the module's docstring."""

    starts_ray = False
    fresh_instances = False

    def __init__(self, address: str, serve_url: str | None = None) -> None:
        super().__init__()
        if serve_url is not None:
            parts = urlsplit(serve_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise AdapterError(
                    f"--serve-url {serve_url!r} is not an http(s) URL; give the base URL clients use, "
                    "e.g. http://serve.example.com or http://127.0.0.1:8080"
                )
        self.address = address
        self.serve_url = serve_url.rstrip("/") if serve_url else None
        self.namespace = Namespace.new()
        self._http: dict[str, Any] | None = None
        self._proxy_url: str | None = None
        self._nodes = 0
        self._deployed: set[str] = set()
        self._cluster_serve = ClusterServe(self._serve, self.namespace, self)
        self._idle: dict[str, IdleCloseCheck] = {}
        self._probe_actor: Any = None

    @property
    def serve(self) -> ModuleType:
        return self._cluster_serve

    @property
    def proxy_url(self) -> str:
        """Where the cluster's Serve proxy itself listens, from its HTTP settings."""
        self._connect()
        assert self._proxy_url is not None
        return self._proxy_url

    @property
    def base_url(self) -> str:
        """Clients' base URL: `--serve-url` (else the proxy) plus this session's route root."""
        return (self.serve_url or self.proxy_url) + self.namespace.root

    def _connect(self) -> None:
        ray = self._ray
        if not ray.is_initialized():
            try:
                ray.init(address=self.address, log_to_driver=False)
            except Exception as err:
                raise AdapterError(
                    f"--ray-address {self.address}: cannot connect to the Ray cluster ({type(err).__name__}: {err}); "
                    "give the head's GCS address (host:6379) or a Ray Client address (ray://host:10001)"
                ) from None
            _poll_faster()
            _ship_plugin_modules()
        if self._http is None:
            self._read_cluster()

    def _read_cluster(self) -> None:
        from ray.serve.context import _get_global_client

        client = _get_global_client(raise_if_no_controller_running=False)
        if client is None:
            raise AdapterError(
                f"no Serve instance runs on the Ray cluster at {self.address}; pytest-serve certifies the "
                "cluster's Serve as its operator started it and does not start one (e.g. `serve start "
                "--http-host 0.0.0.0 --http-port 8000` on the cluster, or a RayService)"
            )
        http = client.http_config
        self._http = {
            "host": http.host,
            "port": http.port,
            **{key: getattr(http, key, None) for key in _COMPARED_OPTIONS},
        }
        host = str(http.host or "")
        if host in ("", "0.0.0.0", "::"):
            gcs = str(self._ray.get_runtime_context().gcs_address)
            host = gcs.rpartition(":")[0] or "127.0.0.1"
        self._proxy_url = f"http://{host}:{http.port}" + (http.root_path or "")
        self._nodes = sum(1 for node in self._ray.nodes() if node.get("Alive"))

    def check_testable(
        self, http_options: Mapping[str, Any], env: Mapping[str, str], defaults: Sequence[str] = ()
    ) -> str | None:
        self._connect()
        assert self._http is not None
        wanted = {k: v for k, v in http_options.items() if k not in ("host", "port")}
        reasons = []
        if env:
            variables = ", ".join(f"${k}={v}" for k, v in sorted(env.items()))
            reasons.append(f"needs {variables} where Serve starts; the cluster's Serve runs with its own environment")
        for key, value in sorted(wanted.items()):
            actual = self._http.get(key, "(not reported)")
            if actual != value:
                reasons.append(f"needs http_options {key}={value!r}; the cluster runs with {key}={actual!r}")
        from ray.serve.config import HTTPOptions

        default = HTTPOptions()
        for key in defaults:
            if self._http.get(key) != getattr(default, key, None):
                reasons.append(
                    f"checks the default of {key} ({getattr(default, key, None)!r} in Ray); "
                    f"the cluster sets {key}={self._http.get(key)!r}"
                )
        return "; ".join(reasons) or None

    def start(self, http_options: Mapping[str, Any], env: Mapping[str, str]) -> None:
        reason = self.check_testable(http_options, env)
        if reason is not None:
            raise NotTestableError(reason)
        self._url = self.base_url
        if not self._idle:
            self._observe_idle_close()

    def _observe_idle_close(self) -> None:
        """Time the close of an idle connection at the proxy and through --serve-url, in the
        background while the tests run (up to IDLE_OBSERVE_MAX_S)."""
        self._idle["proxy"] = IdleCloseCheck.begin(self.proxy_url, IDLE_OBSERVE_MAX_S)
        if self.serve_url is not None:
            self._idle["serve_url"] = IdleCloseCheck.begin(self.serve_url, IDLE_OBSERVE_MAX_S)

    def stop(self) -> None:
        """Delete this session's apps; the cluster, its Serve and other apps stay as they are.
        The connection stays open (the probe's actor lives with it); Ray closes it at exit."""
        if self._ray.is_initialized():
            self.delete_session_apps()
        self._url = None

    def alive(self) -> bool:
        return bool(self._ray.is_initialized())

    def delete_session_apps(self) -> None:
        """Delete every app of this session: those deployed here and any other with its tag."""
        names = set(self._deployed)
        try:
            names.update(n for n in self._serve.status().applications if self.namespace.owns(n))
        except Exception:
            pass
        errors = []
        for name in sorted(names):
            try:
                self._serve.delete(name)
            except Exception as err:
                errors.append(f"{name}: {err}")
            else:
                self._deployed.discard(name)
        if errors:
            raise AdapterError(f"could not delete this session's apps from the cluster: {'; '.join(errors)}")

    def deploy(
        self,
        app: Any,
        *,
        name: str,
        route_prefix: str | None,
        extra: tuple[tuple[Any, ...], dict[str, Any]] = ((), {}),
    ) -> Any:
        self._connect()
        _ship_by_value(app)
        full = self.namespace.name(name)
        self._deployed.add(full)
        args, kw = extra
        return self._serve.run(app, *args, name=full, route_prefix=self.namespace.prefix(route_prefix), **kw)

    def in_test_names(self, text: str) -> str:
        return self.namespace.unmask(text)

    def delete(self, name: str) -> None:
        full = self.namespace.name(name)
        self._serve.delete(full)
        self._deployed.discard(full)

    def deploy_config(self, config: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
        raise NotTestableError(
            "deploys a Serve config file, which replaces every application on the cluster and applies its "
            "http_options to the whole instance; the cluster's applications and settings are not the plugin's "
            "to change"
        )

    def make_probe(self, directory: Path) -> Probe:
        """A probe kept by a named actor on the cluster: replicas on any node reach it."""
        self._connect()
        name = f"{self.namespace.tag}-probe"
        if self._probe_actor is None:
            # Held for the session: the actor ends when its last handle from here goes.
            self._probe_actor = ActorChannel.start_actor(name, PROBE_NAMESPACE)
        return Probe(channel=ActorChannel.create(name, PROBE_NAMESPACE, self._probe_actor))

    def instance_facts(self) -> dict[str, Any]:
        if self._http is None:
            return {}
        facts: dict[str, Any] = {
            "ray_address": self.address,
            "alive_nodes": self._nodes,
            "serve_http_options": dict(self._http),
            "proxy_url": self._proxy_url,
            "serve_url": self.serve_url,
            "namespace": self.namespace.tag,
        }
        idle = {where: check.result() for where, check in self._idle.items()}
        facts.update({f"{where}_idle_close": figure for where, figure in idle.items()})
        if "proxy" in idle and "serve_url" in idle:
            verdict, why = keep_alive_verdict(
                idle["proxy"]["seconds"], idle["serve_url"]["seconds"], IDLE_OBSERVE_MAX_S
            )
            facts["keep_alive_check"] = {"verdict": verdict, "detail": why}
        return facts


_BY_VALUE = ("pytest_serve.probe", "pytest_serve.adapters.cluster_view")


def _ship_plugin_modules() -> None:
    """Replicas on other hosts need not have pytest-serve or its conformance suite
    installed: the probe and the suite's modules travel by value."""
    from ray import cloudpickle

    for name, module in list(sys.modules.items()):
        if module is not None and (name in _BY_VALUE or name.split(".")[0] == "conformance"):
            try:
                cloudpickle.register_pickle_by_value(module)  # type: ignore[no-untyped-call,unused-ignore]
            except ValueError:
                pass
