"""Assigning requests of one deployment to its replicas under `max_ongoing_requests`.

A request that finds every replica full waits in a FIFO queue *before* any replica
sees it; when its client leaves, the wait is cancelled and the request is dropped
(CAN-3). Callers live on different event loops (the proxy's, replicas' for handle
calls), so waiters are futures of the caller's loop, woken thread-safely.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import Any, Generic, Protocol, TypeVar

from ..exceptions import BackPressureError, DeploymentUnavailableError, ServeError

__all__ = ["BackPressureError", "Router", "Slot"]


class Slot(Protocol):
    ongoing: int


S = TypeVar("S", bound=Slot)


class Router(Generic[S]):
    def __init__(
        self,
        name: str,
        replicas: list[S],
        max_ongoing: int,
        max_queued: int,
        rejection: tuple[int, float | None] = (503, None),
    ) -> None:
        self.name = name
        # The HTTP status and Retry-After seconds a BackPressureError carries.
        self._rejection = rejection
        self._replicas = replicas
        # Set when the deployment failed to deploy: with no replica left, callers get
        # this error at once instead of waiting (as Ray's router).
        self.unavailable: DeploymentUnavailableError | None = None
        self._removed: set[int] = set()  # ids of replicas no longer routed to
        self._max_ongoing = max_ongoing
        self._max_queued = max_queued
        self._lock = threading.Lock()
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[S]]] = deque()

    @property
    def queued(self) -> int:
        return len(self._waiters)

    def _free_replica(self, model_id: str = "") -> S | None:
        """The least busy replica with a free slot; for a multiplexed model ID, one
        that has the model loaded first (as Ray routes them)."""
        best = None
        for replica in self._replicas:
            if replica.ongoing < self._max_ongoing and (best is None or replica.ongoing < best.ongoing):
                best = replica
        if model_id and best is not None:
            for replica in self._replicas:
                if replica.ongoing < self._max_ongoing and model_id in _loaded(replica):
                    return replica
        return best

    @property
    def replicas(self) -> list[S]:
        return list(self._replicas)

    def add(self, replica: S) -> None:
        """Route to `replica` too; a waiting request may take it at once."""
        with self._lock:
            self._replicas.append(replica)
            self._removed.discard(id(replica))
            # Held while handed to waiters below, so nobody else takes them meanwhile.
            replica.ongoing += self._max_ongoing
        for _ in range(self._max_ongoing):
            self.release(replica)

    def resize(self, max_ongoing: int, max_queued: int) -> None:
        """New per-replica and queue limits, in place; freed slots go to waiting requests."""
        with self._lock:
            grown = max(max_ongoing - self._max_ongoing, 0)
            self._max_ongoing, self._max_queued = max_ongoing, max_queued
            replicas = list(self._replicas)
            for replica in replicas:
                replica.ongoing += grown  # held, then handed over below as in add()
        for replica in replicas:
            for _ in range(grown):
                self.release(replica)

    def remove(self, replica: S) -> None:
        """Route no new request to `replica`; those it runs finish there."""
        with self._lock:
            if replica in self._replicas:
                self._replicas.remove(replica)
                self._removed.add(id(replica))

    def _check_available(self) -> None:
        if self.unavailable is not None and not self._replicas:
            raise self.unavailable

    def try_assign(self, model_id: str = "") -> S | None:
        """A replica with a free slot, taken now, or None (without queueing)."""
        with self._lock:
            self._check_available()
            if self._waiters:
                return None
            replica = self._free_replica(model_id)
            if replica is not None:
                replica.ongoing += 1
            return replica

    async def assign(self, model_id: str = "") -> S:
        """Take a slot, waiting in line if needed; cancelling the wait leaves the line."""
        loop = asyncio.get_running_loop()
        with self._lock:
            self._check_available()
            replica = None if self._waiters else self._free_replica(model_id)
            if replica is not None:
                replica.ongoing += 1
                return replica
            if 0 <= self._max_queued <= len(self._waiters):
                raise BackPressureError(len(self._waiters), self._max_queued, *self._rejection)
            waiter: asyncio.Future[S] = loop.create_future()
            entry = (loop, waiter)
            self._waiters.append(entry)
        try:
            return await waiter
        except asyncio.CancelledError:
            with self._lock:
                try:
                    self._waiters.remove(entry)
                except ValueError:
                    pass
            if waiter.done() and not waiter.cancelled():
                self.release(waiter.result())  # handed a slot just as we left
            raise

    def release(self, replica: S) -> None:
        """Give the slot back: straight to the first waiter, else to the pool."""
        with self._lock:
            if not self._waiters or (self._removed and id(replica) in self._removed):
                replica.ongoing -= 1
                return
            loop, waiter = self._waiters.popleft()
        try:
            loop.call_soon_threadsafe(self._hand_over, waiter, replica)
        except RuntimeError:  # the waiter's loop is closed: its request is gone
            self.release(replica)

    def _hand_over(self, waiter: asyncio.Future[S], replica: S) -> None:
        if waiter.done():  # its request was cancelled meanwhile: pass the slot on
            self.release(replica)
        else:
            waiter.set_result(replica)

    def retire(self) -> None:
        """Fail every waiter; used when the deployment is deleted."""
        with self._lock:
            waiters, self._waiters = list(self._waiters), deque()
        for loop, waiter in waiters:
            loop.call_soon_threadsafe(_fail, waiter)


def _loaded(replica: object) -> set[str]:
    context = getattr(replica, "context", None)
    return context.loaded_model_ids() if context is not None else set()


def _fail(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(ServeError("The deployment was deleted while the request waited."))
