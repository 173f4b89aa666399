"""OPS — operations (recommended, beyond the guide): deploying and deleting apps leaves
nothing behind.

What is observable from the test process for every implementation: a deleted app's
route is gone (404) while the port and the other apps still answer. For an
implementation that runs in the test process (the reference, embedded vendors), its
threads, open file descriptors and child processes are counted too, so a replica thread
or socket left behind per cycle shows as growth. For one that runs elsewhere (Ray) those
counts only cover the driver side.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import httpx
import pytest

from pytest_serve import http_client

# Enough that a leak of one thread or descriptor per cycle is twice the slack below; each
# cycle on Ray starts and stops two replica processes (about 12 s on 2 cores).
CYCLES = 8
REPLY_TIMEOUT_S = 30.0
SETTLE_TIMEOUT_S = 15.0
# Allowed growth after CYCLES deploy/delete cycles: a pool that grows by one or two is
# fine, one thread (or socket, or process) per cycle is not.
SLACK = {"threads": 2, "open files": 4, "child processes": 2}


def _usage() -> dict[str, int]:
    """Threads, open file descriptors and child processes of this process, where measurable."""
    usage = {"threads": threading.active_count()}
    try:
        import psutil
    except ImportError:  # fall back to what the OS shows without psutil
        if os.path.isdir("/proc/self/fd"):
            usage["open files"] = len(os.listdir("/proc/self/fd"))
        return usage
    me = psutil.Process()
    usage["threads"] = max(usage["threads"], me.num_threads())
    if hasattr(me, "num_fds"):
        usage["open files"] = me.num_fds()
    usage["child processes"] = len(me.children(recursive=True))
    return usage


def _grown(baseline: dict[str, int]) -> dict[str, tuple[int, int]]:
    now = _usage()
    return {
        what: (baseline[what], now[what])
        for what in baseline
        if what in now and now[what] > baseline[what] + SLACK[what]
    }


def _status(client: httpx.Client, path: str) -> int | None:
    """The status of GET `path`, or None when no answer comes within 2 s."""
    try:
        return client.get(path, timeout=2.0).status_code
    except httpx.TimeoutException:
        return None


@pytest.mark.clause("OPS-1")
def test_ops_1_deploy_delete_cycles_leave_nothing(serve: Any, serve_app: Any, serve_instance: Any) -> None:
    """Deploy an app, get 200 from it, delete it, and wait for its route to answer 404;
    8 times over (after 2 warm-up cycles). Afterwards this process's threads, open file
    descriptors and child processes settle back to within a small slack of the count after
    warm-up, and another app deployed before the cycles still answers on the same port."""

    @serve.deployment(num_replicas=2)
    class Cycled:
        async def __call__(self) -> str:
            return "cycled"

    @serve.deployment
    def keeper() -> str:
        return "kept"

    kept = serve_app(keeper.bind(), route_prefix="/ops-keep", name="ops-keep")
    name, prefix = "ops-cycled", "/ops-cycled"
    with http_client(base_url=serve_instance.base_url, timeout=REPLY_TIMEOUT_S) as client:

        def cycle(label: str) -> None:
            serve_instance.deploy(Cycled.bind(), name=name, route_prefix=prefix)
            response = client.get(prefix)
            assert (response.status_code, response.text) == (200, "cycled"), (
                f"cycle {label}: the deployed app answered {response.status_code} {response.text!r}"
            )
            serve_instance.delete(name)
            # Routes may take a moment to go where the proxy runs elsewhere (Ray).
            deadline = time.monotonic() + SETTLE_TIMEOUT_S
            while (status := _status(client, prefix)) != 404 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert status == 404, (
                f"cycle {label}: {prefix} still answers {status or 'nothing within 2 s'} "
                f"{SETTLE_TIMEOUT_S} s after its app was deleted; expected 404"
            )

        try:
            cycle("warm-up 1")
            cycle("warm-up 2")
            baseline = _usage()
            for number in range(1, CYCLES + 1):
                cycle(f"{number}/{CYCLES}")
        finally:
            try:
                serve_instance.delete(name)
            except Exception:
                pass
        # Threads and sockets of deleted replicas may take a moment to go.
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while (grown := _grown(baseline)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not grown, f"after {CYCLES} deploy/delete cycles this process holds more than before: " + ", ".join(
            f"{what} {before} → {after}" for what, (before, after) in grown.items()
        )
    # A new connection: the listening socket itself survived the cycles.
    response = kept.http.get("/ops-keep")
    assert (response.status_code, response.text) == (200, "kept"), (
        "the app deployed before the cycles no longer answers"
    )
