"""BP: backpressure with `max_queued_requests` (beyond the guide)."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from pytest_serve import http_client

HOLD_S = 1.5  # how long the first request keeps the only slot busy
REPLY_TIMEOUT_S = 30.0
DROPPED = "Request dropped due to backpressure (num_queued_requests=1, max_queued_requests=1)."


def _busy_app(serve: Any, probe: Any, **options: Any) -> Any:
    """One replica, one request at a time, one waiting: the first request holds the slot."""

    @serve.deployment(max_ongoing_requests=1, max_queued_requests=1, **options)
    class Busy:
        async def __call__(self, request: Any = None) -> str:
            import asyncio

            probe.record("started")
            await asyncio.sleep(HOLD_S)
            return "done"

    return Busy.bind()


def _flood(url: str, probe: Any) -> dict[str, httpx.Response]:
    """One request that takes the only slot, then three more while it runs."""
    responses: dict[str, httpx.Response] = {}

    def send(key: str) -> None:
        with http_client(timeout=REPLY_TIMEOUT_S) as client:
            responses[key] = client.get(url)

    first = threading.Thread(target=send, args=("first",), daemon=True)
    first.start()
    probe.wait_for("started", timeout=10)
    others = [threading.Thread(target=send, args=(f"other-{i}",), daemon=True) for i in range(3)]
    for thread in others:
        thread.start()
    for thread in [first, *others]:
        thread.join(REPLY_TIMEOUT_S)
    assert len(responses) == 4, f"requests never answered: {sorted(responses)}"
    return responses


@pytest.mark.clause("BP-1")
def test_bp_1_http_requests_over_the_queue_get_503(serve, serve_app, serve_probe):
    """While one request runs and the queue holds one more, further requests are answered
    at once with 503 and Ray's text, carrying an `x-request-id`; the running and the queued
    request get 200. (Of the three sent while the first runs, any one may be the queued one.)"""
    app = serve_app(_busy_app(serve, serve_probe), route_prefix="/bp1")
    responses = _flood(f"{app.base_url}/bp1", serve_probe)
    assert (responses["first"].status_code, responses["first"].text) == (200, "done")
    rest = sorted((r.status_code, r.text) for k, r in responses.items() if k != "first")
    assert rest == [(200, "done"), (503, DROPPED), (503, DROPPED)], rest
    for response in responses.values():
        assert response.headers.get("x-request-id"), dict(response.headers)
        if response.status_code == 503:
            assert response.headers["content-type"] == "text/plain; charset=utf-8"
            assert "retry-after" not in response.headers, dict(response.headers)


@pytest.mark.clause("BP-2")
def test_bp_2_handle_calls_over_the_queue_raise_backpressure_error(serve, serve_app, serve_probe):
    """Through a handle: calls beyond the running one and the queued one fail with
    `BackPressureError` and the same message when their result is asked for."""
    app = serve_app(_busy_app(serve, serve_probe), route_prefix="/bp2")
    running = app.handle.remote()
    serve_probe.wait_for("started", timeout=10)
    more = [app.handle.remote() for _ in range(2)]
    assert running.result(timeout_s=REPLY_TIMEOUT_S) == "done"
    outcomes = []
    for response in more:
        try:
            outcomes.append(("ok", response.result(timeout_s=REPLY_TIMEOUT_S)))
        except serve.exceptions.BackPressureError as err:
            outcomes.append(("BackPressureError", str(err)))
    assert sorted(outcomes) == [("BackPressureError", DROPPED), ("ok", "done")], outcomes


def _front_apps(serve: Any, probe: Any) -> dict[str, Any]:
    """Ingresses that call the busy deployment and do not catch its BackPressureError."""
    from fastapi import FastAPI

    @serve.deployment
    class Front:
        def __init__(self, busy: Any) -> None:
            self.busy = busy

        async def __call__(self, request: Any = None) -> str:
            return await self.busy.remote()

    api = FastAPI()

    @serve.deployment
    @serve.ingress(api)
    class FastFront:
        def __init__(self, busy: Any) -> None:
            self.busy = busy

        @api.get("/")
        async def root(self) -> str:
            return await self.busy.remote()

    return {"plain": Front.bind(_busy_app(serve, probe)), "fastapi": FastFront.bind(_busy_app(serve, probe))}


@pytest.mark.clause("BP-3")
@pytest.mark.parametrize("kind", ["plain", "fastapi"])
def test_bp_3_downstream_backpressure_is_a_503_for_the_client(serve, serve_app, serve_probe, kind):
    """While the downstream runs one request and queues one, the ingress's further
    calls fail with BackPressureError: their HTTP clients get 503 and its message."""
    app = serve_app(_front_apps(serve, serve_probe)[kind], route_prefix="/bp3")
    responses = _flood(f"{app.base_url}/bp3/", serve_probe)
    outcomes = sorted((r.status_code, r.text.strip('"')) for r in responses.values())
    assert outcomes == [(200, "done"), (200, "done"), (503, DROPPED), (503, DROPPED)], outcomes


@pytest.mark.clause("BP-4")
def test_bp_4_backpressure_config_sets_status_and_retry_after(serve, serve_app, serve_probe):
    """With `backpressure_config={"status_code": 429, "retry_after_s": 2.5}` the requests
    over the queue get 429, the same text and `Retry-After: 3` (whole seconds, rounded up);
    the others are served as before."""
    config = {"status_code": 429, "retry_after_s": 2.5}
    app = serve_app(_busy_app(serve, serve_probe, backpressure_config=config), route_prefix="/bp4")
    responses = _flood(f"{app.base_url}/bp4", serve_probe)
    outcomes = sorted((r.status_code, r.text, r.headers.get("retry-after")) for r in responses.values())
    assert outcomes == [(200, "done", None), (200, "done", None), (429, DROPPED, "3"), (429, DROPPED, "3")], outcomes
