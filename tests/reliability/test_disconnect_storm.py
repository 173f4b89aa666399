"""Disconnect storm: thousands of requests over every kind of handler, ~30 % of clients
leaving at random moments. Nothing may be lost, handled twice, hung or leaked.

The client (storm_client.py) runs in its own process; the reference runs here, so this
process's threads, sockets, file descriptors, asyncio tasks and RSS are the server's.
The handlers (storm_apps.py) record to a probe what happened to each request. In the
suite the storm has 1 500 requests; `PYTEST_SERVE_STORM=10000` (or `python -m
bench.storm`) runs the full 10 000.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from direct_serve import StartServe
from resources import ANYIO_WORKER, Usage, eventually, loop_tasks, rss_bytes

from pytest_serve.probe import Probe, ProbeEvent
from reference_impl import serve

from .storm_apps import MAX_ANYIO_WORKERS, deploy_storm_apps

STORM_ENV = "PYTEST_SERVE_STORM"
IN_SUITE_REQUESTS = 1500
#: The warm-up storm brings pools, buffers and allocator arenas to their working size.
WARM_UP_REQUESTS = 1000
RSS_GROWTH_LIMIT = 5 * 1024 * 1024
#: Seeds of the request plans (fixed, so a failure can be replayed).
WARM_UP_SEED, STORM_SEED = 1, 2
#: A handler may finish after its client left if it ended before the proxy could tell
#: it; longer than this after the departure is a missed cancellation (the storm's long
#: handlers sleep 3 s, their clients leave within 0.4 s).
REACT_S = 1.0
SETTLE_S = 10.0
CLIENT = Path(__file__).with_name("storm_client.py")
STREAMS = {"stream_sync", "stream_async"}
#: How each kind of handler can stop early; a sync handler has no await point to stop at.
STOPS = {
    "async": {"cancelled"},
    "sync": set(),
    "stream_sync": {"closed"},
    "stream_async": {"cancelled", "closed"},
    "compose": {"cancelled"},
    "ws": {"cancelled", "disconnect"},
}


@pytest.fixture
def storm_requests() -> int:
    """Function scope · int · default 1 500 · the storm's size; `PYTEST_SERVE_STORM` overrides."""
    raw = os.environ.get(STORM_ENV, "")
    if not raw:
        return IN_SUITE_REQUESTS
    if not raw.isdigit() or int(raw) < 100:
        pytest.fail(f"{STORM_ENV}={raw!r}: expected a number of requests >= 100", pytrace=False)
    return int(raw)


def run_storm(url: str, requests: int, seed: int, first: int, out: Path, load: bool = True) -> list[dict[str, Any]]:
    """Run storm_client.py against `url`; its outcomes, one dict per request (written to
    `out`; read back unless `load` is false)."""
    budget = 60 + requests * 0.05
    try:
        subprocess.run(
            [
                sys.executable,
                str(CLIENT),
                "--url",
                url,
                "--requests",
                str(requests),
                "--seed",
                str(seed),
                "--first",
                str(first),
                "--out",
                str(out),
            ],
            check=True,
            timeout=budget,
            capture_output=True,
            text=True,
        )
    except subprocess.CalledProcessError as err:
        pytest.fail(f"the storm client failed ({err.returncode}):\n{err.stderr[-3000:]}")
    except subprocess.TimeoutExpired:
        pytest.fail(f"the storm of {requests} requests did not end within {budget:.0f} s")
    return load_outcomes(out) if load else []


def load_outcomes(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@dataclass
class Tally:
    """What became of the requests; `problems` lists the ones that break the rules."""

    kinds: Counter[str] = field(default_factory=Counter)
    completed: int = 0
    left: int = 0
    dropped: int = 0  # left, never reached a replica
    dropped_after_sending: int = 0  # ... although the whole request had been sent (CAN-3)
    cancelled: int = 0  # left, the handler was cancelled / closed / saw the disconnect
    finished: int = 0  # left, but the handler had finished (or had no await point)
    downstream_cancelled: int = 0
    long_cancelled: int = 0  # of the 3 s handlers whose clients left within 0.4 s
    long_total: int = 0
    reaction_s: list[float] = field(default_factory=list)  # departure → CancelledError etc.
    closing_s: list[float] = field(default_factory=list)  # departure → generator closed
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.completed + self.left} requests ({dict(sorted(self.kinds.items()))}): "
            f"{self.completed} completed and correct; {self.left} clients left: "
            f"{self.dropped} dropped before a replica ({self.dropped_after_sending} after sending "
            f"the whole request), {self.cancelled} cancelled on the replica "
            f"({self.downstream_cancelled} downstream calls too; {self.long_cancelled} of "
            f"{self.long_total} 3 s handlers), {self.finished} already finished; after the "
            f"client left, CancelledError/WebSocketDisconnect reached the handler in "
            f"{_median_max(self.reaction_s)}, a sync generator was closed in {_median_max(self.closing_s)}"
        )


def _median_max(seconds: list[float]) -> str:
    ordered = sorted(seconds) or [0.0]
    return f"{ordered[len(ordered) // 2] * 1000:.0f} ms (median) / {ordered[-1] * 1000:.0f} ms (max)"


def _events_by_request(probe: Probe) -> dict[tuple[str, str], list[ProbeEvent]]:
    found: dict[tuple[str, str], list[ProbeEvent]] = {}
    for event in probe.events():
        found.setdefault((event.data["tag"], event.data.get("role", "")), []).append(event)
    return found


def _judge(outcome: dict[str, Any], events: list[ProbeEvent], role: str, tally: Tally) -> str:
    """Check one handler's record against what its client did; return how it ended."""
    tag, kind = outcome["tag"], outcome["kind"]
    names = [e.name for e in events]
    where = f"{tag} ({kind}{', ' + role if role else ''})"
    if names == []:
        if not outcome["left"]:
            tally.problems.append(f"{where}: completed, but no handler recorded it")
        return "dropped"
    if names == ["start"] and outcome["left"] and kind in STREAMS:
        # NOTE: cancelled before the first chunk was pulled: a generator that never ran
        # has no `finally` to run. The idle-tasks check below shows nothing still runs.
        return "stopped"
    if len(names) != 2 or names[0] != "start":
        tally.problems.append(f"{where}: handler records {names}; expected start + one outcome")
        return "broken"
    end = names[1]
    if not outcome["left"] and end != "end":
        tally.problems.append(f"{where}: completed for the client, but the handler {end}")
    elif end != "end" and end not in STOPS[kind]:
        tally.problems.append(f"{where}: handler recorded {end!r}")
    if outcome["left"] and end == "end":
        late = events[1].t - outcome["left_at"]
        if late > REACT_S:
            tally.problems.append(f"{where}: finished {late:.2f} s after its client left; not cancelled")
    return "end" if end == "end" else "stopped"


def tally_storm(outcomes: list[dict[str, Any]], probe: Probe) -> Tally:
    tally = Tally()
    records = _events_by_request(probe)
    for outcome in outcomes:
        tag, kind = outcome["tag"], outcome["kind"]
        tally.kinds[kind] += 1
        if not outcome["left"]:
            tally.completed += 1
            if outcome["outcome"] != "ok":
                tally.problems.append(f"{tag} ({kind}): client saw {outcome['outcome']}")
        else:
            tally.left += 1
        ingress = _judge(outcome, records.get((tag, ""), []), "", tally)
        if kind == "compose":
            down = records.get((tag, "down"), [])
            if ingress == "dropped" and down:
                tally.problems.append(f"{tag} (compose): dropped, yet its downstream call ran")
            elif ingress == "end" or down:
                tally.downstream_cancelled += _judge(outcome, down, "down", tally) == "stopped"
        if outcome["left"]:
            tally.long_total += outcome["long"]
            if ingress == "dropped":
                tally.dropped += 1
                tally.dropped_after_sending += outcome["moment"] != "sending"
            elif ingress == "stopped":
                tally.cancelled += 1
                tally.long_cancelled += outcome["long"]
                stopped = records[(tag, "")][-1]
                after = max(0.0, stopped.t - outcome["left_at"])
                if stopped.name == "closed":
                    tally.closing_s.append(after)
                elif stopped.name != "start":
                    tally.reaction_s.append(after)
            elif ingress == "end":
                tally.finished += 1
    return tally


def _settle(outcomes: list[dict[str, Any]], probe: Probe, what: str) -> Tally:
    """The tally once every handler has recorded its outcome (at most SETTLE_S s); fails
    with the problems found if some never do or break the rules."""
    ok, tally = eventually(lambda: tally_storm(outcomes, probe), lambda t: not t.problems, SETTLE_S)
    assert ok, f"{what}: {len(tally.problems)} problems, e.g.:\n" + "\n".join(tally.problems[:20])
    return tally


def _anyio_workers(usage: Usage) -> int:
    return sum(t.name == ANYIO_WORKER for t in usage.threads)


def _other_threads(usage: Usage) -> frozenset[Any]:
    return frozenset(t for t in usage.threads if t.name != ANYIO_WORKER)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_disconnect_storm_loses_nothing_and_leaks_nothing(
    start_serve: StartServe, storm_requests: int, tmp_path: Path
) -> None:
    """A warm-up storm, then the measured storm (1 500 requests; `PYTEST_SERVE_STORM`
    sets it) over async and sync sleeps, sync and async streams, WebSockets and handle
    composition, 48 clients at a time, ~30 % leaving at random moments (mid-request,
    after a delay, after some chunks; FIN or RST). Then: every client that stayed got the
    exact response; every handler recorded one start and one outcome; a client that left
    was dropped before any replica, or its handler was cancelled (or had already finished,
    by at most REACT_S); asyncio tasks, threads (beyond anyio's bounded pool), sockets and
    fds are back to the idle baseline; RSS grew by less than 5 MB. After shutdown the
    process holds what it held before the start."""
    serve.start(http_options={"port": 0})  # process-wide one-time state (uvloop's pipe)
    serve.shutdown()
    before_start = Usage.now()
    probe = Probe(tmp_path / "probe.jsonl")
    instance = start_serve()
    deploy_storm_apps(probe)

    warm_up = run_storm(instance.url, WARM_UP_REQUESTS, WARM_UP_SEED, 10**6, tmp_path / "warm-up.jsonl")
    _settle(warm_up, probe, "the warm-up")
    del warm_up
    gc.collect()
    idle_tasks = loop_tasks(instance)
    idle = Usage.now()
    idle_rss = rss_bytes()

    outcomes_file = tmp_path / "storm.jsonl"
    run_storm(instance.url, storm_requests, STORM_SEED, 0, outcomes_file, load=False)
    # Measured before this test reads the outcomes and the probe, whose objects would
    # count in the same RSS.
    tasks_ok, tasks = eventually(lambda: loop_tasks(instance), lambda t: t == idle_tasks, SETTLE_S)
    usage_ok, usage = eventually(
        Usage.now,
        lambda u: (u.fds, u.sockets, _other_threads(u)) == (idle.fds, idle.sockets, _other_threads(idle)),
        SETTLE_S,
    )
    gc.collect()
    growth = rss_bytes() - idle_rss

    outcomes = load_outcomes(outcomes_file)
    assert len(outcomes) == storm_requests
    tally = _settle(outcomes, probe, "the storm")
    print(f"\nstorm: {tally.summary()}")
    print(
        f"storm: RSS {idle_rss / 2**20:.1f} MiB idle after a {WARM_UP_REQUESTS}-request warm-up, "
        f"growth {growth / 2**20:+.2f} MiB; at idle {sum(idle_tasks.values())} asyncio tasks on "
        f"{len(idle_tasks)} loops, {len(idle.threads)} threads, {idle.fds} fds, {idle.sockets} "
        f"sockets; after the storm {sum(tasks.values())} tasks, {len(usage.threads)} threads "
        f"({_anyio_workers(usage)} anyio workers), {usage.fds} fds, {usage.sockets} sockets"
    )
    assert tally.dropped_after_sending > 0 and tally.cancelled > 0, (
        f"the storm did not exercise both drop and cancel paths: {tally.summary()}"
    )
    assert tally.completed + tally.dropped + tally.cancelled + tally.finished == storm_requests
    assert tasks_ok, f"asyncio tasks per loop: idle {idle_tasks}, after the storm {tasks}"
    assert usage_ok, f"after the storm: {usage.diff(idle)}"
    assert _anyio_workers(usage) <= MAX_ANYIO_WORKERS, f"anyio worker pool grew past its bound: {usage.thread_names()}"
    assert growth < RSS_GROWTH_LIMIT, f"RSS grew by {growth / 2**20:.2f} MiB during the storm"

    final = httpx.get(instance.url + "/async?tag=final&ms=0", timeout=10)
    assert (final.status_code, final.text) == (200, "async final")
    serve.shutdown()
    ok, usage = eventually(Usage.now, lambda u: u == before_start, SETTLE_S)
    assert ok, f"after shutdown: {usage.diff(before_start)}"
