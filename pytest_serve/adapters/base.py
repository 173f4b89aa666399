"""The adapter contract: how pytest-serve drives one Serve implementation.

An adapter starts and stops an instance with given `http_options` and environment,
deploys apps and config files, and says where the instance listens. Everything
else (clients, probes, timing, reports) is the plugin's and works the same for
every implementation. Vendors subclass `Adapter`; see docs/adapters.md.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import socket
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

from ..probe import Probe

__all__ = [
    "Adapter",
    "AdapterError",
    "NotTestableError",
    "build_application",
    "free_port",
    "patched_environ",
]


class AdapterError(Exception):
    """The implementation could not be loaded, started or used; the message says how to fix it."""


class NotTestableError(AdapterError):
    """This instance cannot run a test as the test needs (e.g. a running cluster whose
    settings are not the plugin's to change); the message says why. The test's clause is
    graded "not testable" rather than passed or failed."""


class Adapter(ABC):
    """Drives one Serve implementation for a pytest session.

    Lifecycle: `start()` → any number of `deploy()`/`delete()`/`deploy_config()` →
    `stop()`; then possibly `start()` again with other options. The plugin calls
    these from the test's thread only, never concurrently.
    """

    #: Short name shown in reports, e.g. "reference", "ray", "acme-serve".
    name: str = "custom"
    #: Clause ID → reason, for documented clauses this implementation knowingly departs from.
    deviations: ClassVar[Mapping[str, str]] = {}
    #: Whether `restart()` gives an instance on which nothing was deployed before
    #: (`serve_fresh_instance`); not so on a shared cluster.
    fresh_instances: ClassVar[bool] = True
    #: Set by the plugin before the first start: the folder `serve_module` writes test
    #: modules to. An adapter whose workers start before a test writes its modules (and
    #: read `PYTHONPATH` only then) puts it on their path.
    modules_dir: Path | None = None
    #: Why this implementation serves no HTTP, or None: it has a proxy at `base_url`. A test
    #: that reaches for HTTP then fails with `NoHTTPError` and this reason (Ray's local
    #: testing mode has none); `base_url` raises it too.
    no_http: ClassVar[str | None] = None

    @property
    @abstractmethod
    def serve(self) -> ModuleType:
        """The module with the Ray Serve API (`deployment`, `ingress`, `run`, ...)."""

    @property
    def version(self) -> str:
        return str(getattr(self.serve, "__version__", "unknown"))

    @property
    @abstractmethod
    def base_url(self) -> str:
        """`http://host:port` of the running instance's proxy."""

    @abstractmethod
    def start(self, http_options: Mapping[str, Any], env: Mapping[str, str]) -> None:
        """Start an instance whose proxy uses `http_options`, with `env` set while it starts.

        `http_options` always carries `host` and `port`; port 0 asks for any free port
        (adapters that cannot bind port 0 pick a free one with `free_port()`).
        """

    @abstractmethod
    def stop(self) -> None:
        """Stop the instance and everything it started. Must be safe to call twice."""

    def restart(self, http_options: Mapping[str, Any], env: Mapping[str, str]) -> None:
        """Stop what runs (if anything) and start with these settings, as `start()`.

        Override where part of a start can be kept when only some settings change (Ray:
        the same environment keeps Ray itself, and only Serve restarts).
        """
        self.stop()
        self.start(http_options, env)

    def alive(self) -> bool:
        """Whether the instance started by `start()` still runs; the plugin restarts it if not.

        Override where something besides the adapter can stop the instance (e.g. an
        in-process implementation whose tests call `serve.shutdown()` themselves).
        """
        return True

    def check_testable(
        self, http_options: Mapping[str, Any], env: Mapping[str, str], defaults: Sequence[str] = ()
    ) -> str | None:
        """Why a test needing these settings cannot run here, or None if it can. `defaults`
        names http_options whose unset default the test checks. Called before `start()`;
        the default: every setting can be had."""
        return None

    def make_probe(self, directory: Path) -> Probe:
        """An empty probe that the instance's replicas can record into; the default keeps
        events in a file in `directory`, which every process of this machine sees."""
        return Probe(directory / "events.jsonl")

    def instance_facts(self) -> dict[str, Any]:
        """Facts about the running instance as a whole, reported beside the verdicts (e.g.
        a cluster's own settings and measured idle-close times), plain JSON values; the
        default: none. (A test's own figures go through `serve_observe` instead.)"""
        return {}

    def __reduce__(self) -> tuple[Any, ...]:
        # An adapter drives the instance from the test process only. When something that
        # travels to the replicas catches it (a deployment's closure, or the namespace a
        # pydantic model defined in a test keeps), it goes as a note, not as its threads
        # and sockets (which would fail the whole deploy).
        return (str, (f"<pytest-serve {self.name} adapter: usable in the test process only>",))

    def in_test_names(self, text: str) -> str:
        """`text` from the instance (an HTTP answer, a message) in the app names and route
        prefixes the test used; the default: as it is. (The cluster adapter deploys under
        names of its own.)"""
        return text

    def deploy(self, app: Any, *, name: str, route_prefix: str | None) -> Any:
        """Deploy a bound application; return its `DeploymentHandle`."""
        return self.serve.run(app, name=name, route_prefix=route_prefix)

    def delete(self, name: str) -> None:
        self.serve.delete(name)

    def deployment_errors(self, app_name: str) -> list[str]:
        """The last line of each failed deployment's status message (its error), for a
        deploy that failed; the default asks `serve.status()`, and says nothing if it cannot."""
        try:
            app = self.serve.status().applications[app_name]
            messages = [d.message for d in app.deployments.values() if str(d.status).endswith("DEPLOY_FAILED")]
        except Exception:  # no status to read: the error alone has to do
            return []
        return [m.strip().splitlines()[-1] for m in messages if m.strip()]

    def deploy_config(self, config: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
        """Start an instance from a Serve config file's content and deploy its apps.

        The instance is (re)started with the config's `http_options` — as `serve run
        config.yaml` does — so this is how KA-2 is checked. Returns the app names.
        Override it where the implementation has its own config-file path.
        """
        self.stop()
        self.start(config.get("http_options") or {}, env)
        names = []
        for entry in config.get("applications") or []:
            name = entry.get("name", "default")
            app = build_application(entry["import_path"], entry.get("args") or {})
            self.deploy(app, name=name, route_prefix=entry.get("route_prefix", "/"))
            names.append(name)
        return names


def build_application(import_path: str, args: Mapping[str, Any]) -> Any:
    """Resolve a config file's `import_path`: a bound app, or a builder called with `args`."""
    module_name, sep, attr = import_path.partition(":")
    if not sep:
        module_name, _, attr = import_path.rpartition(".")
    try:
        target = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as err:
        raise AdapterError(f"import_path {import_path!r} cannot be imported: {err}") from None
    if callable(target) and not hasattr(target, "bind"):
        return target(dict(args))
    return target


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the kernel's choice for port 0)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def patched_environ(env: Mapping[str, str]) -> Iterator[None]:
    """Set `env` in os.environ for the block; restore the previous values after."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update({key: str(value) for key, value in env.items()})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
