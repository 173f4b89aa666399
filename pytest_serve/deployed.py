"""`DeployedApp`: what `serve_app` returns — where an app lives and clients for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from .http import async_http_client, http_client

__all__ = ["DEFAULT_TIMEOUT_S", "DeployedApp"]

DEFAULT_TIMEOUT_S = 30.0


@dataclass
class DeployedApp:
    """A deployed app. `http`/`ahttp` have the instance's base URL, so paths include the
    route prefix (`app.http.get("/hello")`), and follow redirects as `requests` does."""

    name: str
    route_prefix: str | None
    base_url: str
    handle: Any
    timeout: float = DEFAULT_TIMEOUT_S
    _http: httpx.Client | None = field(default=None, repr=False)
    _ahttp: httpx.AsyncClient | None = field(default=None, repr=False)
    _sockets: list[Any] = field(default_factory=list, repr=False)

    @property
    def url(self) -> str:
        """The app's own URL: base URL + route prefix."""
        prefix = self.route_prefix or ""
        return self.base_url + ("" if prefix == "/" else prefix)

    @property
    def ws_base_url(self) -> str:
        return "ws" + self.base_url[len("http") :]

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = http_client(base_url=self.base_url, follow_redirects=True, timeout=self.timeout)
        return self._http

    @property
    def ahttp(self) -> httpx.AsyncClient:
        """An async client for `async def` tests. It keeps no idle connections, because
        the event loop that owns them is gone by the time the fixture tears down."""
        if self._ahttp is None:
            self._ahttp = async_http_client(
                base_url=self.base_url,
                follow_redirects=True,
                timeout=self.timeout,
                limits=httpx.Limits(max_keepalive_connections=0),
            )
        return self._ahttp

    def ws(self, path: str = "/", **kwargs: Any) -> Any:
        """A connected `websockets` sync client for `path` (which includes the prefix).

        Use it as a context manager, `with app.ws("/echo") as ws: ...` (websockets 17
        requires that); one the test leaves open is closed at teardown.
        """
        from websockets.sync.client import connect

        kwargs.setdefault("open_timeout", self.timeout)
        kwargs.setdefault("close_timeout", 5)
        connection = connect(self.ws_base_url + path, **kwargs)
        self._sockets.append(connection)
        return connection

    def __reduce__(self) -> tuple[Any, ...]:
        # As an adapter does (see `Adapter.__reduce__`): its clients stay in the test process.
        return (str, (f"<pytest-serve DeployedApp {self.name!r} at {self.url}: usable in the test process only>",))

    def close(self) -> None:
        for connection in self._sockets:
            try:
                connection.close()
            except Exception:
                pass
        self._sockets.clear()
        if self._http is not None:
            self._http.close()
            self._http = None
        # The async client holds no connections (see `ahttp`); dropping it is enough.
        self._ahttp = None
