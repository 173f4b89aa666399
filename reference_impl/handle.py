"""`DeploymentHandle` and `DeploymentResponse`: calling deployments from Python.

A call starts at `.remote()`. Made while a replica serves a request, it is
registered with that request, so cancelling the request cancels the call too,
whether or not the caller wrapped it in `asyncio.shield` (CAN-5, CAN-7).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import uuid
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from .exceptions import RequestCancelledError, ServeNotRunningError
from .loops import wait_threadsafe
from .replica import current_request

if TYPE_CHECKING:
    from .replica import Replica, ReplicaCall
    from .router import Router

__all__ = ["DeploymentHandle", "DeploymentResponse"]


class DeploymentHandle:
    """Calls one deployment: `handle.remote(...)`, `handle.method.remote(...)`."""

    def __init__(
        self,
        deployment_name: str,
        app_name: str,
        router: Router[Replica],
        driver_loop: Callable[[], asyncio.AbstractEventLoop],
        method_name: str = "__call__",
    ) -> None:
        self.deployment_name = deployment_name
        self.app_name = app_name
        self._router = router
        self._driver_loop = driver_loop
        self._method_name = method_name

    def options(self, *, method_name: str | None = None, **_ignored: Any) -> DeploymentHandle:
        """A handle with other call options; only `method_name` changes anything here."""
        return DeploymentHandle(
            self.deployment_name,
            self.app_name,
            self._router,
            self._driver_loop,
            method_name or self._method_name,
        )

    def __getattr__(self, name: str) -> DeploymentHandle:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self.options(method_name=name)

    def remote(self, *args: Any, **kwargs: Any) -> DeploymentResponse:
        return DeploymentResponse(self._router, self._method_name, args, kwargs, self._driver_loop)

    def __repr__(self) -> str:
        return (
            f"DeploymentHandle(deployment={self.deployment_name!r}, app={self.app_name!r}, "
            f"method={self._method_name!r})"
        )


class DeploymentResponse:
    """The future result of a handle call: `await` it, or `.result()` from sync code."""

    def __init__(
        self,
        router: Router[Replica],
        method_name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        driver_loop: Callable[[], asyncio.AbstractEventLoop],
    ) -> None:
        self.request_id = uuid.uuid4().hex
        self._router = router
        self._call: ReplicaCall | None = None
        self._cancelled = False
        self._task: asyncio.Task[Any] | None = None
        self._detached: asyncio.Task[Any] | None = None
        self._done: concurrent.futures.Future[Any] = concurrent.futures.Future()
        parent = current_request.get()
        if parent is not None:
            parent.children.add(self)
            self._done.add_done_callback(lambda _: parent.children.discard(self))
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        coro = self._execute(method_name, args, kwargs)
        if loop is not None:
            self._loop = loop
            self._task = loop.create_task(coro)
            self._task.add_done_callback(self._copy_outcome)
        else:
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
            self._done.set_exception(RequestCancelledError(self.request_id))
        elif (exc := task.exception()) is not None:
            self._done.set_exception(exc)
        else:
            self._done.set_result(task.result())

    async def _execute(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        args = tuple([await _resolve(a) for a in args])
        kwargs = {k: await _resolve(v) for k, v in kwargs.items()}
        router = self._router
        slot = router.try_assign() or await router.assign()
        call = slot.submit_method(method, args, kwargs, self.request_id, lambda: router.release(slot))
        self._call = call
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
                "Sync methods should not be called from within an `asyncio` event loop. "
                "Use `await response` instead."
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


async def _resolve(value: Any) -> Any:
    """Ray passes results, not responses: await `DeploymentResponse` arguments first."""
    return await value if isinstance(value, DeploymentResponse) else value


def _being_cancelled() -> bool:
    """Whether the running task has a cancellation pending (Python 3.11+; else False)."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return cancelling is not None and cancelling() > 0
