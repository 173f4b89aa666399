"""HTTP/1.1 over raw sockets, for inputs no well-behaved client would send.

`exchange()` sends bytes and reads until the server closes, failing after a deadline
(a hang); `parse()` splits what came back into responses and tells a complete body
from one the server cut off. No pytest import here.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["Hang", "RawResponse", "exchange", "parse", "request"]


class Hang(AssertionError):
    """The server neither answered nor closed the connection in time."""


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    complete: bool = True  # False: the connection ended before the body did


def request(
    method: str, target: str, headers: dict[str, str] | None = None, body: bytes = b"", version: str = "HTTP/1.1"
) -> bytes:
    lines = [f"{method} {target} {version}"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def exchange(port: int, data: bytes | Sequence[bytes], *, timeout: float = 10.0, pause: float = 0.0) -> bytes:
    """Send `data` (pieces `pause` s apart) to 127.0.0.1:`port`; return all the server sent
    until it closed. Raises Hang when that takes longer than `timeout` s in all."""
    pieces = [data] if isinstance(data, bytes) else list(data)
    deadline = time.monotonic() + timeout
    received = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            for index, piece in enumerate(pieces):
                if index and pause:
                    time.sleep(pause)
                sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server gave up on us mid-request; read what it said
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Hang(
                    f"no close within {timeout} s after {bytes(pieces[0][:60])!r}; got {bytes(received[:300])!r}"
                )
            sock.settimeout(remaining)
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except ConnectionResetError:
                return bytes(received)
            if not chunk:
                return bytes(received)
            received += chunk


def parse(data: bytes) -> list[RawResponse]:
    """The responses in `data`, in order; the last one may be incomplete."""
    responses = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            raise AssertionError(f"not an HTTP response: {data[:200]!r}")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        response = RawResponse(int(status_line.split(" ")[1]))
        for line in lines:
            name, _, value = line.partition(":")
            response.headers[name.strip().lower()] = value.strip()
        if response.status < 200 or response.status in (204, 304):
            data = rest  # no body
        elif response.headers.get("transfer-encoding", "").lower() == "chunked":
            response.body, response.complete, data = _dechunk(rest)
        elif "content-length" in response.headers:
            length = int(response.headers["content-length"])
            response.body, data = rest[:length], rest[length:]
            response.complete = len(response.body) == length
        else:
            response.body, data = rest, b""
        responses.append(response)
    return responses


def _dechunk(data: bytes) -> tuple[bytes, bool, bytes]:
    body = bytearray()
    while True:
        line, sep, rest = data.partition(b"\r\n")
        if not sep:
            return bytes(body), False, b""
        size = int(line.split(b";")[0], 16)
        if size == 0:
            return bytes(body), rest.startswith(b"\r\n"), rest[2:]
        if len(rest) < size + 2:
            return bytes(body + rest[:size]), False, b""
        body += rest[:size]
        data = rest[size + 2 :]
