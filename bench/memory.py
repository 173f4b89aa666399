"""Resident memory of a freshly started server, and after `plan.memory_requests` requests.

Requests come from wrk (8 connections) in one-second runs that each stop after the
requests still missing, so the count is exact and the time bounded. For Ray the
figure is the sum over its process tree (raylet, GCS, controller, proxy, replicas),
where shared pages count more than once.
"""

from __future__ import annotations

from typing import Any

from .plan import Plan
from .systems import Server
from .tools import run_wrk

__all__ = ["measure"]

_MIB = 1024 * 1024
_MAX_RUNS = 60


def measure(server: Server, plan: Plan) -> dict[str, Any]:
    wanted = plan.memory_requests_ray if server.system.name == "ray" else plan.memory_requests
    idle = server.rss_bytes()
    done = errors = 0
    for _ in range(_MAX_RUNS):
        if done >= wanted:
            break
        result = run_wrk(
            server.url + "/",
            connections=8,
            duration_s=1,
            max_requests=wanted - done,
            cpus=plan.load_cpus,
        )
        done += result.requests
        errors += result.error_count
    after = server.rss_bytes()
    return {
        "idle_mib": round(idle / _MIB, 1),
        "after_mib": round(after / _MIB, 1),
        "requests": done,
        "errors": errors,
        "processes": len(server.processes()),
    }
