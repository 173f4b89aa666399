"""`DeploymentHandle` and `DeploymentResponse`: calling deployments from Python.

A call starts at `.remote()`. Made while a replica serves a request, it is
registered with that request, so cancelling the request cancels the call too,
whether or not the caller wrapped it in `asyncio.shield` (CAN-5, CAN-7).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .context import current_request, new_request_id
from .exceptions import RayServeException, RequestCancelledError, ServeNotRunningError
from .runtime.channel import Channel
from .runtime.loops import wait_threadsafe
from .runtime.streaming import END

if TYPE_CHECKING:
    from .runtime.replica import Replica, ReplicaCall
    from .runtime.router import Router

__all__ = ["DeploymentHandle", "DeploymentResponse", "DeploymentResponseGenerator"]


@dataclass(frozen=True)
class _CallOptions:
    method_name: str = "__call__"
    multiplexed_model_id: str = ""
    stream: bool = False


class DeploymentHandle:
    """Calls one deployment: `handle.remote(...)`, `handle.method.remote(...)`."""

    def __init__(
        self,
        deployment_name: str,
        app_name: str,
        router: Router[Replica],
        driver_loop: Callable[[], asyncio.AbstractEventLoop],
        options: _CallOptions = _CallOptions(),
    ) -> None:
        self.deployment_name = deployment_name
        self.app_name = app_name
        self._router = router
        self._driver_loop = driver_loop
        self._options = options

    def options(
        self,
        *,
        method_name: str | None = None,
        multiplexed_model_id: str | None = None,
        stream: bool | None = None,
        session_id: str | None = None,
        _prefer_local_routing: bool | None = None,
        _by_reference: bool | None = None,
        request_serialization: str | None = None,
        response_serialization: str | None = None,
    ) -> DeploymentHandle:
        """A copy with other call options; options left out keep their value.

        `method_name`, `multiplexed_model_id` and `stream` change the call; the
        others are accepted as Ray accepts them and change nothing in one process.
        """
        changes: dict[str, Any] = {}
        if method_name is not None:
            changes["method_name"] = method_name
        if multiplexed_model_id is not None:
            changes["multiplexed_model_id"] = multiplexed_model_id
        if stream is not None:
            changes["stream"] = bool(stream)
        return DeploymentHandle(
            self.deployment_name,
            self.app_name,
            self._router,
            self._driver_loop,
            replace(self._options, **changes),
        )

    def __getattr__(self, name: str) -> DeploymentHandle:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self.options(method_name=name)

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        """Start the call: a `DeploymentResponse`, or with `stream=True` a
        `DeploymentResponseGenerator`."""
        if self._options.stream:
            return DeploymentResponseGenerator(self._router, self._options, args, kwargs, self._driver_loop)
        return DeploymentResponse(self._router, self._options, args, kwargs, self._driver_loop)

    def __repr__(self) -> str:
        return f"DeploymentHandle(deployment='{self.deployment_name}')"


class DeploymentResponse:
    """The future result of a handle call: `await` it, or `.result()` from sync code."""

    def __init__(
        self,
        router: Router[Replica],
        options: _CallOptions,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        driver_loop: Callable[[], asyncio.AbstractEventLoop],
        stream: Channel[Any] | None = None,
    ) -> None:
        parent = current_request.get()
        # As Ray: a call made while serving a request carries that request's ID.
        self.request_id = parent.request_id if parent is not None and parent.request_id else new_request_id()
        self._router = router
        self._options = options
        self._stream = stream
        self._call: ReplicaCall | None = None
        self._cancelled = False
        self._task: asyncio.Task[Any] | None = None
        self._detached: asyncio.Task[Any] | None = None
        self._done: concurrent.futures.Future[Any] = concurrent.futures.Future()
        if parent is not None:
            parent.children.add(self)
            self._done.add_done_callback(lambda _: parent.children.discard(self))
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            self._loop = loop
            # As Ray, whose router assigns the call at once: a call made from a running
            # loop reaches a free replica now, not when the caller next yields.
            self._task = loop.create_task(self._execute(args, kwargs, self._start_now(args, kwargs)))
            self._task.add_done_callback(self._copy_outcome)
        else:
            coro = self._execute(args, kwargs)
            self._loop = driver_loop()
            detached = self._run_detached(coro)
            try:
                asyncio.run_coroutine_threadsafe(detached, self._loop)
            except RuntimeError:  # the driver loop is closed: Serve was shut down
                detached.close()
                coro.close()
                raise ServeNotRunningError(
                    "Serve is not running (it was shut down); this handle can no longer "
                    "be called. Deploy again and get a new handle."
                ) from None

    async def _run_detached(self, coro: Any) -> None:
        # NOTE: kept apart from `_task`, which `_await` may await directly: this task
        # returns nothing, the outcome goes to `_done`.
        self._detached = asyncio.current_task()
        if self._cancelled:
            coro.close()
            self._done.set_exception(RequestCancelledError(self.request_id))
            return
        try:
            self._done.set_result(await coro)
        except asyncio.CancelledError:
            self._done.set_exception(RequestCancelledError(self.request_id))
        except BaseException as exc:
            self._done.set_exception(exc)

    def _copy_outcome(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            # NOTE: a task cancelled before its first step never ran `_execute`'s
            # handler, yet its call may already be on a replica (`_start_now`).
            if self._call is not None:
                self._call.cancel()
            self._done.set_exception(RequestCancelledError(self.request_id))
        elif (exc := task.exception()) is not None:
            self._done.set_exception(exc)
        else:
            self._done.set_result(task.result())

    def _start_now(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> ReplicaCall | None:
        """Submit the call now if nothing needs awaiting first (no response among the
        arguments, a free replica); otherwise None, and `_execute` goes the long way, so
        errors still surface where the response is awaited."""
        if any(_contains_response(value) for value in (*args, *kwargs.values())):
            return None
        try:
            slot = self._router.try_assign(self._options.multiplexed_model_id)
        except Exception:
            return None
        return None if slot is None else self._submit(slot, args, kwargs)

    def _submit(self, slot: Replica, args: tuple[Any, ...], kwargs: dict[str, Any]) -> ReplicaCall:
        router = self._router
        options = self._options
        self._call = slot.submit_method(
            options.method_name,
            args,
            kwargs,
            self.request_id,
            lambda: router.release(slot),
            multiplexed_model_id=options.multiplexed_model_id,
            stream=self._stream,
        )
        return self._call

    async def _execute(self, args: tuple[Any, ...], kwargs: dict[str, Any], started: ReplicaCall | None = None) -> Any:
        call = started
        if call is None:
            _refuse_nested_responses(args, kwargs)
            args = tuple([await _resolve(a) for a in args])
            kwargs = {k: await _resolve(v) for k, v in kwargs.items()}
            model_id = self._options.multiplexed_model_id
            slot = self._router.try_assign(model_id) or await self._router.assign(model_id)
            call = self._submit(slot, args, kwargs)
        try:
            return await wait_threadsafe(call.future)
        except asyncio.CancelledError:
            call.cancel()
            raise

    def cancel(self) -> None:
        """Cancel the call (and what it called in turn); safe from any thread."""
        if self._done.done():
            return
        self._cancelled = True
        try:
            self._loop.call_soon_threadsafe(self._cancel_here)
        except RuntimeError:
            pass

    def _cancel_here(self) -> None:
        task = self._task or self._detached
        if task is not None:
            task.cancel()
        elif self._call is not None:
            self._call.cancel()

    def result(self, timeout_s: float | None = None) -> Any:
        """Block until the result is there (not from inside an event loop)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError(
                "Sync methods should not be called from within an `asyncio` event loop. Use `await response` instead."
            )
        try:
            return self._done.result(timeout_s)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(f"No result for request {self.request_id} within {timeout_s} s") from None

    def __await__(self) -> Generator[Any, None, Any]:
        return self._await().__await__()

    async def _await(self) -> Any:
        task = self._task
        if task is not None and task.get_loop() is asyncio.get_running_loop():
            try:
                return await task
            except asyncio.CancelledError:
                # NOTE: when the awaiting task is itself being cancelled (its client left),
                # the CancelledError is its own and must reach the handler (CAN-2), even
                # though cancelling the request also cancelled this child call.
                if task.cancelled() and self._cancelled and not _being_cancelled():
                    raise RequestCancelledError(self.request_id) from None
                raise
        return await wait_threadsafe(self._done)


class DeploymentResponseGenerator:
    """The items of a streaming call (`handle.options(stream=True)`), in order:
    `async for` inside deployments, `for` from plain code; `.cancel()` stops the
    generator on the replica, and the next item read raises `RequestCancelledError`."""

    def __init__(
        self,
        router: Router[Replica],
        options: _CallOptions,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        driver_loop: Callable[[], asyncio.AbstractEventLoop],
    ) -> None:
        self._channel: Channel[Any] = Channel()
        self._response = DeploymentResponse(router, options, args, kwargs, driver_loop, stream=self._channel)
        # The call may end before reaching a replica (cancelled, no replica): the
        # reader still gets its END, then the call's error.
        self._response._done.add_done_callback(lambda _: self._channel.put(END))
        self._finished = False

    @property
    def request_id(self) -> str:
        return self._response.request_id

    def cancel(self) -> None:
        self._response.cancel()

    def __aiter__(self) -> DeploymentResponseGenerator:
        return self

    async def __anext__(self) -> Any:
        if self._finished:
            raise StopAsyncIteration
        item = await self._channel.get()
        if item is END:
            self._finished = True
            await self._response  # raises what the call raised
            raise StopAsyncIteration
        return item

    def __iter__(self) -> DeploymentResponseGenerator:
        return self

    def __next__(self) -> Any:
        if _in_event_loop():
            raise RuntimeError(
                "Sync methods should not be called from within an `asyncio` event loop. "
                "Use `async for` or `await response.__anext__()` instead."
            )
        future = asyncio.run_coroutine_threadsafe(self._next_or_end(), self._response._loop)
        item = future.result()
        if item is END:
            raise StopIteration
        return item

    async def _next_or_end(self) -> Any:
        try:
            return await self.__anext__()
        except StopAsyncIteration:
            return END

    def __await__(self) -> Generator[Any, None, Any]:
        raise TypeError(
            "`DeploymentResponseGenerator` cannot be awaited directly. Use `async for` "
            "or `await response.__anext__() instead`."
        )

    def result(self, *, timeout_s: float | None = None, _skip_asyncio_check: bool = False) -> Any:
        raise TypeError(
            "`DeploymentResponseGenerator` doesn't support `.result()`. "
            "Use iteration instead: `for item in response` (outside deployments) "
            "or `async for item in response` (inside deployments)."
        )


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


_NESTED_RESPONSE = (
    "`DeploymentResponse` is not serializable. If you are passing the "
    "`DeploymentResponse` in a nested object (e.g. a list or dictionary) to a "
    "downstream deployment handle call, that is no longer supported. Please "
    "only pass `DeploymentResponse` objects as top level arguments."
)


def _refuse_nested_responses(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Ray resolves top-level `DeploymentResponse` arguments only; one inside a
    container fails when Ray serializes the arguments, with this message."""
    for value in (*args, *kwargs.values()):
        if not isinstance(value, DeploymentResponse) and _contains_response(value):
            raise RayServeException(_NESTED_RESPONSE)


def _contains_response(value: Any, depth: int = 0) -> bool:
    if isinstance(value, DeploymentResponse | DeploymentResponseGenerator):
        return True
    if depth > 8:
        return False
    if isinstance(value, list | tuple | set | frozenset):
        return any(_contains_response(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return any(_contains_response(v, depth + 1) for v in value.values())
    return False


async def _resolve(value: Any) -> Any:
    """Ray passes results, not responses: await `DeploymentResponse` arguments first."""
    return await value if isinstance(value, DeploymentResponse) else value


def _being_cancelled() -> bool:
    """Whether the running task has a cancellation pending (Python 3.11+; else False)."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return cancelling is not None and cancelling() > 0
