"""Client-side measurements: chunk arrival times, clients that leave, idle-close times.

Raw sockets where precision matters (leaving at an exact moment, timing the
server's close of an idle keep-alive connection), httpx elsewhere. No pytest
import here.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

__all__ = [
    "Departure",
    "StreamResult",
    "adisconnect_after",
    "aidle_close_after",
    "astream_chunks",
    "async_http_client",
    "disconnect_after",
    "http_client",
    "idle_close_after",
    "raw_request",
    "stream_chunks",
]


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: building it loads the CA bundle (25–70 ms),
    which each new client would otherwise repeat, even for a plain-http loopback URL."""
    return httpx.create_ssl_context()


def http_client(**kwargs: Any) -> httpx.Client:
    """`httpx.Client(**kwargs)` sharing this process's TLS context (same verification):
    a client costs ~2 ms instead of ~70."""
    kwargs.setdefault("verify", _tls_context())
    return httpx.Client(**kwargs)


def async_http_client(**kwargs: Any) -> httpx.AsyncClient:
    """`httpx.AsyncClient(**kwargs)` sharing this process's TLS context, as `http_client`."""
    kwargs.setdefault("verify", _tls_context())
    return httpx.AsyncClient(**kwargs)


@dataclass
class StreamResult:
    """A streamed response: each chunk with its arrival time (s since the request was sent)."""

    status_code: int
    headers: httpx.Headers
    chunks: list[tuple[float, bytes]] = field(default_factory=list)
    complete: bool = False  # False: the server closed before the end of the body

    @property
    def body(self) -> bytes:
        return b"".join(chunk for _, chunk in self.chunks)

    @property
    def times(self) -> list[float]:
        return [t for t, _ in self.chunks]


def stream_chunks(url: str, *, method: str = "GET", timeout: float = 30.0, **kwargs: object) -> StreamResult:
    """Request `url` and record when each body chunk arrives."""
    with http_client(timeout=timeout) as client:
        start = time.monotonic()
        with client.stream(method, url, **kwargs) as response:  # type: ignore[arg-type]
            result = StreamResult(response.status_code, response.headers)
            try:
                for chunk in response.iter_raw():
                    result.chunks.append((time.monotonic() - start, chunk))
                result.complete = True
            except (httpx.RemoteProtocolError, httpx.ReadError):
                result.complete = False
    return result


async def astream_chunks(url: str, *, method: str = "GET", timeout: float = 30.0, **kwargs: object) -> StreamResult:
    async with async_http_client(timeout=timeout) as client:
        start = time.monotonic()
        async with client.stream(method, url, **kwargs) as response:  # type: ignore[arg-type]
            result = StreamResult(response.status_code, response.headers)
            try:
                async for chunk in response.aiter_raw():
                    result.chunks.append((time.monotonic() - start, chunk))
                result.complete = True
            except (httpx.RemoteProtocolError, httpx.ReadError):
                result.complete = False
    return result


def _connect(url: str, timeout: float) -> tuple[socket.socket, str, str]:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock, f"{host}:{port}", target


def _request_bytes(method: str, host: str, target: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _ResponseReader:
    """Just enough HTTP/1.1 response parsing to know where a response ends."""

    def __init__(self) -> None:
        self.buffer = b""
        self.head: bytes | None = None
        self.body_chunks = 0  # chunked encoding: data chunks seen so far
        self.done = False
        self._pos = 0
        self._length: int | None = None
        self._chunked = False

    def feed(self, data: bytes) -> None:
        self.buffer += data
        if self.head is None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            self.head = self.buffer[:end]
            self._pos = end + 4
            for line in self.head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    self._length = int(value.strip())
                elif name == b"transfer-encoding" and b"chunked" in value.lower():
                    self._chunked = True
        if self._chunked:
            self._parse_chunks()
        elif self._length is not None:
            self.done = len(self.buffer) - self._pos >= self._length
        elif self.status_code in (204, 304) or self.status_code < 200:
            self.done = True

    def _parse_chunks(self) -> None:
        while not self.done:
            line_end = self.buffer.find(b"\r\n", self._pos)
            if line_end < 0:
                return
            size = int(self.buffer[self._pos : line_end].split(b";")[0], 16)
            chunk_end = line_end + 2 + size + 2
            if len(self.buffer) < chunk_end:
                return
            self._pos = chunk_end
            if size == 0:
                self.done = True
            else:
                self.body_chunks += 1

    @property
    def status_code(self) -> int:
        return int(self.head.split(b" ", 2)[1]) if self.head else 0


def raw_request(
    url: str,
    *,
    method: str = "GET",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, bytes]:
    """One request over a fresh raw socket; returns (status, raw response bytes)."""
    sock, host, target = _connect(url, timeout)
    with sock:
        sock.sendall(_request_bytes(method, host, target, body, {"Connection": "close", **(headers or {})}))
        reader = _ResponseReader()
        while not reader.done:
            data = sock.recv(65536)
            if not data:
                break
            reader.feed(data)
    return reader.status_code, reader.buffer


@dataclass
class Departure:
    """What a client that left early had received."""

    received: bytes
    body_chunks: int
    status_code: int
    left_at: float  # monotonic time of the close


def disconnect_after(
    url: str,
    *,
    seconds: float | None = None,
    chunks: int | None = None,
    method: str = "GET",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Departure:
    """Send a request and close the connection after `seconds`, or after `chunks` body chunks.

    With `chunks`, fails if the response ends (or `timeout` passes) first.
    """
    if (seconds is None) == (chunks is None):
        raise ValueError("give exactly one of seconds= or chunks=")
    sock, host, target = _connect(url, timeout)
    reader = _ResponseReader()
    try:
        sock.sendall(_request_bytes(method, host, target, body, headers or {}))
        start = time.monotonic()
        deadline = start + (seconds if seconds is not None else timeout)
        while True:
            if chunks is not None and reader.body_chunks >= chunks:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if chunks is not None:
                    raise TimeoutError(f"only {reader.body_chunks} of {chunks} chunks from {url} in {timeout} s")
                break
            sock.settimeout(remaining)
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                break
            reader.feed(data)
            if reader.done and chunks is not None:
                raise AssertionError(
                    f"the response from {url} ended after {reader.body_chunks} chunks, "
                    f"before the client could leave after {chunks}"
                )
    finally:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()
    return Departure(reader.buffer, reader.body_chunks, reader.status_code, time.monotonic())


async def adisconnect_after(url: str, **kwargs: object) -> Departure:
    return await asyncio.to_thread(disconnect_after, url, **kwargs)  # type: ignore[arg-type]


def idle_close_after(base_url: str, *, max_wait: float, path: str = "/-/healthz") -> float | None:
    """Seconds from the end of one keep-alive response until the server closes the
    idle connection; None if it is still open after `max_wait` seconds. Any answer that
    keeps the connection open will do (`/-/healthz` answers 503 until an app with a route
    is deployed, on Ray as on the reference)."""
    sock, host, target = _connect(base_url.rstrip("/") + path, timeout=max_wait + 10)
    with sock:
        sock.sendall(_request_bytes("GET", host, target, b"", {}))
        reader = _ResponseReader()
        while not reader.done:
            data = sock.recv(65536)
            if not data:
                raise AssertionError(f"the server closed before answering GET {path}")
            reader.feed(data)
        answered = time.monotonic()
        if b"\r\nconnection: close" in (reader.head or b"").lower():
            raise AssertionError(
                f"GET {path} answered {reader.status_code} with `Connection: close`; need a path whose "
                "answer keeps the connection open"
            )
        deadline = answered + max_wait
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            sock.settimeout(remaining)
            try:
                data = sock.recv(65536)
            except TimeoutError:
                return None
            except ConnectionResetError:
                return time.monotonic() - answered
            if not data:
                return time.monotonic() - answered


async def aidle_close_after(base_url: str, *, max_wait: float, path: str = "/-/healthz") -> float | None:
    return await asyncio.to_thread(idle_close_after, base_url, max_wait=max_wait, path=path)
