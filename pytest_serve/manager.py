"""One adapter per pytest session, restarted only when a test needs other settings."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .adapters import Adapter, AdapterError, NotTestableError, load_adapter

__all__ = ["DEFAULT_CONFIG", "InstanceConfig", "InstanceManager"]


@dataclass(frozen=True)
class InstanceConfig:
    """What an instance is started with besides host and port; tests that share it share an instance."""

    http_options: tuple[tuple[str, Any], ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    #: The test that wants an instance of its own (`serve_fresh_instance`), if any.
    fresh_for: str | None = None

    @classmethod
    def of(
        cls, http_options: Mapping[str, Any], env: Mapping[str, str], fresh_for: str | None = None
    ) -> InstanceConfig:
        return cls(tuple(sorted(http_options.items())), tuple(sorted(env.items())), fresh_for)

    @property
    def key(self) -> str:
        return json.dumps([self.http_options, self.env, *([self.fresh_for] if self.fresh_for else [])], default=repr)

    def describe(self) -> str:
        parts = [f"{k}={v!r}" for k, v in self.http_options] + [f"${k}={v}" for k, v in self.env]
        if self.fresh_for:
            parts.append("a fresh instance")
        return ", ".join(parts) or "defaults"


DEFAULT_CONFIG = InstanceConfig()


class InstanceManager:
    """Owns the session's adapter: starts it lazily, restarts it on a config change."""

    def __init__(
        self, impl: str, host: str = "127.0.0.1", *, ray_address: str | None = None, serve_url: str | None = None
    ) -> None:
        self.impl = impl
        self.host = host
        self.ray_address = ray_address
        self.serve_url = serve_url
        #: Facts about the instance (`Adapter.instance_facts()`), kept when it stops; under
        #: xdist the controller's come from its workers.
        self.instance_facts: dict[str, Any] = {}
        self._adapter: Adapter | None = None
        self._running: InstanceConfig | None = None
        self._failure: str | None = None
        self._modules_dir: Path | None = None
        self.starts = 0
        self.configs: set[str] = set()

    @property
    def adapter(self) -> Adapter:
        if self._adapter is None:
            self._adapter = load_adapter(self.impl, ray_address=self.ray_address, serve_url=self.serve_url)
            self._adapter.modules_dir = self.modules_dir
        return self._adapter

    @property
    def modules_dir(self) -> Path:
        """The folder `serve_module` writes to, one per session; the adapter knows it from
        the start, so that workers it starts before a test (Ray's, which read their path
        once) can import modules the test writes."""
        if self._modules_dir is None:
            self._modules_dir = Path(tempfile.mkdtemp(prefix="pytest-serve-modules-"))
        return self._modules_dir

    @property
    def running(self) -> InstanceConfig | None:
        return self._running

    def ensure(self, config: InstanceConfig, defaults: Sequence[str] = ()) -> Adapter:
        """The adapter, running with `config` (restarted if it ran with another). Raises
        `NotTestableError` if the instance cannot have `config` (or the `defaults` the test
        checks); that leaves the running instance alone."""
        if self._failure is not None:
            raise AdapterError(self._failure)
        adapter = self.adapter
        reason = adapter.check_testable(dict(config.http_options), dict(config.env), defaults)
        if reason is None and config.fresh_for and not adapter.fresh_instances:
            reason = (
                "needs an instance of its own, on which nothing was deployed before; this instance "
                "is shared, and not the plugin's to restart"
            )
        if reason is not None:
            raise NotTestableError(reason)
        if self._running == config and adapter.alive():
            return adapter
        self._running = None
        options = {**dict(config.http_options), "host": self.host, "port": 0}
        try:
            adapter.restart(options, dict(config.env))
        except NotTestableError:
            raise
        except Exception as err:
            self._failure = f"starting {adapter.name} with {config.describe()} failed: {type(err).__name__}: {err}"
            try:
                adapter.stop()
            except Exception:
                pass
            raise AdapterError(self._failure) from err
        self._running = config
        self._count(config)
        return adapter

    def start_from_config(self, config: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
        """(Re)start from a Serve config file's content; host and port are the plugin's."""
        adapter = self.adapter
        config = dict(config)
        http_options = {**dict(config.get("http_options") or {}), "host": self.host, "port": 0}
        config["http_options"] = http_options
        self._running = None
        names = adapter.deploy_config(config, env)
        used = {k: v for k, v in http_options.items() if k not in ("host", "port")}
        # Counted, but not `_running`: what runs now was made for one test, and the next
        # test gets a fresh start.
        self._count(InstanceConfig.of({"config-file": True, **used}, env))
        return names

    def _count(self, config: InstanceConfig) -> None:
        self.starts += 1
        self.configs.add(config.key)

    def read_instance_facts(self) -> dict[str, Any]:
        """The adapter's facts about the instance, if it was loaded; kept for the report."""
        if self._adapter is not None:
            facts = self._adapter.instance_facts()
            if facts:
                self.instance_facts = facts
        return self.instance_facts

    def stop(self) -> None:
        if self._adapter is not None:
            self._adapter.stop()
        self._running = None

    def close(self) -> None:
        """After `stop()`, at the session's end: the modules' folder goes."""
        if self._modules_dir is not None:
            shutil.rmtree(self._modules_dir, ignore_errors=True)
            self._modules_dir = None
