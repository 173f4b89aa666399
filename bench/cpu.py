"""`python -m bench.cpu [--baseline DIR] [--connections 1,8,32] [--rounds N] [--seconds S]`.

CPU time per request and requests per second of the trivial JSON handler, for bare
uvicorn+Starlette and the reference, measured round by round in turn (and, with
`--baseline DIR`, the reference from another checkout of this repository, e.g. a
`git worktree` of an older commit, imported through PYTHONPATH). CPU per request is
the server process's user + system time over a wrk run divided by the requests it
answered: the machine's other load changes it far less than it changes req/s.
Figures are medians over the rounds (CPU per request also its minimum, the round
least disturbed); each system's ratio to bare is the median of the rounds' ratios.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil

from . import systems
from .tools import ensure_wrk, run_wrk

__all__ = ["main", "measure"]


def _cpu_s(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def measure(server: systems.Server, connections: int, seconds: float) -> dict[str, float]:
    """One wrk run at `connections`: req/s, CPU µs per request, and wrk's p50 latency (ms)."""
    before = _cpu_s(server.pid)
    result = run_wrk(server.url + "/", connections=connections, duration_s=seconds)
    used = _cpu_s(server.pid) - before
    return {
        "rps": result.rps,
        "cpu_us_per_request": 1e6 * used / max(result.requests, 1),
        "p50_ms": result.latency_ms.get("p50", float("nan")),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu", description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, default=None, help="another checkout's directory to compare with")
    parser.add_argument("--connections", default="1,8,32", help="comma-separated (default 1,8,32)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    ensure_wrk()
    chosen = [systems.starlette(), systems.reference()]
    if args.baseline is not None:
        base = dataclasses.replace(systems.reference(), label=f"reference at {args.baseline}", name="baseline")
        chosen.append(dataclasses.replace(base, env={"PYTHONPATH": str(args.baseline.resolve())}))
    concurrency = [int(c) for c in args.connections.split(",")]
    found: dict[str, dict[int, list[dict[str, float]]]] = {s.name: {c: [] for c in concurrency} for s in chosen}
    with tempfile.TemporaryDirectory(prefix="bench-cpu-") as workdir:
        servers = {s.name: s.start(Path(workdir)) for s in chosen}
        try:
            for server in servers.values():
                run_wrk(server.url + "/", connections=8, duration_s=1)  # warm up
            for _ in range(args.rounds):
                for c in concurrency:
                    for name, server in servers.items():
                        found[name][c].append(measure(server, c, args.seconds))
        finally:
            for server in servers.values():
                server.stop()
    _print(chosen, found, concurrency)
    return 0


def _print(chosen: list[systems.System], found: dict[str, Any], concurrency: list[int]) -> None:
    bare = found["starlette"]
    print("| system | c | req/s | ratio to bare | CPU µs/request (min) | ratio to bare | p50 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for system in chosen:
        for c in concurrency:
            runs = found[system.name][c]
            rps = statistics.median(r["rps"] for r in runs)
            cpu = statistics.median(r["cpu_us_per_request"] for r in runs)
            least = min(r["cpu_us_per_request"] for r in runs)
            p50 = statistics.median(r["p50_ms"] for r in runs)
            rps_ratio = statistics.median(r["rps"] / b["rps"] for r, b in zip(runs, bare[c], strict=True))
            cpu_ratio = statistics.median(
                r["cpu_us_per_request"] / b["cpu_us_per_request"] for r, b in zip(runs, bare[c], strict=True)
            )
            cells = [system.label, str(c), f"{rps:,.0f}", f"{rps_ratio:.2f}×", f"{cpu:.0f} ({least:.0f})"]
            cells += [f"{cpu_ratio:.2f}×", f"{p50:.3f}"]
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    sys.exit(main())
