"""The load generator (wrk), installing it when missing, and small statistics helpers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["WrkResult", "ensure_wrk", "percentile", "python_has", "run_wrk", "summary_ms"]

_LUA = Path(__file__).with_name("wrk_report.lua")
_MARK = "BENCH_WRK "


def ensure_wrk() -> str:
    """The path of `wrk`; installs Debian's package with apt-get (and says so) if missing."""
    found = shutil.which("wrk")
    if found:
        return found
    if not shutil.which("apt-get"):
        raise RuntimeError("wrk is not installed and apt-get is not available; install wrk")
    print("bench: wrk not found; installing it with `apt-get install -y wrk` ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        done = subprocess.run(sudo + cmd, env=env, capture_output=True, text=True, timeout=600)
        if done.returncode != 0 and cmd[1] == "install":
            raise RuntimeError(f"installing wrk failed: {done.stderr.strip()[-500:]}")
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("apt-get installed wrk but it is not on PATH")
    print(f"bench: installed {found}", flush=True)
    return found


@dataclass
class WrkResult:
    """One wrk run: request count, rate and latency percentiles (milliseconds)."""

    requests: int
    duration_s: float
    errors: dict[str, int]
    latency_ms: dict[str, float]

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "duration_s": round(self.duration_s, 3),
            "rps": round(self.rps, 1),
            "errors": self.errors,
            "latency_ms": self.latency_ms,
        }


def run_wrk(
    url: str,
    *,
    connections: int,
    duration_s: float,
    threads: int = 1,
    close_each: bool = False,
    max_requests: int | None = None,
    timeout_s: float = 5.0,
    cpus: str | None = None,
) -> WrkResult:
    """Run wrk against `url` for at most `duration_s` (and `max_requests` per thread).

    `close_each` sends `Connection: close`, so every request opens a new connection
    (wrk reconnects after each response; its latency starts when the request is written).
    `cpus` pins wrk with `taskset -c`.
    """
    wrk = ensure_wrk()
    seconds = max(1, round(duration_s))
    cmd = (["taskset", "-c", cpus] if cpus else []) + [
        wrk,
        f"-t{threads}",
        f"-c{max(connections, threads)}",
        f"-d{seconds}s",
        f"--timeout={timeout_s:g}s",
        "-s",
        str(_LUA),
    ]
    if close_each:
        cmd += ["-H", "Connection: close"]
    cmd.append(url)
    env = dict(os.environ)
    env.pop("BENCH_MAX_REQUESTS", None)
    if max_requests is not None:
        env["BENCH_MAX_REQUESTS"] = str(max_requests)
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + 60)
    for line in done.stdout.splitlines():
        if line.startswith(_MARK):
            raw = json.loads(line[len(_MARK) :])
            latency = {k: round(v / 1000.0, 3) for k, v in raw["latency_us"].items()}
            return WrkResult(raw["requests"], raw["duration_us"] / 1e6, raw["errors"], latency)
    raise RuntimeError(f"wrk printed no result (exit {done.returncode}): {done.stderr or done.stdout}")


def percentile(values: list[float], q: float) -> float:
    """The `q`-th percentile (0..100) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100.0
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary_ms(values_s: list[float]) -> dict[str, float]:
    """p50/p90/p99/max in milliseconds of durations given in seconds."""
    ms = [v * 1000.0 for v in values_s]
    return {
        "n": len(ms),
        "p50": round(percentile(ms, 50), 3),
        "p90": round(percentile(ms, 90), 3),
        "p99": round(percentile(ms, 99), 3),
        "max": round(max(ms), 3) if ms else float("nan"),
    }


def python_has(python: str, module: str) -> bool:
    """Whether `python` can import `module` (checked in a subprocess)."""
    if python == sys.executable:
        import importlib.util

        return importlib.util.find_spec(module) is not None
    try:
        done = subprocess.run([python, "-c", f"import {module}"], capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0
