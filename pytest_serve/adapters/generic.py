"""Adapter for any module that exposes the Ray Serve API subset in-process."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from .base import Adapter, AdapterError, free_port, patched_environ

__all__ = ["ModuleAdapter"]

REQUIRED = ("deployment", "ingress", "run", "start", "delete", "shutdown")


class ModuleAdapter(Adapter):
    """Drives `module` through `start(http_options=...)`, `run`, `delete`, `shutdown`.

    The environment is set while `start()` runs and restored afterwards, so the
    implementation must read its settings (e.g. the keep-alive env var) at start.
    """

    def __init__(self, module: ModuleType | str) -> None:
        if isinstance(module, str):
            try:
                module = importlib.import_module(module)
            except ImportError as err:
                raise AdapterError(
                    f"Cannot import Serve implementation module {module!r}: {err}. "
                    "Install it, or check the --serve-impl value."
                ) from None
        missing = [name for name in REQUIRED if not hasattr(module, name)]
        if missing:
            raise AdapterError(
                f"Module {module.__name__!r} lacks the Serve API function(s) {missing}; "
                f"a module given to --serve-impl must define {list(REQUIRED)}, or give "
                "'package.module:AdapterClass' for a custom adapter."
            )
        self._module = module
        self.name = module.__name__
        self._url: str | None = None

    @property
    def serve(self) -> ModuleType:
        return self._module

    @property
    def base_url(self) -> str:
        if self._url is None:
            raise AdapterError(f"{self.name}: the instance is not running")
        return self._url

    def _resolve_port(self, http_options: Mapping[str, Any]) -> dict[str, Any]:
        options = dict(http_options)
        if options.get("port") == 0:
            options["port"] = free_port(options.get("host", "127.0.0.1"))
        return options

    def start(self, http_options: Mapping[str, Any], env: Mapping[str, str]) -> None:
        options = self._resolve_port(http_options)
        with patched_environ(env):
            self._module.start(http_options=options)
        self._url = f"http://{options.get('host', '127.0.0.1')}:{options['port']}"

    def stop(self) -> None:
        self._module.shutdown()
        self._url = None
