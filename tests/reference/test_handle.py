"""handle.py: DeploymentHandle calls, composition, responses as arguments, cancellation."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import warnings
from typing import Any

import httpx
import pytest
from starlette.requests import Request

from reference_impl import serve
from reference_impl.exceptions import RayServeException, RequestCancelledError, ServeError
from reference_impl.handle import DeploymentHandle, DeploymentResponse
from reference_impl.instance import ServeInstance
from reference_impl.serialization import by_reference

RESULT_TIMEOUT_S = 5.0


class Gate:
    """Events and a log a test shares with a replica. Handle arguments arrive as copies
    (as on Ray); a gate pickles to itself, so both sides hold the same one."""

    def __init__(self) -> None:
        self.started, self.release = threading.Event(), threading.Event()
        self.log: list[str] = []

    def __reduce__(self) -> Any:
        return by_reference(self)


@serve.deployment
class Down:
    def __call__(self, x: Any = None) -> str:
        return f"down:{x}"

    def double(self, x: int) -> int:
        return 2 * x

    def echo(self, x: Any) -> Any:
        return x

    async def block(self, gate: Gate) -> str:
        gate.started.set()
        try:
            await asyncio.to_thread(gate.release.wait, RESULT_TIMEOUT_S)
        except asyncio.CancelledError:
            gate.log.append("cancelled")
            raise
        return "released"


@serve.deployment
class Up:
    def __init__(self, down: DeploymentHandle) -> None:
        self.down = down
        self.down_type = type(down).__name__

    async def __call__(self, request: Request) -> dict[str, Any]:
        return {
            "down_type": self.down_type,
            "call": await self.down.remote("up"),
            "chained": await self.down.double.remote(self.down.double.remote(2)),
        }


@pytest.fixture
def down(instance: ServeInstance) -> DeploymentHandle:
    """Function scope, `DeploymentHandle`: Down deployed as app 'down' with no route."""
    return serve.run(Down.bind(), name="down", route_prefix=None)


def test_run_returns_the_ingress_handle(down: DeploymentHandle) -> None:
    """serve.run returns a DeploymentHandle of the ingress deployment."""
    assert isinstance(down, DeploymentHandle)
    assert (down.deployment_name, down.app_name) == ("Down", "down")


def test_remote_result_from_sync_code(down: DeploymentHandle) -> None:
    """handle.remote(x).result(timeout_s=...) returns __call__'s value."""
    response = down.remote(7)
    assert isinstance(response, DeploymentResponse)
    assert response.result(timeout_s=RESULT_TIMEOUT_S) == "down:7"


def test_method_by_attribute_and_by_options(down: DeploymentHandle) -> None:
    """handle.method.remote() and handle.options(method_name=...) call that method."""
    assert down.double.remote(4).result(timeout_s=RESULT_TIMEOUT_S) == 8
    assert down.options(method_name="double").remote(5).result(timeout_s=RESULT_TIMEOUT_S) == 10


def test_unknown_method_raises_serve_exception(down: DeploymentHandle) -> None:
    """Calling a method the deployment lacks fails with Ray's error naming it and the
    methods there are."""
    with pytest.raises(RayServeException, match=r"method 'nope' that does not exist\. Available methods: \['block', "):
        down.nope.remote().result(timeout_s=RESULT_TIMEOUT_S)


def test_result_timeout(down: DeploymentHandle) -> None:
    """result(timeout_s) raises TimeoutError when the call takes longer; it still finishes."""
    gate = Gate()
    started, release = gate.started, gate.release
    response = down.block.remote(gate)
    assert started.wait(RESULT_TIMEOUT_S)
    with pytest.raises(TimeoutError, match="Get timed out: some object"):  # Ray's GetTimeoutError
        response.result(timeout_s=0.05)
    release.set()
    assert response.result(timeout_s=RESULT_TIMEOUT_S) == "released"


def test_bound_application_argument_becomes_a_handle(http: httpx.Client) -> None:
    """A bound Application argument arrives as a DeploymentHandle the replica can await."""
    serve.run(Up.bind(Down.bind()), name="up", route_prefix="/up")
    assert http.get("/up").json() == {
        "down_type": "DeploymentHandle",
        "call": "down:up",
        "chained": 8,
    }


def test_response_argument_is_resolved_from_sync_code(down: DeploymentHandle) -> None:
    """A DeploymentResponse passed as an argument from sync code arrives as its value."""
    assert down.echo.remote(down.double.remote(3)).result(timeout_s=RESULT_TIMEOUT_S) == 6


def test_response_argument_is_resolved_in_async_code(down: DeploymentHandle) -> None:
    """Inside a running loop, a DeploymentResponse argument arrives as its value."""

    async def chain() -> Any:
        return await down.echo.remote(down.double.remote(3))

    assert asyncio.run(asyncio.wait_for(chain(), RESULT_TIMEOUT_S)) == 6


def test_result_inside_a_running_loop_raises(down: DeploymentHandle) -> None:
    """.result() inside an event loop raises the RuntimeError that says to await instead."""

    async def misuse() -> Any:
        response = down.remote(1)
        with pytest.raises(RuntimeError) as info:
            response.result(timeout_s=RESULT_TIMEOUT_S)
        assert str(info.value) == (
            "Sync methods should not be called from within an `asyncio` event loop. Use `await response` instead."
        )
        return await response

    assert asyncio.run(asyncio.wait_for(misuse(), RESULT_TIMEOUT_S)) == "down:1"


def test_cancel_raises_request_cancelled_error(down: DeploymentHandle) -> None:
    """cancel() cancels the running call: result() raises RequestCancelledError naming it."""
    gate = Gate()
    started, release, log = gate.started, gate.release, gate.log
    response = down.block.remote(gate)
    assert started.wait(RESULT_TIMEOUT_S)
    response.cancel()
    with pytest.raises(RequestCancelledError) as info:
        response.result(timeout_s=RESULT_TIMEOUT_S)
    assert str(info.value) == f"Request {response.request_id} was cancelled."
    release.set()
    assert down.remote(2).result(timeout_s=RESULT_TIMEOUT_S) == "down:2"
    assert log == ["cancelled"]


def test_cancel_after_completion_is_a_no_op(down: DeploymentHandle) -> None:
    """cancel() on a finished response leaves its result alone."""
    response = down.remote(3)
    assert response.result(timeout_s=RESULT_TIMEOUT_S) == "down:3"
    response.cancel()
    assert response.result(timeout_s=RESULT_TIMEOUT_S) == "down:3"


def test_call_after_shutdown_fails_cleanly(down: DeploymentHandle) -> None:
    """A handle used after shutdown raises a ServeError and leaves no unawaited coroutine."""
    serve.shutdown()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            down.remote(1).result(timeout_s=RESULT_TIMEOUT_S)
        except Exception as err:  # inspected below, once its traceback is dropped
            error: type[Exception] | None = type(err)
        else:
            error = None
        unawaited = []
        for _ in range(3):  # a warning holds its coroutine, which may hold another one
            gc.collect()
            unawaited += [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
            caught.clear()
    assert error is not None and issubclass(error, ServeError), error
    assert unawaited == []


def test_call_from_a_running_loop_reaches_the_replica_before_the_caller_yields(down: DeploymentHandle) -> None:
    """As Ray's router, which assigns a call as `.remote()` returns: a caller that blocks
    its loop right after `.remote()` still has its call running on the replica. Without
    immediate dispatch the call would start only once the caller awaits."""
    gate = Gate()
    started, release = gate.started, gate.release

    async def call_then_block() -> tuple[bool, str]:
        response = down.block.remote(gate)
        reached = started.wait(RESULT_TIMEOUT_S)  # blocks this loop: no task of it runs
        release.set()
        return reached, await response

    reached, result = asyncio.run(asyncio.wait_for(call_then_block(), 2 * RESULT_TIMEOUT_S))
    assert reached, f"the replica did not see the call within {RESULT_TIMEOUT_S} s while the caller's loop was blocked"
    assert result == "released"


def test_call_dispatched_at_once_is_cancelled_on_the_replica(down: DeploymentHandle) -> None:
    """A call that reached its replica before the caller yielded, then cancelled, has its
    replica-side request cancelled too (not left running until it ends by itself)."""
    gate = Gate()
    started, log = gate.started, gate.log

    async def call_and_cancel() -> None:
        response = down.block.remote(gate)
        assert started.wait(RESULT_TIMEOUT_S), "the call never reached the replica"
        response.cancel()
        with pytest.raises(RequestCancelledError):
            await response

    asyncio.run(asyncio.wait_for(call_and_cancel(), 2 * RESULT_TIMEOUT_S))
    deadline = time.monotonic() + RESULT_TIMEOUT_S
    while not log and time.monotonic() < deadline:
        time.sleep(0.05)
    assert log == ["cancelled"], "the replica's request was not cancelled"


def test_call_cancelled_before_its_first_step_is_cancelled_on_the_replica(down: DeploymentHandle) -> None:
    """The caller is cancelled (its client left) in the same loop iteration that made the
    call: the call already reached the replica, so the replica's request is cancelled too,
    although the caller-side task never ran a step."""
    gate = Gate()
    started, release, log = gate.started, gate.release, gate.log

    async def caller() -> str:
        # Queued ahead of the call's first step, as a cancellation arriving from the
        # proxy while the handler is making the call.
        asyncio.get_running_loop().call_soon(asyncio.current_task().cancel)  # type: ignore[union-attr]
        return await down.block.remote(gate)

    async def main() -> None:
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(caller(), 2 * RESULT_TIMEOUT_S)

    asyncio.run(main())
    # A later call on the same (single) replica returns only after the replica's loop
    # has taken the cancellation: the request was then either dropped or cancelled.
    assert down.remote(1).result(timeout_s=RESULT_TIMEOUT_S) == "down:1"
    deadline = time.monotonic() + RESULT_TIMEOUT_S
    while started.is_set() and not log and time.monotonic() < deadline:
        time.sleep(0.05)
    release.set()
    assert not started.is_set() or log == ["cancelled"], "the replica's request ran on after its caller was cancelled"
