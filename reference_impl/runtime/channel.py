"""A one-consumer message queue between two event loops in different threads."""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import Generic, TypeVar

__all__ = ["Channel"]

T = TypeVar("T")

# Items a consumer takes without waiting before it lets its loop run once.
_STREAK = 32


class Channel(Generic[T]):
    """`put()` from any thread, `await get()` from one consumer task on any loop.

    The consumer's loop is woken only when it is actually waiting, so a burst of
    messages costs one cross-thread wake-up, not one per message. A producer that
    knows more items follow at once puts with `wake=False` and calls `flush()` (or a
    plain `put`) after the last, so the consumer wakes once for the whole burst. This
    carries ASGI messages between the proxy's loop and a replica's loop.

    Flow control, both ways: a producer that outruns its consumer awaits `room()`, and
    a consumer that always finds items waiting still lets its own loop run every
    `_STREAK` items, so neither loop is held by a peer that never pauses. `close()`
    says the consumer reads no more: later items are dropped and `room()` returns.
    """

    __slots__ = (
        "_closed",
        "_items",
        "_lock",
        "_room",
        "_room_limit",
        "_room_loop",
        "_streak",
        "_waiter",
        "_waiter_loop",
    )

    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._lock = threading.Lock()
        self._waiter: asyncio.Future[None] | None = None
        self._waiter_loop: asyncio.AbstractEventLoop | None = None
        self._room: asyncio.Future[None] | None = None
        self._room_loop: asyncio.AbstractEventLoop | None = None
        self._room_limit = 0
        self._streak = 0
        self._closed = False

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, item: T, wake: bool = True) -> None:
        """Append `item`; with `wake=False` a waiting consumer sees it at the next
        `put()` or `flush()`, which the producer owes."""
        with self._lock:
            if self._closed:
                return
            self._items.append(item)
            if not wake:
                return
            waiter, loop = self._take_waiter()
        _notify(waiter, loop)

    def flush(self) -> None:
        """Wake a waiting consumer for items put with `wake=False`."""
        with self._lock:
            if not self._items:
                return
            waiter, loop = self._take_waiter()
        _notify(waiter, loop)

    async def get(self) -> T:
        with self._lock:
            if self._items and self._streak < _STREAK:
                self._streak += 1  # only the one consumer touches the streak
                return self._pop()
        if self._streak >= _STREAK:
            await asyncio.sleep(0)  # items keep coming: let this loop see its sockets and timers
        self._streak = 0
        while True:
            with self._lock:
                if self._items:
                    return self._pop()
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
            return self._pop() if self._items else None

    def _take_waiter(self) -> tuple[asyncio.Future[None] | None, asyncio.AbstractEventLoop | None]:
        """The waiting consumer's future and loop, unregistered (the lock is held)."""
        waiter, loop = self._waiter, self._waiter_loop
        self._waiter = self._waiter_loop = None
        return waiter, loop

    def _pop(self) -> T:
        """Take the first item (the lock is held); wake a producer waiting for room."""
        item = self._items.popleft()
        if self._room is not None and len(self._items) <= self._room_limit:
            self._release_room()
        return item

    def _release_room(self) -> None:
        room, loop = self._room, self._room_loop
        self._room = self._room_loop = None
        _notify(room, loop)

    async def room(self, limit: int) -> None:
        """For the producer: return once at most `limit` items wait (or the channel is
        closed), waking the consumer first so that it drains them."""
        with self._lock:
            if len(self._items) <= limit or self._closed:
                return
            loop = asyncio.get_running_loop()
            room = loop.create_future()
            self._room, self._room_loop, self._room_limit = room, loop, limit
            waiter, waiter_loop = self._take_waiter()
        _notify(waiter, waiter_loop)
        try:
            await room
        finally:
            with self._lock:
                if self._room is room:
                    self._room = self._room_loop = None

    def close(self) -> None:
        """The consumer reads no more: drop what waits and what comes, release the producer."""
        with self._lock:
            self._closed = True
            self._items.clear()
            self._release_room()


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
