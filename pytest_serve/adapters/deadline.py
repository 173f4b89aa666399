"""A deadline on a blocking start (`ray.init()`, `serve.start()`) that may hang.

The call stays on the calling thread (Ray sets signal handlers, which only the main
thread may). A watchdog thread waits beside it; past the deadline it stops the processes
the call started (the children of this process that were not there before, and their
own children), which makes the call fail, and the caller gets an `AdapterError` saying
what happened instead of a hang.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from .base import AdapterError

__all__ = ["descendants", "within_deadline"]

T = TypeVar("T")


def descendants(pid: int | None = None) -> set[int]:
    """The processes below `pid` (default: this one), read from /proc; empty elsewhere."""
    root = os.getpid() if pid is None else pid
    parents: dict[int, int] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(entry.parent.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _stop(pids: set[int]) -> int:
    stopped = 0
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
            stopped += 1
        except (ProcessLookupError, PermissionError):
            pass
    return stopped


def within_deadline(seconds: float, what: str, call: Callable[[], T], *, hint: str = "") -> T:
    """`call()`, or AdapterError once `seconds` pass: the processes it started are stopped."""
    before = descendants()
    fired = threading.Event()
    finished = threading.Event()
    stopped: list[int] = []

    def watch() -> None:
        if finished.wait(seconds):
            return
        fired.set()
        stopped.append(_stop(descendants() - before))

    watchdog = threading.Thread(target=watch, name=f"pytest-serve deadline: {what}", daemon=True)
    watchdog.start()
    try:
        result = call()
    except BaseException as err:
        finished.set()
        watchdog.join()
        if fired.is_set():
            raise AdapterError(_message(what, seconds, stopped, hint)) from err
        raise
    finished.set()
    watchdog.join()
    if fired.is_set():
        raise AdapterError(_message(what, seconds, stopped, hint))
    return result


def _message(what: str, seconds: float, stopped: list[int], hint: str) -> str:
    load = f"; load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    count = stopped[0] if stopped else 0
    return (
        f"{what} did not finish within {seconds:.0f} s{load}; the {count} process(es) it had started "
        f"were stopped. Try again on a less loaded machine{hint}."
    )
