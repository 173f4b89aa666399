"""A cross-process, cross-host event recorder for handler code under test.

Handler code (in a replica thread here, or another process or host on Ray) calls
`probe.record("cancelled", tag="A")`; the test waits for it with a deadline:

    probe.wait_for("cancelled", tag="A", timeout=2)
    probe.assert_absent("received", during=0.5)

Events travel over a channel, chosen by the adapter when it makes the probe:

- `FileChannel` (the default): a file path. Every record is one appended JSON line,
  written with a single `write()` on an O_APPEND descriptor so lines from several
  processes never interleave. Times come from `time.monotonic()`, which on Linux is
  one clock for every process of the machine.
- `ActorChannel`: a named Ray actor, for replicas on other hosts, which cannot see the
  test machine's files. The actor stamps each event with its own clock when it
  arrives (`record` waits for that); the test side measured the offset between that
  clock and its own when it made the channel and converts, so event times compare
  with the test's `clock()` on every channel.

A probe pickles by value, its channel with it. No pytest import, and only the
standard library (plus `ray` inside the actor channel): the module can be shipped to
workers that do not have pytest-serve installed.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

__all__ = ["ActorChannel", "Channel", "FileChannel", "Probe", "ProbeEvent", "ProbeTimeout", "clock"]

# CLOCK_MONOTONIC is system-wide on Linux; elsewhere fall back to wall time,
# which is at least shared by the processes of one machine.
clock = time.monotonic if sys.platform.startswith("linux") else time.time

_POLL_S = 0.002
#: Bound of one call to the probe's actor (a record or a read).
ACTOR_CALL_TIMEOUT_S = 30.0


class ProbeTimeout(AssertionError):
    """An expected event did not arrive in time (or an unwanted one did)."""


@dataclass(frozen=True)
class ProbeEvent:
    name: str
    t: float  # `clock()` of the test's process when recorded
    pid: int
    data: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        extra = " ".join(f"{k}={v!r}" for k, v in self.data.items())
        return f"{self.name}@{self.t:.3f}" + (f" {extra}" if extra else "")


class Channel(Protocol):
    """Where a probe's events go. `append` stores one event (name, pid, data) and stamps
    its time; `read` returns every stored event, times in the reader's `clock()`."""

    #: Seconds between two reads while waiting: reads of a remote channel cost a round trip.
    poll_s: float

    def append(self, event: dict[str, Any]) -> None: ...

    def read(self) -> list[dict[str, Any]]: ...

    def clear(self) -> None: ...


class FileChannel:
    """Events as JSON lines appended to a file that every process of one machine sees."""

    poll_s = _POLL_S

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        Path(self.path).touch()

    def __repr__(self) -> str:
        return f"FileChannel({self.path!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_file_channel, (self.path,))

    def append(self, event: dict[str, Any]) -> None:
        line = json.dumps({**event, "t": clock()}, default=repr)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode("utf-8"))
        finally:
            os.close(fd)

    def read(self) -> list[dict[str, Any]]:
        with open(self.path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        events = []
        for line in lines:
            try:
                events.append(json.loads(line))
            except ValueError:  # a line still being written by another process
                continue
        return events

    def clear(self) -> None:
        with open(self.path, "w", encoding="utf-8"):
            pass


def _file_channel(path: str) -> FileChannel:
    """Unpickling: the file exists already; a process that cannot see it fails on `record`."""
    channel = FileChannel.__new__(FileChannel)
    channel.path = path
    return channel


class EventLog:
    """The Ray actor behind `ActorChannel`: event logs kept by log ID, stamped on arrival.
    Its methods take JSON text, so neither side depends on the other's classes."""

    def __init__(self) -> None:
        self.logs: dict[str, list[dict[str, Any]]] = {}

    def now(self) -> float:
        return clock()

    def append(self, log_id: str, event_json: str) -> float:
        t = clock()
        self.logs.setdefault(log_id, []).append({**json.loads(event_json), "t": t})
        return t

    def read(self, log_id: str) -> str:
        return json.dumps(self.logs.get(log_id, []))

    def clear(self, log_id: str) -> None:
        self.logs.pop(log_id, None)


class ActorChannel:
    """Events kept by a named Ray actor (`EventLog`) that every replica of the cluster
    can reach, also on other hosts. `offset` is the actor's clock minus the test's."""

    poll_s = 0.01

    def __init__(self, actor_name: str, namespace: str, log_id: str, offset: float) -> None:
        self.actor_name = actor_name
        self.namespace = namespace
        self.log_id = log_id
        self.offset = offset
        self._actor: Any = None

    @staticmethod
    def start_actor(actor_name: str, namespace: str) -> Any:
        """Start the `EventLog` actor (or find it running) and return its handle. The actor
        lives while a handle made here does: keep this one for as long as probes are used."""
        import ray

        return (
            ray.remote(EventLog)
            .options(name=actor_name, namespace=namespace, get_if_exists=True, num_cpus=0, max_concurrency=64)
            .remote()
        )

    @classmethod
    def create(cls, actor_name: str, namespace: str, actor: Any) -> ActorChannel:
        """A new, empty log on the running actor `actor_name` (whose handle is `actor`), with
        the offset between its clock and this process' measured now."""
        channel = cls(actor_name, namespace, uuid.uuid4().hex, 0.0)
        channel._actor = actor
        channel.offset = channel._measure_offset()
        return channel

    def __repr__(self) -> str:
        return f"ActorChannel({self.actor_name!r}, log {self.log_id[:8]})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (ActorChannel, (self.actor_name, self.namespace, self.log_id, self.offset))

    def _call(self, method: str, *args: Any) -> Any:
        import ray

        if self._actor is None:
            self._actor = ray.get_actor(self.actor_name, namespace=self.namespace)
        return ray.get(getattr(self._actor, method).remote(*args), timeout=ACTOR_CALL_TIMEOUT_S)

    def _measure_offset(self, samples: int = 5) -> float:
        """The actor's clock minus this process' one, from the round trip that took least
        time (its error is at most half that round trip)."""
        best: tuple[float, float] | None = None
        for _ in range(samples):
            sent = clock()
            remote = float(self._call("now"))
            back = clock()
            if best is None or back - sent < best[0]:
                best = (back - sent, remote - (sent + back) / 2)
        assert best is not None
        return best[1]

    def append(self, event: dict[str, Any]) -> None:
        self._call("append", self.log_id, json.dumps(event, default=repr))

    def read(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = json.loads(self._call("read", self.log_id))
        for event in events:
            event["t"] -= self.offset
        return events

    def clear(self) -> None:
        self._call("clear", self.log_id)


class Probe:
    """Append-only event log; safe to share across threads, processes and (with an
    `ActorChannel`) hosts. `Probe(path)` records into a file."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, channel: Channel | None = None) -> None:
        if (path is None) == (channel is None):
            raise ValueError("give a file path or channel=, not both")
        self.channel: Channel = channel if channel is not None else FileChannel(path)  # type: ignore[arg-type]

    @property
    def path(self) -> str | None:
        """The file of a file-based probe; None for other channels."""
        return getattr(self.channel, "path", None)

    def __repr__(self) -> str:
        return f"Probe({self.channel!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_probe, (self.channel,))

    @staticmethod
    def now() -> float:
        """The probe's clock, to compare with event times."""
        return clock()

    def record(self, name: str, **data: Any) -> None:
        self.channel.append({"name": name, "pid": os.getpid(), "data": data})

    def events(self, name: str | None = None, **match: Any) -> list[ProbeEvent]:
        """Recorded events in order, optionally only those named `name` with `match`ing data."""
        found = []
        for raw in self.channel.read():
            event = ProbeEvent(raw["name"], raw["t"], raw["pid"], raw.get("data", {}))
            if _matches(event, name, match):
                found.append(event)
        return found

    def names(self) -> list[str]:
        return [e.name for e in self.events()]

    def clear(self) -> None:
        self.channel.clear()

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
            time.sleep(self.channel.poll_s)

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
            time.sleep(max(self.channel.poll_s, _POLL_S * 5))

    def _summary(self) -> str:
        events = self.events()
        return "[" + ", ".join(str(e) for e in events[-30:]) + "]" if events else "(none)"


def _probe(channel: Channel) -> Probe:
    return Probe(channel=channel)


def _matches(event: ProbeEvent, name: str | None, match: dict[str, Any]) -> bool:
    if name is not None and event.name != name:
        return False
    return all(event.data.get(k) == v for k, v in match.items())


def _describe(name: str, match: dict[str, Any]) -> str:
    extra = ", ".join(f"{k}={v!r}" for k, v in match.items())
    return f"'{name}'" + (f" ({extra})" if extra else "")
