"""Cancellation latency: client disconnect → `CancelledError` observed in the handler.

Per trial: open a connection, `GET /cancel?id=ID`, wait until the handler recorded
`start ID` in the events file, close the socket (FIN) and wait for `cancel ID`. The
latency is the handler's own timestamp of the cancellation minus the moment just
before `close()`; both come from `time.monotonic()`, which is one clock for every
process of a Linux machine (Ray's replica runs in another process).
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

from .plan import Plan
from .systems import Server
from .tools import summary_ms

__all__ = ["EventLog", "measure"]

_WAIT_S = 10.0
_POLL_S = 0.0005
_MAX_FAILURES = 5


class EventLog:
    """Reads the `what id t` lines the server appends, incrementally."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 (read while the run lasts; closed in close())
        self._partial = b""
        self.seen: dict[tuple[str, str], float] = {}

    def close(self) -> None:
        self._file.close()

    def _read(self) -> None:
        data = self._file.read()
        if not data:
            return
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            what, rid, t = line.decode().split()
            self.seen[(what, rid)] = float(t)

    def wait(self, what: str, rid: str, timeout: float = _WAIT_S) -> float | None:
        deadline = time.monotonic() + timeout
        while True:
            self._read()
            t = self.seen.get((what, rid))
            if t is not None or time.monotonic() > deadline:
                return t
            time.sleep(_POLL_S)


def measure(server: Server, plan: Plan, trials: int) -> dict[str, Any]:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    log = EventLog(server.events)
    latencies: list[float] = []
    failures: list[str] = []
    try:
        for i in range(trials):
            rid = f"{server.system.name}-{i}"
            sock = socket.create_connection((host, int(port)), timeout=_WAIT_S)
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.sendall(f"GET /cancel?id={rid} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                if log.wait("start", rid) is None:
                    failures.append(f"{rid}: the handler did not start")
                    continue
            finally:
                left = time.monotonic()
                sock.close()
            cancelled = log.wait("cancel", rid)
            if cancelled is None:
                failures.append(f"{rid}: no CancelledError within {_WAIT_S:.0f} s")
            else:
                latencies.append(cancelled - left)
            if len(failures) >= _MAX_FAILURES:
                break
    finally:
        log.close()
    return {"latency_ms": summary_ms(latencies), "trials": trials, "failures": failures}
