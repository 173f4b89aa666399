"""CAN — request cancellation (clauses CAN-1 … CAN-7).

Every check looks inside the replica through `serve_probe`: a handler records
"received" when it starts, "cancelled" in its `except asyncio.CancelledError`,
and "finished" (or "ZZZ", "down_finished") when it runs to its end. Clients that
leave early are raw sockets closed after a fixed delay (`disconnect_after`); each
test first checks the handler had started by then, so a slow start shows up as
a clear failure rather than a false pass.

Deployments are defined inside the tests (they pickle by value on Ray) and
reach the test only through the probe and HTTP.
"""

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import httpx
import pytest

from pytest_serve import Departure, disconnect_after, http_client

# How long after sending a client waits before it leaves. The replica has been
# warmed up by then, so the handler started long before (Ray: ~10 ms per hop).
LEAVE_AFTER_S = 1.0
# Bound for the replica to react to a disconnect (Ray 2.60: ~10 ms).
REACT_S = 5.0
# A handler "blocked forever" sleeps this long; tests never wait for it.
FOREVER_S = 30.0
# Timeout of one ordinary client request in these tests.
CLIENT_TIMEOUT_S = 20.0


def _url(app, **params: object) -> str:
    return f"{app.url}/?{urlencode(params)}"


def _get(url: str, timeout: float = CLIENT_TIMEOUT_S) -> httpx.Response:
    try:
        with http_client(timeout=timeout) as client:
            return client.get(url)
    except httpx.TimeoutException:
        raise AssertionError(f"no response to GET {url} within {timeout} s") from None


def _leave(probe, app, tag: str, **params: object) -> tuple[Departure, object]:
    """Send request `tag`, leave after LEAVE_AFTER_S; return the departure and the
    handler's "received" event (which must precede the departure)."""
    departure = disconnect_after(_url(app, tag=tag, **params), seconds=LEAVE_AFTER_S)
    received = probe.events("received", tag=tag)
    assert received, (
        f"request {tag!r} had not reached its handler {LEAVE_AFTER_S} s after it was sent, "
        f"so leaving then tests nothing; events: {probe.names()}"
    )
    assert received[0].t < departure.left_at
    assert departure.status_code == 0, f"the client of {tag!r} got a response ({departure.status_code}) before it left"
    return departure, received[0]


# -- CAN-1 ------------------------------------------------------------------------------

REQUEST_TIMEOUT_S = 2.0


@pytest.mark.clause("CAN-1")
@pytest.mark.serve_http_options(request_timeout_s=REQUEST_TIMEOUT_S)
def test_can_1_request_timeout_cancels_and_answers_408(serve, serve_app, serve_probe, serve_observe) -> None:
    """With `request_timeout_s=2`, a handler awaiting 30 s: the client gets 408 after about
    2 s (not before, and long before 30 s), and the probe shows the handler got
    `CancelledError` and never finished. A quick request under the same timeout is 200."""

    @serve.deployment
    class Sleeper:
        def __init__(self, probe):
            self.probe = probe

        async def __call__(self, request):
            tag = request.query_params["tag"]
            wait = float(request.query_params["wait"])
            self.probe.record("received", tag=tag)
            try:
                await asyncio.sleep(wait)
            except asyncio.CancelledError:
                self.probe.record("cancelled", tag=tag)
                raise
            self.probe.record("finished", tag=tag)
            return tag

    app = serve_app(Sleeper.bind(serve_probe))
    quick = _get(_url(app, tag="quick", wait=0))
    assert quick.status_code == 200, quick.text
    assert quick.text == "quick"

    sent = time.monotonic()
    slow = _get(_url(app, tag="slow", wait=FOREVER_S), timeout=FOREVER_S / 2)
    elapsed = time.monotonic() - sent
    serve_observe.record(
        f"{slow.status_code} after",
        elapsed,
        "s",
        expected=f"408 after request_timeout_s={REQUEST_TIMEOUT_S:g} s, not before {REQUEST_TIMEOUT_S * 0.9:.1f} s",
        key=True,
    )
    assert slow.status_code == 408, f"expected 408 after the timeout, got {slow.status_code}: {slow.text!r}"
    assert elapsed >= REQUEST_TIMEOUT_S * 0.9, f"answered after {elapsed:.2f} s, before the timeout"
    cancelled = serve_probe.wait_for("cancelled", tag="slow", timeout=REACT_S)
    received = serve_probe.events("received", tag="slow")[0]
    serve_observe.record(
        "CancelledError after the handler started",
        cancelled.t - received.t,
        "s",
        expected=f"at the timeout, {REQUEST_TIMEOUT_S:g} s",
    )
    assert cancelled.t - received.t >= REQUEST_TIMEOUT_S * 0.9
    assert not serve_probe.events("finished", tag="slow")


# -- CAN-2 ------------------------------------------------------------------------------


@pytest.mark.clause("CAN-2")
def test_can_2_disconnect_cancels_handler(serve, serve_app, serve_probe, serve_observe) -> None:
    """The guide's `startled` pattern: a handler awaiting 30 s whose client leaves after 1 s
    records "cancelled" in its `except asyncio.CancelledError` within a few seconds and
    never gets past the `await`; a request sent afterwards is answered 200."""

    @serve.deployment
    class Startled:
        def __init__(self, probe):
            self.probe = probe

        async def __call__(self, request):
            tag = request.query_params["tag"]
            wait = float(request.query_params["wait"])
            try:
                self.probe.record("received", tag=tag)
                await asyncio.sleep(wait)
                self.probe.record("finished", tag=tag)
            except asyncio.CancelledError:
                self.probe.record("cancelled", tag=tag)
            return tag

    app = serve_app(Startled.bind(serve_probe))
    warm = _get(_url(app, tag="warm", wait=0))
    assert warm.status_code == 200 and warm.text == "warm"

    departure, _ = _leave(serve_probe, app, "gone", wait=FOREVER_S)
    cancelled = serve_probe.wait_for("cancelled", tag="gone", timeout=REACT_S)
    serve_observe.record(
        "CancelledError after disconnect", cancelled.t - departure.left_at, "s", expected=f"within {REACT_S:g} s"
    )
    assert cancelled.t - departure.left_at < REACT_S
    assert not serve_probe.events("finished", tag="gone")

    after = _get(_url(app, tag="after", wait=0))
    assert after.status_code == 200 and after.text == "after"


# -- CAN-3 ------------------------------------------------------------------------------


@pytest.mark.clause("CAN-3")
def test_can_3_queued_request_dropped_when_client_leaves(serve, serve_app, serve_probe, serve_observe) -> None:
    """One replica with `max_ongoing_requests=1`. A holds the slot until the test releases
    it; B is sent meanwhile (so it waits in the proxy) and its client leaves after 1 s;
    C is sent after that. The replica never records B as received (neither while A holds
    the slot nor after), C starts only after A has finished, and A and C get 200."""

    @serve.deployment(max_ongoing_requests=1, num_replicas=1)
    class Gate:
        def __init__(self, probe):
            self.probe = probe

        async def __call__(self, request):
            tag = request.query_params["tag"]
            self.probe.record("received", tag=tag)
            if request.query_params.get("hold"):
                for _ in range(2000):  # at most ~20 s
                    if self.probe.events("release", tag=tag):
                        break
                    await asyncio.sleep(0.01)
            self.probe.record("finished", tag=tag)
            return tag

    app = serve_app(Gate.bind(serve_probe))
    warm = _get(_url(app, tag="W"))
    assert warm.status_code == 200 and warm.text == "W"

    with ThreadPoolExecutor(2) as pool:
        a = pool.submit(_get, _url(app, tag="A", hold=1))
        serve_probe.wait_for("received", tag="A", timeout=10)
        b = disconnect_after(_url(app, tag="B"), seconds=LEAVE_AFTER_S)
        assert b.status_code == 0, f"B was answered ({b.status_code}) while A held the only slot"
        c = pool.submit(_get, _url(app, tag="C"))
        # A still holds the slot: B must not reach the replica, now or later.
        serve_probe.assert_absent("received", tag="B", during=0.5)
        serve_probe.record("release", tag="A")
        a_response = a.result(timeout=CLIENT_TIMEOUT_S)
        c_received = serve_probe.wait_for("received", tag="C", timeout=10)
        c_response = c.result(timeout=CLIENT_TIMEOUT_S)

    assert a_response.status_code == 200 and a_response.text == "A"
    assert c_response.status_code == 200 and c_response.text == "C"
    a_finished = serve_probe.events("finished", tag="A")[0]
    serve_observe.record(
        "next request started after the slot freed",
        c_received.t - a_finished.t,
        "s",
        expected="after A finished (≥ 0 s); B, whose client left, never",
        key=True,
    )
    assert a_finished.t <= c_received.t, "C ran while A held the only slot"
    serve_probe.assert_absent("received", tag="B", during=1.0)
    serve_observe.record(
        "requests whose client left that reached the replica",
        len(serve_probe.events("received", tag="B")),
        "",
        expected="0",
    )


# -- CAN-4 ------------------------------------------------------------------------------


@pytest.mark.clause("CAN-4")
@pytest.mark.parametrize("kind", ["async-def", "def"])
def test_can_4_handler_without_await_runs_to_completion(serve, serve_app, serve_probe, serve_observe, kind) -> None:
    """A handler that blocks in `time.sleep(2)` (in an `async def`, and in a plain `def`)
    with no `await` left: its client leaves after 1 s, yet the handler records "finished"
    after the client left and 2 s after it started. With `max_ongoing_requests=1`, a
    request sent afterwards is still answered 200 (the finished request freed its slot)."""
    block_s = 2.0

    @serve.deployment(max_ongoing_requests=1)
    class AsyncBusy:
        def __init__(self, probe):
            self.probe = probe

        async def __call__(self, request):
            tag = request.query_params["tag"]
            self.probe.record("received", tag=tag)
            time.sleep(float(request.query_params["block"]))
            self.probe.record("finished", tag=tag)
            return tag

    @serve.deployment(max_ongoing_requests=1)
    class SyncBusy:
        def __init__(self, probe):
            self.probe = probe

        def __call__(self, request):
            tag = request.query_params["tag"]
            self.probe.record("received", tag=tag)
            time.sleep(float(request.query_params["block"]))
            self.probe.record("finished", tag=tag)
            return tag

    deployment = AsyncBusy if kind == "async-def" else SyncBusy
    app = serve_app(deployment.bind(serve_probe))
    warm = _get(_url(app, tag="warm", block=0))
    assert warm.status_code == 200 and warm.text == "warm"

    departure, received = _leave(serve_probe, app, "left", block=block_s)
    finished = serve_probe.wait_for("finished", tag="left", timeout=block_s + REACT_S)
    serve_observe.record(
        "handler without await ran for",
        finished.t - received.t,
        "s",
        expected=f"its full {block_s:g} s, finishing after the client left",
    )
    assert finished.t > departure.left_at
    assert finished.t - received.t >= block_s * 0.95

    after = _get(_url(app, tag="after", block=0), timeout=10)
    assert after.status_code == 200 and after.text == "after"


# -- CAN-5 ------------------------------------------------------------------------------


def _handle_chain(serve, probe, *, shield):
    """Ingress → `self.down.work.remote(tag, wait)`, awaited plainly or in `asyncio.shield`.

    The downstream records down_received / down_cancelled / down_finished; the ingress
    records received / cancelled. Defined in a function so the classes travel by value.
    """

    @serve.deployment
    class Down:
        def __init__(self, probe):
            self.probe = probe

        async def work(self, tag, wait):
            self.probe.record("down_received", tag=tag)
            try:
                await asyncio.sleep(wait)
            except asyncio.CancelledError:
                self.probe.record("down_cancelled", tag=tag)
                raise
            self.probe.record("down_finished", tag=tag)
            return f"down {tag}"

    @serve.deployment
    class Ingress:
        def __init__(self, down, probe):
            self.down = down
            self.probe = probe

        async def __call__(self, request):
            tag = request.query_params["tag"]
            self.probe.record("received", tag=tag)
            call = self.down.work.remote(tag, float(request.query_params["wait"]))
            try:
                return await (asyncio.shield(call) if shield else call)
            except asyncio.CancelledError:
                self.probe.record("cancelled", tag=tag)
                raise

    return Ingress.bind(Down.bind(probe), probe)


@pytest.mark.clause("CAN-5")
def test_can_5_cancellation_cascades_to_handle_calls(serve, serve_app, serve_probe, serve_observe) -> None:
    """The ingress awaits `self.down.work.remote(...)`; the downstream awaits 30 s. When the
    client leaves after 1 s, the downstream handler records "cancelled" (its own
    `except asyncio.CancelledError`) within a few seconds and never finishes. A request
    without a disconnect goes through the same chain with 200."""

    app = serve_app(_handle_chain(serve, serve_probe, shield=False))
    warm = _get(_url(app, tag="warm", wait=0))
    assert warm.status_code == 200 and warm.text == "down warm"

    departure, _ = _leave(serve_probe, app, "gone", wait=FOREVER_S)
    down_received = serve_probe.events("down_received", tag="gone")
    assert down_received and down_received[0].t < departure.left_at, (
        "the downstream call had not started when the client left"
    )
    down_cancelled = serve_probe.wait_for("down_cancelled", tag="gone", timeout=REACT_S)
    serve_observe.record(
        "downstream CancelledError after disconnect",
        down_cancelled.t - departure.left_at,
        "s",
        expected=f"within {REACT_S:g} s",
    )
    assert not serve_probe.events("down_finished", tag="gone")


# -- CAN-6 ------------------------------------------------------------------------------


@pytest.mark.clause("CAN-6")
def test_can_6_shield_protects_inner_coroutine(serve, serve_app, serve_probe, serve_observe) -> None:
    """The guide's SnoringSleeper: `__call__` awaits `asyncio.shield(self.snore())`, and
    `snore()` sleeps 3 s then records "ZZZ". The client leaves after 1 s: the outer
    handler records "cancelled", and later the inner coroutine still records "ZZZ",
    after its full 3 s (order: received, cancelled, ZZZ)."""
    snore_s = 3.0

    @serve.deployment
    class SnoringSleeper:
        def __init__(self, probe):
            self.probe = probe

        async def snore(self, tag, wait):
            await asyncio.sleep(wait)
            self.probe.record("ZZZ", tag=tag)

        async def __call__(self, request):
            tag = request.query_params["tag"]
            try:
                self.probe.record("received", tag=tag)
                # Prevent the snore() method from being cancelled
                await asyncio.shield(self.snore(tag, float(request.query_params["wait"])))
            except asyncio.CancelledError:
                self.probe.record("cancelled", tag=tag)

    app = serve_app(SnoringSleeper.bind(serve_probe))
    warm = _get(_url(app, tag="warm", wait=0))
    assert warm.status_code == 200
    serve_probe.wait_for("ZZZ", tag="warm", timeout=REACT_S)

    departure, received = _leave(serve_probe, app, "gone", wait=snore_s)
    cancelled = serve_probe.wait_for("cancelled", tag="gone", timeout=REACT_S)
    zzz = serve_probe.wait_for("ZZZ", tag="gone", timeout=snore_s + REACT_S)
    serve_observe.record(
        "shielded coroutine completed",
        100 * (zzz.t - received.t) / snore_s,
        "% of its sleep",
        expected=f"100 % of its {snore_s:g} s",
        key=True,
    )
    serve_observe.record(
        "CancelledError after disconnect", cancelled.t - departure.left_at, "s", expected=f"within {REACT_S:g} s"
    )
    assert received.t < cancelled.t < zzz.t, f"expected received < cancelled < ZZZ, got {received}, {cancelled}, {zzz}"
    assert zzz.t - received.t >= snore_s * 0.95, "snore() did not sleep its full time"
    assert cancelled.t - departure.left_at < REACT_S


# -- CAN-7 ------------------------------------------------------------------------------


@pytest.mark.clause("CAN-7")
def test_can_7_shield_does_not_protect_handle_call(serve, serve_app, serve_probe, serve_observe) -> None:
    """The ingress awaits `asyncio.shield(self.down.work.remote(...))`; the downstream awaits
    3 s. The client leaves after 1 s: the downstream still records "cancelled" and never
    "down_finished", watched until well past the end of its 3 s."""
    work_s = 3.0

    app = serve_app(_handle_chain(serve, serve_probe, shield=True))
    warm = _get(_url(app, tag="warm", wait=0))
    assert warm.status_code == 200 and warm.text == "down warm"

    departure, _ = _leave(serve_probe, app, "gone", wait=work_s)
    down_received = serve_probe.events("down_received", tag="gone")
    assert down_received and down_received[0].t < departure.left_at, (
        "the downstream call had not started when the client left"
    )
    down_cancelled = serve_probe.wait_for("down_cancelled", tag="gone", timeout=REACT_S)
    serve_observe.record(
        "downstream CancelledError after disconnect",
        down_cancelled.t - departure.left_at,
        "s",
        expected=f"within {REACT_S:g} s, shield or not",
    )
    # Watch until 1.5 s past the moment the downstream would have finished.
    remaining = down_received[0].t + work_s + 1.5 - serve_probe.now()
    serve_probe.assert_absent("down_finished", tag="gone", during=max(remaining, 0.0))
