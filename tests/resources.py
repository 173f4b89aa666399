"""What this process holds, measured with psutil: threads, file descriptors, sockets,
RSS, and the asyncio tasks of a Serve instance's event loops. Shared by tests/reference
and tests/reliability; no pytest import here."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import psutil

from reference_impl.instance import ServeInstance

__all__ = ["Usage", "eventually", "listening_ports", "loop_tasks", "rss_bytes"]

T = TypeVar("T")

#: anyio's worker threads (sync FastAPI routes, sync generators of StreamingResponse):
#: a pool per replica loop, idle between requests and joined at shutdown.
ANYIO_WORKER = "AnyIO worker thread"
_POLL_S = 0.01


@dataclass(frozen=True)
class Usage:
    """Threads (by identity), open file descriptors and sockets of this process."""

    threads: frozenset[threading.Thread]
    fds: int
    sockets: int

    @classmethod
    def now(cls) -> Usage:
        me = psutil.Process()
        return cls(frozenset(threading.enumerate()), me.num_fds(), len(me.net_connections("all")))

    def thread_names(self) -> list[str]:
        return sorted(t.name for t in self.threads)

    def diff(self, baseline: Usage) -> str:
        """What differs from `baseline`, for an assertion message ('' when nothing)."""
        parts = []
        if self.threads != baseline.threads:
            extra = sorted(t.name for t in self.threads - baseline.threads)
            gone = sorted(t.name for t in baseline.threads - self.threads)
            parts.append(f"threads +{extra} -{gone}")
        if self.fds != baseline.fds:
            parts.append(f"fds {baseline.fds} → {self.fds}")
        if self.sockets != baseline.sockets:
            parts.append(f"sockets {baseline.sockets} → {self.sockets}")
        return "; ".join(parts)


def rss_bytes() -> int:
    return int(psutil.Process().memory_info().rss)


def listening_ports() -> set[int]:
    """TCP ports this process listens on."""
    return {c.laddr.port for c in psutil.Process().net_connections("inet") if c.status == psutil.CONN_LISTEN}


def loop_tasks(instance: ServeInstance, timeout: float = 5.0) -> dict[str, int]:
    """Asyncio tasks alive on the proxy's loop and on each replica's loop, by loop."""

    async def count() -> int:
        return len(asyncio.all_tasks())

    loops = {"proxy": instance.driver_loop()}
    for app in list(instance.apps.values()):
        for deployment in app.deployments.values():
            for replica in deployment.replicas:
                loops[replica.id] = replica.loop
    return {name: asyncio.run_coroutine_threadsafe(count(), loop).result(timeout) for name, loop in loops.items()}


def eventually(measure: Callable[[], T], ok: Callable[[T], bool], timeout: float) -> tuple[bool, T]:
    """Measure until `ok(value)` or `timeout` s passed; return (ok, last value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = measure()
        if ok(value):
            return True, value
        if time.monotonic() >= deadline:
            return False, value
        time.sleep(_POLL_S)
