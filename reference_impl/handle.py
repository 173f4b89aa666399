"""`DeploymentHandle` and `DeploymentResponse`: calling deployments from Python.

A call starts at `.remote()`. Made while a replica serves a request, it is
registered with that request, so cancelling the request cancels the call too,
whether or not the caller wrapped it in `asyncio.shield` (CAN-5, CAN-7).

Arguments cross to the replica as copies (serialization.py), after top-level
`DeploymentResponse`s among them are resolved; an argument that cannot be pickled
fails the call with Ray's `TypeError` when its result is read. Handles themselves
travel by reference, as Ray's do.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import random
import string
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar

from .context import DeploymentID, current_request, new_request_id
from .exceptions import RayServeException, RequestCancelledError, ServeNotRunningError
from .ray_exceptions import GetTimeoutError
from .runtime.channel import Channel
from .runtime.loops import wait_threadsafe
from .runtime.streaming import END
from .serialization import by_reference, copy_value
from .unavailable import ray_names_getattr, unavailable

if TYPE_CHECKING:
    from .runtime.replica import Replica, ReplicaCall
    from .runtime.router import Router

__all__ = ["DeploymentBroadcastResponse", "DeploymentHandle", "DeploymentResponse", "DeploymentResponseGenerator"]

T = TypeVar("T")


@dataclass(frozen=True)
class _CallOptions:
    method_name: str = "__call__"
    multiplexed_model_id: str = ""
    stream: bool = False


def _new_handle_id() -> str:
    """Ray's handle IDs: 8 random lowercase letters and digits."""
    return "".join(random.choices(string.ascii_lowercase + string.digits, k=8))


class DeploymentHandle(Generic[T]):
    """Calls one deployment: `handle.remote(...)`, `handle.method.remote(...)`."""

    def __init__(
        self,
        deployment_name: str,
        app_name: str,
        router: Router[Replica],
        driver_loop: Callable[[], asyncio.AbstractEventLoop],
        options: _CallOptions = _CallOptions(),
        handle_id: str | None = None,
        initialized: bool = False,
    ) -> None:
        self.deployment_id = DeploymentID(deployment_name, app_name)
        self.handle_id = handle_id or _new_handle_id()
        self._router = router
        self._driver_loop = driver_loop
        self._options = options
        self._initialized = initialized

    @property
    def deployment_name(self) -> str:
        return self.deployment_id.name

    @property
    def app_name(self) -> str:
        return self.deployment_id.app_name

    @property
    def is_initialized(self) -> bool:
        """As Ray's: False until the handle is first used (`.options()`, `.remote()`, a
        method attribute), which initializes it."""
        return self._initialized

    def running_replicas_populated(self) -> bool:
        """Whether the handle knows running replicas: once it was used, as on Ray."""
        return self._initialized and bool(self._router.replicas)

    def shutdown(self) -> None:
        """Release what the handle holds (nothing here: its router is the deployment's)."""

    async def shutdown_async(self) -> None:
        """`shutdown()`, awaitable."""

    def choose_replica(self, *args: Any, **kwargs: Any) -> NoReturn:
        unavailable("DeploymentHandle.choose_replica")

    def dispatch(self, *args: Any, **kwargs: Any) -> NoReturn:
        unavailable("DeploymentHandle.dispatch")

    def broadcast(self, method_name: str, *args: Any, **kwargs: Any) -> DeploymentBroadcastResponse:
        """Call `method_name` on every running replica of the deployment."""
        self._initialized = True
        options = replace(self._options, method_name=method_name, stream=False)
        responses: list[DeploymentResponse[Any]] = [
            DeploymentResponse(self._router, options, args, kwargs, self._driver_loop, replica=replica)
            for replica in self._router.replicas
        ]
        return DeploymentBroadcastResponse(responses)

    def __reduce__(self) -> Any:
        return by_reference(self)

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
    ) -> DeploymentHandle[T]:
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
        self._initialized = True
        return DeploymentHandle(
            self.deployment_name,
            self.app_name,
            self._router,
            self._driver_loop,
            replace(self._options, **changes),
            self.handle_id,
            initialized=True,
        )

    def __getattr__(self, name: str) -> DeploymentHandle[T]:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self.options(method_name=name)

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        """Start the call: a `DeploymentResponse`, or with `stream=True` a
        `DeploymentResponseGenerator`."""
        self._initialized = True
        if self._options.stream:
            return DeploymentResponseGenerator(self._router, self._options, args, kwargs, self._driver_loop)
        return DeploymentResponse(self._router, self._options, args, kwargs, self._driver_loop)

    def __repr__(self) -> str:
        return f"DeploymentHandle(deployment='{self.deployment_name}')"


class DeploymentResponse(Generic[T]):
    """The future result of a handle call: `await` it, or `.result()` from sync code."""

    def __init__(
        self,
        router: Router[Replica],
        options: _CallOptions,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        driver_loop: Callable[[], asyncio.AbstractEventLoop],
        stream: Channel[Any] | None = None,
        replica: Replica | None = None,
    ) -> None:
        parent = current_request.get()
        # As Ray: a call made while serving a request carries that request's ID.
        self.request_id = parent.request_id if parent is not None and parent.request_id else new_request_id()
        self._router = router
        self._options = options
        self._stream = stream
        self._replica = replica  # a broadcast's: this replica, whether busy or not
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
        arguments, arguments that copy, a free replica); otherwise None, and `_execute`
        goes the long way, so errors still surface where the response is awaited."""
        if self._replica is not None or any(isinstance(v, DeploymentResponse) for v in (*args, *kwargs.values())):
            return None
        try:
            slot = self._router.try_assign(self._options.multiplexed_model_id)
        except Exception:
            return None
        if slot is None:
            return None  # no copy yet: `_execute` makes it once a slot frees
        try:
            copied = self._copy_arguments(args, kwargs)
        except Exception:
            self._router.release(slot)
            return None
        return self._submit(slot, *copied)

    def _copy_arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The arguments as the replica gets them: copies, one argument at a time (as Ray
        puts each in its object store), with Ray's TypeError for one that cannot be pickled."""
        return tuple([self._copy_argument(a) for a in args]), {k: self._copy_argument(v) for k, v in kwargs.items()}

    def _copy_argument(self, value: Any) -> Any:
        try:
            return copy_value(value)
        except TypeError as err:
            raise TypeError(
                f"Could not serialize the argument {value!r} for a task or actor "
                f"ray.serve._private.replica.ServeReplica:{self._router_app()}.handle_request_with_rejection: "
                f"{err}"
            ) from err

    def _router_app(self) -> str:
        replicas = self._router.replicas
        return f"{replicas[0].app_name}:{replicas[0].deployment.name}" if replicas else "?"

    def _submit(self, slot: Replica, args: tuple[Any, ...], kwargs: dict[str, Any]) -> ReplicaCall:
        router = self._router
        options = self._options
        release = (lambda: None) if self._replica is not None else (lambda: router.release(slot))
        self._call = slot.submit_method(
            options.method_name,
            args,
            kwargs,
            self.request_id,
            release,
            multiplexed_model_id=options.multiplexed_model_id,
            stream=self._stream,
        )
        return self._call

    async def _execute(self, args: tuple[Any, ...], kwargs: dict[str, Any], started: ReplicaCall | None = None) -> Any:
        call = started
        if call is None:
            args = tuple([await _resolve(a) for a in args])
            kwargs = {k: await _resolve(v) for k, v in kwargs.items()}
            copied = self._copy_arguments(args, kwargs)
            model_id = self._options.multiplexed_model_id
            slot = self._replica or self._router.try_assign(model_id) or await self._router.assign(model_id)
            call = self._submit(slot, *copied)
        try:
            return await wait_threadsafe(call.future)
        except asyncio.CancelledError:
            call.cancel()
            raise

    @property
    def by_reference(self) -> bool:
        """Ray 2.60 passes results by reference by default; the value is the same here."""
        return True

    def cancelled(self) -> bool:
        """Whether `cancel()` was called (also after the call had finished), as on Ray."""
        return self._cancelled

    def _to_object_ref(self, *args: Any, **kwargs: Any) -> NoReturn:
        unavailable("DeploymentResponse._to_object_ref (an ObjectRef of Ray Core)")

    def _to_object_ref_sync(self, *args: Any, **kwargs: Any) -> NoReturn:
        unavailable("DeploymentResponse._to_object_ref_sync (an ObjectRef of Ray Core)")

    def __reduce__(self) -> NoReturn:
        # Reached for a response nested in an argument (top-level ones are resolved first).
        raise RayServeException(_NESTED_RESPONSE)

    def cancel(self) -> None:
        """Cancel the call (and what it called in turn); safe from any thread."""
        self._cancelled = True
        if self._done.done():
            return
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
            # As Ray: still waiting for a replica, or for the replica's result.
            if self._call is None:
                raise TimeoutError("Timed out resolving to ObjectRef.") from None
            raise GetTimeoutError("Get timed out: some object(s) not ready.") from None

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


class DeploymentResponseGenerator(Generic[T]):
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
        self._response: DeploymentResponse[T] = DeploymentResponse(
            router, options, args, kwargs, driver_loop, stream=self._channel
        )
        # The call may end before reaching a replica (cancelled, no replica): the
        # reader still gets its END, then the call's error.
        self._response._done.add_done_callback(lambda _: self._channel.put(END))
        self._finished = False

    @property
    def request_id(self) -> str:
        return self._response.request_id

    def cancel(self) -> None:
        self._response.cancel()

    def cancelled(self) -> bool:
        return self._response.cancelled()

    @property
    def by_reference(self) -> bool:
        return True

    def _to_object_ref_gen(self, *args: Any, **kwargs: Any) -> NoReturn:
        unavailable("DeploymentResponseGenerator._to_object_ref_gen (ObjectRefs of Ray Core)")

    def _to_object_ref_gen_sync(self, *args: Any, **kwargs: Any) -> NoReturn:
        unavailable("DeploymentResponseGenerator._to_object_ref_gen_sync (ObjectRefs of Ray Core)")

    def __reduce__(self) -> NoReturn:
        raise RuntimeError(
            "Streaming deployment handle results cannot be passed to downstream handle calls. "
            "If you have a use case requiring this feature, please file a feature request on GitHub."
        )

    def __aiter__(self) -> DeploymentResponseGenerator[T]:
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

    def __iter__(self) -> DeploymentResponseGenerator[T]:
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


async def _resolve(value: Any) -> Any:
    """Ray passes results, not responses: await `DeploymentResponse` arguments first."""
    return await value if isinstance(value, DeploymentResponse) else value


def _being_cancelled() -> bool:
    """Whether the running task has a cancellation pending (Python 3.11+; else False)."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return cancelling is not None and cancelling() > 0


class DeploymentBroadcastResponse:
    """The responses of one `broadcast()` call, one per replica."""

    def __init__(self, responses: list[DeploymentResponse[Any]]) -> None:
        self._responses = responses

    def results(self, timeout_s: float | None = None) -> list[Any]:
        """Every replica's result, in replica order."""
        return [r.result(timeout_s) for r in self._responses]

    async def results_async(self) -> list[Any]:
        return [await r for r in self._responses]

    def __repr__(self) -> str:
        return "DeploymentBroadcastResponse()"


# Ray's names this module lacks: importing them works, using them says to run on Ray
# (hidden from type checkers, which would otherwise accept any name from this module).
if not TYPE_CHECKING:
    __getattr__ = ray_names_getattr("ray.serve.handle")
