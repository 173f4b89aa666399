"""Requests per second of the trivial JSON handler at several concurrencies (wrk).

One wrk thread with C keep-alive connections for `plan.throughput_s` seconds each;
on a 2-core machine a second wrk thread would only take CPU from the server.
"""

from __future__ import annotations

from typing import Any

from .plan import Plan
from .systems import Server
from .tools import run_wrk

__all__ = ["measure"]


def measure(server: Server, plan: Plan) -> dict[str, Any]:
    url = server.url + "/"
    runs = {}
    for connections in plan.concurrency:
        result = run_wrk(url, connections=connections, duration_s=plan.throughput_s, cpus=plan.load_cpus)
        runs[str(connections)] = result.as_dict()
    return runs
