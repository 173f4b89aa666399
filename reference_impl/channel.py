"""A one-consumer message queue between two event loops in different threads."""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import Generic, TypeVar

__all__ = ["Channel"]

T = TypeVar("T")


class Channel(Generic[T]):
    """`put()` from any thread, `await get()` from one consumer task on any loop.

    The consumer's loop is woken only when it is actually waiting, so a burst of
    messages costs one cross-thread wake-up, not one per message. A producer that
    knows more items follow at once puts with `wake=False` and calls `flush()` (or a
    plain `put`) after the last, so the consumer wakes once for the whole burst. This
    carries ASGI messages between the proxy's loop and a replica's loop.
    """

    __slots__ = ("_items", "_lock", "_waiter", "_waiter_loop")

    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._lock = threading.Lock()
        self._waiter: asyncio.Future[None] | None = None
        self._waiter_loop: asyncio.AbstractEventLoop | None = None

    def put(self, item: T, wake: bool = True) -> None:
        """Append `item`; with `wake=False` a waiting consumer sees it at the next
        `put()` or `flush()`, which the producer owes."""
        with self._lock:
            self._items.append(item)
            if not wake:
                return
            waiter, loop = self._waiter, self._waiter_loop
            self._waiter = self._waiter_loop = None
        _notify(waiter, loop)

    def flush(self) -> None:
        """Wake a waiting consumer for items put with `wake=False`."""
        with self._lock:
            if not self._items:
                return
            waiter, loop = self._waiter, self._waiter_loop
            self._waiter = self._waiter_loop = None
        _notify(waiter, loop)

    async def get(self) -> T:
        while True:
            with self._lock:
                if self._items:
                    return self._items.popleft()
                loop = asyncio.get_running_loop()
                waiter = loop.create_future()
                self._waiter, self._waiter_loop = waiter, loop
            try:
                await waiter
            finally:
                with self._lock:
                    if self._waiter is waiter:
                        self._waiter = self._waiter_loop = None

    def get_nowait(self) -> T | None:
        with self._lock:
            return self._items.popleft() if self._items else None


def _notify(waiter: asyncio.Future[None] | None, loop: asyncio.AbstractEventLoop | None) -> None:
    if waiter is not None and loop is not None:
        if loop is _running_loop():
            _wake(waiter)
        else:
            loop.call_soon_threadsafe(_wake, waiter)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
