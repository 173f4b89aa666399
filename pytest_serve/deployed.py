"""`DeployedApp`: what `serve_app` returns — where an app lives and clients for it."""

from __future__ import annotations

from typing import Any

import httpx

from .http import async_http_client, http_client

__all__ = ["DEFAULT_TIMEOUT_S", "DeployedApp", "NoHTTPError"]

DEFAULT_TIMEOUT_S = 30.0


class NoHTTPError(RuntimeError):
    """The instance serves no HTTP (its adapter's `no_http` says why) and the test reached for it."""


class DeployedApp:
    """A deployed app. `http`/`ahttp` have the instance's base URL, so paths include the
    route prefix (`app.http.get("/hello")`), and follow redirects as `requests` does.

    `no_http` says why the instance serves no HTTP (Ray's local testing mode): then every
    HTTP accessor raises `NoHTTPError` with that reason, and only `handle` works.
    """

    def __init__(
        self,
        name: str,
        route_prefix: str | None,
        base_url: str | None,
        handle: Any,
        timeout: float = DEFAULT_TIMEOUT_S,
        *,
        no_http: str | None = None,
    ) -> None:
        self.name = name
        self.route_prefix = route_prefix
        self.handle = handle
        self.timeout = timeout
        self.no_http = no_http
        self._base_url = base_url
        self._http: httpx.Client | None = None
        self._ahttp: httpx.AsyncClient | None = None
        self._sockets: list[Any] = []

    def __repr__(self) -> str:
        where = self._base_url if self._base_url is not None else "no HTTP"
        return f"DeployedApp(name={self.name!r}, route_prefix={self.route_prefix!r}, at {where})"

    @property
    def base_url(self) -> str:
        """`http://host:port` of the instance's proxy."""
        if self._base_url is None:
            reason = self.no_http or "the instance serves no HTTP"
            raise NoHTTPError(f"no HTTP here, so this test cannot run: {reason} (app {self.name!r} has no URL)")
        return self._base_url

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
        return (str, (f"<pytest-serve {self!r}: usable in the test process only>",))

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
