"""The storm's handlers: every kind of request the reference serves, each reporting to a probe.

Each handler records `start` when it begins and exactly one outcome when it is over:
`end` (it finished), `cancelled` (asyncio.CancelledError reached it), `closed` (its
generator was closed before the end) or `disconnect` (a WebSocket saw the client go).
Records carry the request's `tag`; the composed app's downstream records with
`role="down"`. The paths and query parameters match storm_client.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from starlette.requests import Request
from starlette.responses import StreamingResponse

from pytest_serve.probe import Probe
from reference_impl import serve

__all__ = ["MAX_ANYIO_WORKERS", "deploy_storm_apps"]

STREAM_REPLICAS, STREAM_ONGOING = 2, 8
#: Sync generators run in anyio worker threads, at most one per ongoing request.
MAX_ANYIO_WORKERS = STREAM_REPLICAS * STREAM_ONGOING


@serve.deployment(num_replicas=2, max_ongoing_requests=4)
class AsyncSleep:
    def __init__(self, probe: Probe) -> None:
        self.probe = probe

    async def __call__(self, request: Request) -> str:
        tag = request.query_params["tag"]
        self.probe.record("start", tag=tag)
        try:
            await asyncio.sleep(int(request.query_params["ms"]) / 1000)
        except asyncio.CancelledError:
            self.probe.record("cancelled", tag=tag)
            raise
        self.probe.record("end", tag=tag)
        return f"async {tag}"


@serve.deployment(num_replicas=2, max_ongoing_requests=2)
class SyncSleep:
    def __init__(self, probe: Probe) -> None:
        self.probe = probe

    def __call__(self, request: Request) -> str:
        tag = request.query_params["tag"]
        self.probe.record("start", tag=tag)
        time.sleep(int(request.query_params["ms"]) / 1000)  # no await point: runs to the end
        self.probe.record("end", tag=tag)
        return f"sync {tag}"


@serve.deployment(num_replicas=STREAM_REPLICAS, max_ongoing_requests=STREAM_ONGOING)
class Streams:
    def __init__(self, probe: Probe) -> None:
        self.probe = probe

    def _sync(self, tag: str, n: int) -> Iterator[str]:
        outcome = "closed"  # unless the loop below completes
        try:
            for i in range(n):
                yield f"{tag}:{i}\n"
                time.sleep(0.01)
            outcome = "end"
        finally:
            self.probe.record(outcome, tag=tag)

    async def _async(self, tag: str, n: int) -> AsyncIterator[str]:
        outcome = "closed"
        try:
            for i in range(n):
                yield f"{tag}:{i}\n"
                await asyncio.sleep(0.02)
            outcome = "end"
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        finally:
            self.probe.record(outcome, tag=tag)

    async def __call__(self, request: Request) -> StreamingResponse:
        tag, n = request.query_params["tag"], int(request.query_params["n"])
        self.probe.record("start", tag=tag)
        sync = request.query_params["mode"] == "sync"
        return StreamingResponse(self._sync(tag, n) if sync else self._async(tag, n), media_type="text/plain")


@serve.deployment(num_replicas=2, max_ongoing_requests=3)
class Downstream:
    def __init__(self, probe: Probe) -> None:
        self.probe = probe

    async def work(self, tag: str, ms: int) -> str:
        self.probe.record("start", tag=tag, role="down")
        try:
            await asyncio.sleep(ms / 1000)
        except asyncio.CancelledError:
            self.probe.record("cancelled", tag=tag, role="down")
            raise
        self.probe.record("end", tag=tag, role="down")
        return f"composed {tag}"


@serve.deployment(max_ongoing_requests=16)
class Composer:
    def __init__(self, down: Any, probe: Probe) -> None:
        self.down, self.probe = down, probe

    async def __call__(self, request: Request) -> str:
        tag = request.query_params["tag"]
        self.probe.record("start", tag=tag)
        try:
            result: str = await self.down.work.remote(tag, int(request.query_params["ms"]))
        except asyncio.CancelledError:
            self.probe.record("cancelled", tag=tag)
            raise
        self.probe.record("end", tag=tag)
        return result


ws_api = FastAPI()


@serve.deployment(max_ongoing_requests=16)
@serve.ingress(ws_api)
class Echo:
    def __init__(self, probe: Probe) -> None:
        self.probe = probe

    @ws_api.websocket("/echo")
    async def echo(self, websocket: WebSocket, tag: str, n: int = 0) -> None:
        self.probe.record("start", tag=tag)
        try:
            await websocket.accept()
            for _ in range(n):
                text = await websocket.receive_text()
                await websocket.send_text(f"{tag}:{text}")
            await websocket.close()
        except WebSocketDisconnect:
            self.probe.record("disconnect", tag=tag)
            return
        except asyncio.CancelledError:
            self.probe.record("cancelled", tag=tag)
            raise
        self.probe.record("end", tag=tag)


def deploy_storm_apps(probe: Probe) -> None:
    """Deploy the storm's five apps on the running instance."""
    serve.run(AsyncSleep.bind(probe), name="async", route_prefix="/async")
    serve.run(SyncSleep.bind(probe), name="sync", route_prefix="/sync")
    serve.run(Streams.bind(probe), name="stream", route_prefix="/stream")
    serve.run(Composer.bind(Downstream.bind(probe), probe), name="compose", route_prefix="/compose")
    serve.run(Echo.bind(probe), name="ws", route_prefix="/ws")
