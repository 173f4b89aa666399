"""Runs the proxy under uvicorn on the proxy's own loop thread."""

from __future__ import annotations

import asyncio
import errno
import socket
from typing import Any

import uvicorn

from ..config import HTTPOptions
from ..exceptions import AddressUnavailableError
from .head_limits import HeadLimits, head_limited_protocol
from .loops import LoopThread

__all__ = ["HTTPServer", "start_server"]


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        hint = (
            "another process is listening there; stop it, or pass http_options={'port': 0} to pick a free port"
            if err.errno == errno.EADDRINUSE
            else "check http_options.host and http_options.port"
        )
        raise AddressUnavailableError(f"Failed to bind to address '{host}:{port}': {err.strerror}; {hint}.") from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


class HTTPServer:
    """uvicorn serving `app`; `start()` returns once the socket accepts connections."""

    def __init__(self, app: Any, options: HTTPOptions, keep_alive_s: int, loop: LoopThread):
        self._loop = loop
        self._sock = _bind(options.host, options.port)
        self.host = options.host
        self.port = self._sock.getsockname()[1]
        self.keep_alive_s = keep_alive_s
        limits = HeadLimits(options.max_request_header_bytes, options.request_header_timeout_s)
        self._config = uvicorn.Config(
            app,
            http=head_limited_protocol(limits),
            host=options.host,
            port=self.port,
            timeout_keep_alive=keep_alive_s,
            lifespan="off",
            access_log=False,
            log_config=None,
            log_level="warning",
            timeout_graceful_shutdown=2,
            ssl_keyfile=options.ssl_keyfile,
            ssl_certfile=options.ssl_certfile,
            ssl_keyfile_password=options.ssl_keyfile_password,
            ssl_ca_certs=options.ssl_ca_certs,
        )
        self._server = uvicorn.Server(self._config)
        self._ticker: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self._config.ssl_certfile else "http"
        return f"{scheme}://{host}:{self.port}"

    def start(self) -> None:
        self._loop.run(self._start(), timeout=10)

    async def _start(self) -> None:
        self._config.load()
        server = self._server
        server.lifespan = self._config.lifespan_class(self._config)
        await server.startup(sockets=[self._sock])
        self._ticker = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self) -> None:
        # uvicorn's own main loop wakes every 0.1 s; only the Date header needs a timer.
        while True:
            await self._server.on_tick(0)
            await asyncio.sleep(1.0)

    def stop(self, timeout: float = 5.0) -> None:
        if not self._loop.loop.is_closed():
            try:
                self._loop.run(self._stop(timeout), timeout + 1)
            except (TimeoutError, RuntimeError):
                pass
        self._sock.close()

    async def _stop(self, timeout: float) -> None:
        """Close the listener and every connection; give in-flight requests `timeout` s."""
        if self._ticker is not None:
            self._ticker.cancel()
        state = self._server.server_state
        for server in self._server.servers:
            server.close()
        for connection in list(state.connections):
            connection.shutdown()
        deadline = asyncio.get_running_loop().time() + timeout
        while (state.connections or state.tasks) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.005)
        for task in list(state.tasks):
            task.cancel()
        for connection in list(state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()
        for server in self._server.servers:
            await server.wait_closed()


def start_server(app: Any, options: HTTPOptions, keep_alive_s: int, loop: LoopThread) -> HTTPServer:
    """An `HTTPServer` accepting connections on `loop`; if it cannot start, `loop` is
    stopped too, so a failed start leaves no thread behind."""
    try:
        server = HTTPServer(app, options, keep_alive_s, loop)
        server.start()
    except BaseException:
        loop.stop()
        raise
    return server
