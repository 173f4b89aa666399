"""`python -m bench.headers [--timeout S] [--size MB] [--clients N]`: request-head limits.

Starts the reference server twice as its own process: with the default
`http_options` and with both head limits off (`max_request_header_bytes` and
`request_header_timeout_s` None, which is what uvicorn does by default and so Ray).
Against each it measures

- one request with a header of `--size` MB: the answer, and the server process's
  resident memory before, at its peak while the request is read (sampled every 2 ms)
  and after;
- `--clients` connections that send a request line and part of the headers and then
  stay silent: how many are still open at half the head timeout and 1 s after it
  (`--timeout` sets the timeout; the default one is 30 s).

Prints one table; see docs/reliability.md.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .systems import Server, System

__all__ = ["main"]

_MIB = 1024 * 1024


def _reference(http_options: dict[str, Any]) -> System:
    return System(
        "reference",
        "reference",
        sys.executable,
        "serve_app.py",
        ("--impl", "reference", "--http-options", json.dumps(http_options)),
    )


def _huge_header(server: Server, size: int) -> dict[str, Any]:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    data = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * size + b"\r\nConnection: close\r\n\r\n"
    idle = server.rss_bytes()
    peak = [idle]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.002):
            peak[0] = max(peak[0], server.rss_bytes())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    received = bytearray()
    began = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    elapsed = time.monotonic() - began
    time.sleep(0.2)
    done.set()
    sampler.join()
    status = received.split(b" ", 2)[1].decode() if received else "no answer"
    return {
        "status": status,
        "seconds": round(elapsed, 2),
        "peak_mib": round((peak[0] - idle) / _MIB, 1),
        "after_mib": round((server.rss_bytes() - idle) / _MIB, 1),
    }


def _still_open(socks: list[socket.socket]) -> int:
    count = 0
    for sock in socks:
        sock.setblocking(False)
        try:
            if sock.recv(1) == b"":
                continue  # closed by the server
        except BlockingIOError:
            pass  # nothing to read: still open
        except ConnectionResetError:
            continue
        count += 1
    return count


def _silent_clients(server: Server, clients: int, timeout_s: float) -> dict[str, Any]:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    socks = [socket.create_connection((host, int(port)), timeout=10) for _ in range(clients)]
    try:
        for sock in socks:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Part")
        began = time.monotonic()
        time.sleep(timeout_s / 2)
        half = _still_open(socks)
        time.sleep(max(0.0, began + timeout_s + 1.0 - time.monotonic()))
        after = _still_open(socks)
    finally:
        for sock in socks:
            sock.close()
    return {"open_at_half": half, "open_after": after}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.headers", description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=None, help="request_header_timeout_s (default: the default)")
    parser.add_argument("--size", type=float, default=20.0, help="the huge header's size in MB (default 20)")
    parser.add_argument("--clients", type=int, default=100, help="silent clients (default 100)")
    args = parser.parse_args(argv)
    from reference_impl.config import DEFAULT_MAX_REQUEST_HEADER_BYTES, DEFAULT_REQUEST_HEADER_TIMEOUT_S

    timeout_s = args.timeout or DEFAULT_REQUEST_HEADER_TIMEOUT_S
    limited = {} if args.timeout is None else {"request_header_timeout_s": args.timeout}
    runs = {
        f"limits on (cap {DEFAULT_MAX_REQUEST_HEADER_BYTES} B, timeout {timeout_s:g} s)": limited,
        "limits off (uvicorn's defaults, as Ray)": {"max_request_header_bytes": None, "request_header_timeout_s": None},
    }
    with tempfile.TemporaryDirectory(prefix="bench-headers-") as workdir:
        for label, options in runs.items():
            server = _reference(options).start(Path(workdir))
            try:
                huge = _huge_header(server, int(args.size * 1_000_000))
                silent = _silent_clients(server, args.clients, timeout_s)
            finally:
                server.stop()
            print(f"{label}:")
            print(
                f"  {args.size:g} MB header: {huge['status']} in {huge['seconds']} s; server RSS "
                f"+{huge['peak_mib']} MiB at the peak, +{huge['after_mib']} MiB after"
            )
            print(
                f"  {args.clients} silent clients still open: {silent['open_at_half']} at {timeout_s / 2:g} s, "
                f"{silent['open_after']} at {timeout_s + 1:g} s"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
