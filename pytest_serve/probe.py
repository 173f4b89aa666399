"""A cross-process event recorder for handler code under test.

Handler code (in a replica thread here, or another process on Ray) calls
`probe.record("cancelled", tag="A")`; the test waits for it with a deadline:

    probe.wait_for("cancelled", tag="A", timeout=2)
    probe.assert_absent("received", during=0.5)

A probe is just a file path: it pickles by value, and every record is one
appended JSON line, written with a single `write()` on an O_APPEND descriptor so
lines from several processes never interleave. Times come from
`time.monotonic()`, which on Linux is one clock for every process of the machine.
No pytest import here: the same class works in any process.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Probe", "ProbeEvent", "ProbeTimeout", "clock"]

# CLOCK_MONOTONIC is system-wide on Linux; elsewhere fall back to wall time,
# which is at least shared by the processes of one machine.
clock = time.monotonic if sys.platform.startswith("linux") else time.time

_POLL_S = 0.002


class ProbeTimeout(AssertionError):
    """An expected event did not arrive in time (or an unwanted one did)."""


@dataclass(frozen=True)
class ProbeEvent:
    name: str
    t: float  # `clock()` when recorded
    pid: int
    data: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        extra = " ".join(f"{k}={v!r}" for k, v in self.data.items())
        return f"{self.name}@{self.t:.3f}" + (f" {extra}" if extra else "")


class Probe:
    """Append-only event log in a file; safe to share across threads and processes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        Path(self.path).touch()

    def __repr__(self) -> str:
        return f"Probe({self.path!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Probe, (self.path,))

    @staticmethod
    def now() -> float:
        """The probe's clock, to compare with event times."""
        return clock()

    def record(self, name: str, **data: Any) -> None:
        line = json.dumps({"name": name, "t": clock(), "pid": os.getpid(), "data": data}, default=repr)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode("utf-8"))
        finally:
            os.close(fd)

    def events(self, name: str | None = None, **match: Any) -> list[ProbeEvent]:
        """Recorded events in order, optionally only those named `name` with `match`ing data."""
        with open(self.path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        found = []
        for line in lines:
            try:
                raw = json.loads(line)
            except ValueError:  # a line still being written by another process
                continue
            event = ProbeEvent(raw["name"], raw["t"], raw["pid"], raw.get("data", {}))
            if _matches(event, name, match):
                found.append(event)
        return found

    def names(self) -> list[str]:
        return [e.name for e in self.events()]

    def clear(self) -> None:
        with open(self.path, "w", encoding="utf-8"):
            pass

    def wait_for(self, name: str, *, timeout: float = 5.0, count: int = 1, **match: Any) -> ProbeEvent:
        """Wait until `count` matching events exist; return the last of them."""
        deadline = clock() + timeout
        while True:
            found = self.events(name, **match)
            if len(found) >= count:
                return found[count - 1]
            if clock() >= deadline:
                raise ProbeTimeout(
                    f"waited {timeout:.2f} s for {count} × {_describe(name, match)}, "
                    f"saw {len(found)}; events so far: {self._summary()}"
                )
            time.sleep(_POLL_S)

    def assert_absent(self, name: str, *, during: float, **match: Any) -> None:
        """Watch for `during` seconds and fail at once if a matching event appears."""
        deadline = clock() + during
        while True:
            found = self.events(name, **match)
            if found:
                raise ProbeTimeout(
                    f"{_describe(name, match)} was recorded but must not be: {found[0]}; "
                    f"events so far: {self._summary()}"
                )
            if clock() >= deadline:
                return
            time.sleep(_POLL_S * 5)

    def _summary(self) -> str:
        events = self.events()
        return "[" + ", ".join(str(e) for e in events[-30:]) + "]" if events else "(none)"


def _matches(event: ProbeEvent, name: str | None, match: dict[str, Any]) -> bool:
    if name is not None and event.name != name:
        return False
    return all(event.data.get(k) == v for k, v in match.items())


def _describe(name: str, match: dict[str, Any]) -> str:
    extra = ", ".join(f"{k}={v!r}" for k, v in match.items())
    return f"'{name}'" + (f" ({extra})" if extra else "")
