"""Fixtures for the reference implementation's own tests (not the conformance suite).

Every test here ends with `serve.shutdown()`, whether it started Serve or not, and no
test can start Serve on the default port 8000 (another suite serves there).
`instance` starts Serve on port 0; `http` is a client for it. The names differ from
pytest-serve's `serve_instance`/`serve` on purpose: these tests drive reference_impl
directly, not through an adapter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from reference_impl import api, serve
from reference_impl.config import KEEP_ALIVE_ENV_VAR, parse_http_options
from reference_impl.instance import ServeInstance

DEFAULT_PORT = 8000
HTTP_TIMEOUT_S = 10.0


def _refuse_default_port(start: Callable[..., None]) -> Callable[..., None]:
    """Wrap `api.start` so an implicit start (e.g. `serve.run` with nothing running) fails."""

    def start_off_default_port(http_options: Any = None, **kwargs: Any) -> None:
        if api.current_instance() is None and parse_http_options(http_options).port == DEFAULT_PORT:
            raise AssertionError(
                "a test started Serve on port 8000; use the instance fixture (port 0)"
            )
        start(http_options, **kwargs)

    return start_off_default_port


@pytest.fixture(autouse=True)
def _serve_shut_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Function scope, autouse: clean keep-alive env, port 8000 guarded, shutdown at the end."""
    monkeypatch.delenv(KEEP_ALIVE_ENV_VAR, raising=False)
    # NOTE: `serve.run` starts Serve itself (port 8000) when nothing runs; api.run looks
    # `start` up in its module, so this catches exactly that implicit start.
    monkeypatch.setattr(api, "start", _refuse_default_port(api.start))
    serve.shutdown()
    yield
    serve.shutdown()


@pytest.fixture
def instance(_serve_shut_down: None) -> ServeInstance:
    """Function scope, `ServeInstance`: Serve started with `http_options={"port": 0}`."""
    serve.start(http_options={"port": 0})
    instance = api.current_instance()
    assert instance is not None
    assert instance.server.port not in (0, DEFAULT_PORT)
    return instance


@pytest.fixture
def http(instance: ServeInstance) -> Iterator[httpx.Client]:
    """Function scope, `httpx.Client` on the instance's URL; 10 s timeout, no redirects."""
    with httpx.Client(base_url=instance.url, timeout=HTTP_TIMEOUT_S) as client:
        yield client
