"""Fixtures for tests that drive `reference_impl.serve` directly (tests/reference,
tests/reliability), imported by those folders' conftest.py.

Every such test ends with `serve.shutdown()`, whether it started Serve or not, and no
test can start Serve on the default port 8000 (the guide-example tests serve there).
The names differ from pytest-serve's `serve_instance`/`serve` on purpose: these tests
do not go through an adapter.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from reference_impl import api, serve
from reference_impl.config import KEEP_ALIVE_ENV_VAR, parse_http_options
from reference_impl.instance import ServeInstance
from reference_impl.serialization import by_reference

__all__ = ["HTTP_TIMEOUT_S", "SharedEvent", "StartServe", "_serve_shut_down", "http", "instance", "start_serve"]

DEFAULT_PORT = 8000
HTTP_TIMEOUT_S = 10.0

#: What `start_serve(**http_options)` returns: the running instance.
StartServe = Callable[..., ServeInstance]


def _refuse_default_port(start: Callable[..., None]) -> Callable[..., None]:
    """Wrap `api.start` so a start on port 8000 (e.g. `serve.run` with nothing running) fails."""

    def start_off_default_port(http_options: Any = None, **kwargs: Any) -> None:
        if api.running_instance() is None and parse_http_options(http_options).port == DEFAULT_PORT:
            raise AssertionError("a test started Serve on port 8000; use start_serve (port 0)")
        start(http_options, **kwargs)

    return start_off_default_port


@pytest.fixture(autouse=True)
def _serve_shut_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Function scope, autouse: no keep-alive env, port 8000 refused, shut down before and after."""
    monkeypatch.delenv(KEEP_ALIVE_ENV_VAR, raising=False)
    # NOTE: `serve.run` starts Serve itself (port 8000) when nothing runs; api.run looks
    # `start` up in its module, so this catches exactly that implicit start.
    monkeypatch.setattr(api, "start", _refuse_default_port(api.start))
    serve.shutdown()
    yield
    serve.shutdown()


@pytest.fixture
def start_serve(_serve_shut_down: None) -> StartServe:
    """Function scope · `start_serve(**http_options) -> ServeInstance` · starts Serve on
    127.0.0.1, port 0, with the given extra `http_options`; the autouse fixture shuts it down."""

    def start(**http_options: Any) -> ServeInstance:
        serve.start(http_options={"port": 0, **http_options})
        instance = api.running_instance()
        assert instance is not None
        assert instance.server.port not in (0, DEFAULT_PORT)
        return instance

    return start


@pytest.fixture
def instance(start_serve: StartServe) -> ServeInstance:
    """Function scope · `ServeInstance` · Serve started with default options on port 0."""
    return start_serve()


@pytest.fixture
def http(instance: ServeInstance) -> Iterator[httpx.Client]:
    """Function scope · `httpx.Client` on the instance's URL; 10 s timeout, no redirects."""
    with httpx.Client(base_url=instance.url, timeout=HTTP_TIMEOUT_S) as client:
        yield client


class SharedEvent(threading.Event):
    """A `threading.Event` a test shares with its replicas. Bind and handle arguments
    arrive as copies, as on Ray, where a replica runs in another process; this one
    arrives as itself, which only one process allows (tests of the reference only)."""

    def __reduce__(self) -> Any:
        return by_reference(self)
