"""Faults that break the keep-alive clauses (KA-1..KA-5) of the reference implementation.

The reference settles the timeout in `config.effective_keep_alive` (called by
`instance.ServeInstance` when the proxy starts) and hands it to uvicorn, whose
protocol reads `Config.timeout_keep_alive` for every new connection.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import pytest
from faulty import fault

from reference_impl import api, config, instance
from reference_impl import serve as reference_serve


def _explicit(options: config.HTTPOptions) -> bool:
    return "keep_alive_timeout_s" in options.model_fields_set


def _env_value(environ: Mapping[str, str] | None) -> int | None:
    return config.keep_alive_from_env(os.environ if environ is None else environ)


@fault("ka-default-20s", "KA-1")
def _(mp: pytest.MonkeyPatch) -> None:
    """With nothing set, idle connections stay open 20 s, not 5 s (as Ray 2.60 keeps them
    90 s; shorter here, since the test waits for the late close to measure it)."""
    original = config.effective_keep_alive

    def effective(options: config.HTTPOptions, environ: Mapping[str, str] | None = None) -> int:
        if not _explicit(options) and _env_value(environ) is None:
            return 20
        return original(options, environ)

    mp.setattr(instance, "effective_keep_alive", effective)


@fault("ka-http-options-ignored", "KA-2")
def _(mp: pytest.MonkeyPatch) -> None:
    """`http_options.keep_alive_timeout_s` (config file or serve.start) is ignored."""

    def effective(options: config.HTTPOptions, environ: Mapping[str, str] | None = None) -> int:
        return _env_value(environ) or config.DEFAULT_KEEP_ALIVE_TIMEOUT_S

    mp.setattr(instance, "effective_keep_alive", effective)


@fault("ka-env-ignored", "KA-3")
def _(mp: pytest.MonkeyPatch) -> None:
    """`RAY_SERVE_HTTP_KEEP_ALIVE_TIMEOUT_S` is never read."""
    mp.setattr(config, "keep_alive_from_env", lambda environ: None)


@fault("ka-config-beats-env", "KA-4")
def _(mp: pytest.MonkeyPatch) -> None:
    """An explicit `keep_alive_timeout_s` wins over the environment variable."""

    def effective(options: config.HTTPOptions, environ: Mapping[str, str] | None = None) -> int:
        if _explicit(options):
            return options.keep_alive_timeout_s
        return _env_value(environ) or options.keep_alive_timeout_s

    mp.setattr(instance, "effective_keep_alive", effective)


@fault("ka-later-start-applies", "KA-5")
def _(mp: pytest.MonkeyPatch) -> None:
    """`serve.start(http_options=...)` on a running instance applies its keep-alive to new
    connections."""
    original = api.start

    def start(http_options: Any = None, **kwargs: Any) -> None:
        running = api.running_instance()
        original(http_options, **kwargs)
        if running is not None and http_options is not None:
            options = config.parse_http_options(http_options)
            running.server._config.timeout_keep_alive = options.keep_alive_timeout_s

    mp.setattr(api, "start", start)
    mp.setattr(reference_serve, "start", start)


@fault("ka-deploy-resets", "KA-5")
def _(mp: pytest.MonkeyPatch) -> None:
    """Deploying an app while another one runs resets the keep-alive to the default."""
    original = instance.ServeInstance.deploy

    def deploy(self: instance.ServeInstance, *args: Any, **kwargs: Any) -> Any:
        handle = original(self, *args, **kwargs)
        if len(self.apps) > 1:
            self.server._config.timeout_keep_alive = config.DEFAULT_KEEP_ALIVE_TIMEOUT_S
        return handle

    mp.setattr(instance.ServeInstance, "deploy", deploy)
