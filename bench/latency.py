"""Request latency of the trivial JSON handler at concurrency 1 (wrk, one connection).

Two runs: on one keep-alive connection, and with `Connection: close`, so every
request comes on a new connection (wrk's latency starts when it writes the request,
so the server's accept and connection set-up count, the client's connect() does not).
"""

from __future__ import annotations

from typing import Any

from .plan import Plan
from .systems import Server
from .tools import run_wrk

__all__ = ["measure"]


def measure(server: Server, plan: Plan) -> dict[str, Any]:
    url = server.url + "/"
    keepalive = run_wrk(url, connections=1, duration_s=plan.latency_s, cpus=plan.load_cpus)
    new_conn = run_wrk(url, connections=1, duration_s=plan.latency_s, close_each=True, cpus=plan.load_cpus)
    return {"keepalive": keepalive.as_dict(), "new_connection": new_conn.as_dict()}
