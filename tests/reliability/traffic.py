"""Well-behaved traffic that must carry on while a test misbehaves.

    with Bystanders(instance.url):
        ...hostile input...

deploys a `bystander` app, starts one slow request (in flight before the hostile input
arrives) and a heartbeat of quick requests on fresh connections; on exit, the slow one
must have got its 200, and every heartbeat too, each within HEARTBEAT_LIMIT_S.
"""

from __future__ import annotations

import asyncio
import threading
import time
from types import TracebackType

import httpx
from direct_serve import SharedEvent
from starlette.requests import Request

from reference_impl import serve

__all__ = ["Bystanders"]

SLOW_S = 1.0
HEARTBEAT_LIMIT_S = 2.0
TIMEOUT_S = 10.0


@serve.deployment(max_ongoing_requests=100)
class Bystander:
    def __init__(self, slow_started: threading.Event) -> None:
        self.slow_started = slow_started

    async def __call__(self, request: Request) -> str:
        if request.query_params.get("slow"):
            self.slow_started.set()
            await asyncio.sleep(SLOW_S)
            return "slow"
        return "quick"


class Bystanders:
    def __init__(self, base_url: str) -> None:
        self.url = base_url + "/bystander"
        self._started = SharedEvent()
        self._stop = threading.Event()
        self._slow: list[str] = []
        self._beats: list[tuple[float, str]] = []
        self._threads = [
            threading.Thread(target=self._slow_request, name="bystander-slow", daemon=True),
            threading.Thread(target=self._heartbeat, name="bystander-heartbeat", daemon=True),
        ]

    def _slow_request(self) -> None:
        try:
            response = httpx.get(self.url + "?slow=1", timeout=TIMEOUT_S)
            self._slow.append(f"{response.status_code} {response.text}")
        except httpx.HTTPError as err:
            self._slow.append(repr(err))

    def _heartbeat(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                response = httpx.get(self.url, timeout=TIMEOUT_S)
                outcome = f"{response.status_code} {response.text}"
            except httpx.HTTPError as err:
                outcome = repr(err)
            self._beats.append((time.monotonic() - began, outcome))
            self._stop.wait(0.02)

    def __enter__(self) -> Bystanders:
        serve.run(Bystander.bind(self._started), name="bystander", route_prefix="/bystander")
        for thread in self._threads:
            thread.start()
        assert self._started.wait(TIMEOUT_S), "the bystanders' slow request never reached its replica"
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(TIMEOUT_S + 1)
        if kind is not None:
            return  # the test's own failure says more
        assert not any(t.is_alive() for t in self._threads), "a bystander request never finished"
        assert self._slow == ["200 slow"], f"the request in flight meanwhile got {self._slow}"
        bad = [outcome for _, outcome in self._beats if outcome != "200 quick"]
        assert self._beats and not bad, f"{len(bad)} of {len(self._beats)} heartbeats failed: {bad[:5]}"
        slowest = max(duration for duration, _ in self._beats)
        assert slowest < HEARTBEAT_LIMIT_S, f"a heartbeat took {slowest:.2f} s meanwhile"
