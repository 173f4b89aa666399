"""router.py: replica slots under max_ongoing_requests, the FIFO queue, backpressure."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from reference_impl.exceptions import ServeError
from reference_impl.runtime.router import BackPressureError, Router

DEADLINE_S = 5.0


@dataclass(eq=False)
class FakeReplica:
    name: str
    ongoing: int = 0


def _router(replicas: int = 1, max_ongoing: int = 1, max_queued: int = -1) -> Router[FakeReplica]:
    return Router("dep", [FakeReplica(f"r{i}") for i in range(replicas)], max_ongoing, max_queued)


async def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, "condition not reached before the deadline"
        await asyncio.sleep(0)


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, "condition not reached before the deadline"
        time.sleep(0.001)


async def _queue(router: Router[FakeReplica], n: int) -> list[asyncio.Task[FakeReplica]]:
    """Start `n` waiters one after the other, each in the queue before the next starts."""
    tasks = []
    for _ in range(n):
        before = router.queued
        tasks.append(asyncio.ensure_future(router.assign()))
        await _until(lambda before=before: router.queued == before + 1)
    return tasks


def test_try_assign_takes_free_slots_up_to_the_limit() -> None:
    """try_assign hands out max_ongoing slots per replica, then None, never queueing."""
    router = _router(max_ongoing=2)
    first, second = router.try_assign(), router.try_assign()
    assert first is second is not None and first.ongoing == 2
    assert router.try_assign() is None and router.queued == 0


def test_assignment_prefers_the_least_loaded_replica() -> None:
    """With two replicas, slots alternate so load stays even."""
    router = _router(replicas=2, max_ongoing=2)
    names = [replica.name for replica in (router.try_assign() for _ in range(4)) if replica]
    assert names == ["r0", "r1", "r0", "r1"]


def test_release_returns_the_slot_to_the_pool() -> None:
    """Without waiters, release() frees the slot for the next caller."""
    router = _router()
    replica = router.try_assign()
    assert replica is not None and router.try_assign() is None
    router.release(replica)
    assert replica.ongoing == 0 and router.try_assign() is replica


@pytest.mark.asyncio
async def test_assign_returns_at_once_when_a_slot_is_free() -> None:
    """assign() takes a free slot without queueing."""
    router = _router()
    replica = await asyncio.wait_for(router.assign(), DEADLINE_S)
    assert replica.ongoing == 1 and router.queued == 0


@pytest.mark.asyncio
async def test_waiters_are_served_in_fifo_order() -> None:
    """Each release hands the slot straight to the oldest waiter."""
    router = _router()
    replica = router.try_assign()
    assert replica is not None
    tasks = await _queue(router, 3)
    for served, task in enumerate(tasks):
        router.release(replica)
        assert await asyncio.wait_for(task, DEADLINE_S) is replica
        assert [t.done() for t in tasks] == [i <= served for i in range(3)]
        assert replica.ongoing == 1  # handed over, never back in the pool
    router.release(replica)
    assert replica.ongoing == 0 and router.queued == 0


@pytest.mark.asyncio
async def test_cancelling_a_queued_waiter_removes_it() -> None:
    """A cancelled waiter leaves the queue; the next release goes to the one behind it."""
    router = _router()
    replica = router.try_assign()
    assert replica is not None
    first, second = await _queue(router, 2)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert router.queued == 1
    router.release(replica)
    assert await asyncio.wait_for(second, DEADLINE_S) is replica
    assert replica.ongoing == 1 and router.queued == 0


@pytest.mark.asyncio
@pytest.mark.parametrize("yield_before_cancel", [False, True], ids=["before-handover", "after-handover"])
async def test_slot_handed_to_a_cancelled_waiter_passes_on(yield_before_cancel: bool) -> None:
    """A waiter cancelled while the slot is on its way gives it to the next waiter."""
    router = _router()
    replica = router.try_assign()
    assert replica is not None
    first, second = await _queue(router, 2)
    router.release(replica)  # pops `first`; the hand-over runs on the next loop turn
    if yield_before_cancel:
        await asyncio.sleep(0)  # the hand-over has set `first`'s result; `first` has not resumed
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await asyncio.wait_for(second, DEADLINE_S) is replica
    assert replica.ongoing == 1 and router.queued == 0
    router.release(replica)
    assert replica.ongoing == 0


@pytest.mark.asyncio
async def test_max_queued_requests_raises_backpressure() -> None:
    """With max_queued_requests waiters already, assign() raises Ray's backpressure error."""
    router = _router(max_queued=1)
    assert router.try_assign() is not None
    (waiter,) = await _queue(router, 1)
    with pytest.raises(BackPressureError) as info:
        await router.assign()
    assert str(info.value) == ("Request dropped due to backpressure (num_queued_requests=1, max_queued_requests=1).")
    assert router.queued == 1
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)


@pytest.mark.asyncio
async def test_unlimited_queue_when_max_queued_is_minus_one() -> None:
    """max_queued_requests=-1 never rejects."""
    router = _router(max_queued=-1)
    assert router.try_assign() is not None
    tasks = [asyncio.ensure_future(router.assign()) for _ in range(100)]
    await _until(lambda: router.queued == 100)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert router.queued == 0


@pytest.mark.asyncio
async def test_retire_fails_every_waiter() -> None:
    """retire() (app deleted) fails queued waiters with ServeError and empties the queue."""
    router = _router()
    assert router.try_assign() is not None
    tasks = await _queue(router, 2)
    router.retire()
    for task in tasks:
        with pytest.raises(ServeError, match="deleted while the request waited"):
            await asyncio.wait_for(task, DEADLINE_S)
    assert router.queued == 0


def test_waiters_on_other_threads_loops_are_woken_in_order() -> None:
    """Waiters on two threads' loops get the slot in FIFO order, released from a third."""
    router = _router()
    replica = router.try_assign()
    assert replica is not None
    served: list[str] = []
    errors: list[BaseException] = []

    def waiter(name: str) -> None:
        async def take_and_release() -> None:
            got = await asyncio.wait_for(router.assign(), DEADLINE_S)
            served.append(name)
            router.release(got)

        try:
            asyncio.run(take_and_release())
        except BaseException as err:  # reported by the test thread below
            errors.append(err)

    threads = [threading.Thread(target=waiter, args=(name,)) for name in ("t1", "t2")]
    for queued, thread in enumerate(threads, start=1):
        thread.start()
        _wait_for(lambda queued=queued: router.queued == queued)
    router.release(replica)  # from the test thread, which runs no loop
    for thread in threads:
        thread.join(DEADLINE_S)
        assert not thread.is_alive()
    assert errors == []
    assert served == ["t1", "t2"]
    assert replica.ongoing == 0 and router.queued == 0
