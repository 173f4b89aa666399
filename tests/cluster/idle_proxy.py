"""A TCP reverse proxy with an idle timeout, standing in for a load balancer in front of Serve.

Each client connection gets its own connection to the upstream; bytes are copied both
ways (HTTP keep-alive and WebSocket upgrades pass unchanged) and both connections are
closed when no byte has moved either way for `idle_timeout_s`, as a cloud load
balancer's idle timeout does, or when either side closes. Runs its own event loop in a
thread; binds 127.0.0.1 only. No pytest import here.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator

__all__ = ["IdleProxy", "running_proxy"]

_CHUNK = 65536


class IdleProxy:
    def __init__(self, upstream_host: str, upstream_port: int, idle_timeout_s: float) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.idle_timeout_s = idle_timeout_s
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="idle-proxy", daemon=True)
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._serve(), self._loop)
        self.port = future.result(timeout=10)

    async def _serve(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(*self.upstream), timeout=10)
        except (OSError, asyncio.TimeoutError):
            client_writer.close()
            return
        last = [time.monotonic()]

        async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                data = await reader.read(_CHUNK)
                if not data:
                    return
                last[0] = time.monotonic()
                writer.write(data)
                await writer.drain()

        async def idle_watch() -> None:
            while True:
                remaining = last[0] + self.idle_timeout_s - time.monotonic()
                if remaining <= 0:
                    return
                await asyncio.sleep(remaining)

        tasks = [
            asyncio.ensure_future(pump(client_reader, up_writer)),
            asyncio.ensure_future(pump(up_reader, client_writer)),
            asyncio.ensure_future(idle_watch()),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        except Exception:
            pass
        finally:
            for task in tasks:
                task.cancel()
            for writer in (client_writer, up_writer):
                writer.close()

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)


@contextlib.contextmanager
def running_proxy(upstream_host: str, upstream_port: int, idle_timeout_s: float) -> Iterator[IdleProxy]:
    proxy = IdleProxy(upstream_host, upstream_port, idle_timeout_s)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
