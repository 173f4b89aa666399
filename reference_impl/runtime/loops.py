"""Event loops that live in their own threads (the proxy's and each replica's)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread", "new_event_loop", "wait_threadsafe"]

T = TypeVar("T")

try:  # uvloop is part of uvicorn[standard]; the plain loop works too, only slower.
    import uvloop

    def new_event_loop() -> asyncio.AbstractEventLoop:
        return uvloop.new_event_loop()

except ImportError:  # pragma: no cover - depends on the platform
    new_event_loop = asyncio.new_event_loop


class LoopThread:
    """An asyncio loop running in a daemon thread until `stop()`.

    `submit()` is the only way in from other threads; `stop()` cancels what is left,
    closes async generators and the default executor, and joins the thread, so a
    stopped LoopThread leaves nothing behind.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.loop = new_event_loop()
        self._stopping: asyncio.Event | None = None
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), name=name, daemon=True)
        self._thread.start()
        started.wait(5.0)

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            # NOTE: a root task (rather than run_forever) lets anyio keep its worker
            # threads for sync routes alive between requests and stop them at the end.
            self.loop.run_until_complete(self._main(started))
        finally:
            self.loop.close()

    async def _main(self, started: threading.Event) -> None:
        self._stopping = asyncio.Event()
        started.set()
        await self._stopping.wait()
        me = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not me]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)
        await self.loop.shutdown_asyncgens()
        await self.loop.shutdown_default_executor()

    @property
    def in_this_thread(self) -> bool:
        return threading.get_ident() == self._thread.ident

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run `coro` on this loop from another thread and wait at most `timeout` s."""
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"{self.name}: no answer within {timeout} s") from None

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel what still runs, close the loop and join the thread (at most `timeout` s)."""
        if self.loop.is_closed() or self._stopping is None:
            return
        try:
            self.loop.call_soon_threadsafe(self._stopping.set)
        except RuntimeError:  # closed in between
            return
        if not self.in_this_thread:
            self._thread.join(timeout)


async def wait_threadsafe(future: concurrent.futures.Future[T]) -> T:
    """Await a concurrent future without cancelling it when the awaiting task is.

    `asyncio.wrap_future` would forward our cancellation into `future`; callers here
    decide themselves what a cancellation means for the other side.
    """
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[T] = loop.create_future()

    def _copy(done: concurrent.futures.Future[T]) -> None:
        def _set() -> None:
            if waiter.done():
                return
            if done.cancelled():
                waiter.cancel()
            elif (exc := done.exception()) is not None:
                waiter.set_exception(exc)
            else:
                waiter.set_result(done.result())

        loop.call_soon_threadsafe(_set)

    future.add_done_callback(_copy)
    return await waiter
