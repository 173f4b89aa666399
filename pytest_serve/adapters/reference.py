"""Adapter for the embedded reference implementation (in-process, milliseconds to start)."""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

from .base import Adapter, AdapterError, patched_environ

__all__ = ["ReferenceAdapter"]


class ReferenceAdapter(Adapter):
    name = "reference"

    def __init__(self) -> None:
        from reference_impl import api, serve

        self._serve = serve
        self._api = api
        self._instance: object | None = None

    @property
    def serve(self) -> ModuleType:
        return self._serve

    @property
    def version(self) -> str:
        import reference_impl

        return reference_impl.__version__

    @property
    def base_url(self) -> str:
        instance = self._api.running_instance()
        if instance is None:
            raise AdapterError("reference: the instance is not running")
        return instance.url

    def start(self, http_options: Mapping[str, Any], env: Mapping[str, str]) -> None:
        with patched_environ(env):
            self._serve.start(http_options=dict(http_options))
        self._instance = self._api.running_instance()

    def stop(self) -> None:
        self._serve.shutdown()
        self._instance = None

    def alive(self) -> bool:
        return self._instance is not None and self._api.running_instance() is self._instance

    def deploy_config(self, config: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
        """Through the reference's own config-file path (`reference-serve run config.yaml`)."""
        from reference_impl.config_file import load_config

        parsed = load_config(config)
        self.stop()
        with patched_environ(env):
            handles = self._api.run_config(parsed)
        self._instance = self._api.running_instance()
        return list(handles)
