"""channel.py: flow control between a replica's loop and the proxy's, each on its own thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Iterator

import pytest

from reference_impl.runtime.channel import Channel
from reference_impl.runtime.loops import LoopThread

WAIT_S = 5.0


@pytest.fixture
def producer_loop() -> Iterator[LoopThread]:
    thread = LoopThread("test-producer")
    yield thread
    thread.stop()


def test_room_waits_until_the_consumer_drains_to_the_limit(producer_loop: LoopThread) -> None:
    """A producer over the limit waits in `room()` and resumes once the consumer, on
    another thread's loop, has taken enough; nothing is lost or reordered."""
    channel: Channel[int] = Channel()

    async def produce() -> None:
        for item in range(100):
            channel.put(item)
            if len(channel) > 8:
                await channel.room(4)
                assert len(channel) <= 8  # the consumer may have put nothing back

    async def consume() -> list[int]:
        return [await channel.get() for _ in range(100)]

    async def main() -> list[int]:
        produced = asyncio.wrap_future(producer_loop.submit(produce()))
        consumed = await consume()
        await asyncio.wait_for(produced, WAIT_S)
        return consumed

    assert asyncio.run(asyncio.wait_for(main(), WAIT_S)) == list(range(100))


def test_close_releases_a_waiting_producer_and_drops_later_items(producer_loop: LoopThread) -> None:
    channel: Channel[int] = Channel()
    for item in range(10):
        channel.put(item)
    waiting = producer_loop.submit(channel.room(2))
    with pytest.raises(concurrent.futures.TimeoutError):
        waiting.result(timeout=0.2)  # no consumer: it waits
    channel.close()
    waiting.result(timeout=WAIT_S)
    channel.put(11)
    assert (len(channel), channel.closed, channel.get_nowait()) == (0, True, None)


def test_a_consumer_that_never_waits_still_lets_its_loop_run() -> None:
    """With items always there, `get()` returns them in order yet yields to the loop every
    so often, so a timer on the consumer's loop fires while it drains a long backlog."""
    channel: Channel[int] = Channel()
    for item in range(10_000):
        channel.put(item)

    async def main() -> tuple[list[int], int]:
        ticks = 0

        def tick() -> None:
            nonlocal ticks
            ticks += 1

        asyncio.get_running_loop().call_soon(tick)
        taken = [await channel.get() for _ in range(10_000)]
        return taken, ticks

    taken, ticks = asyncio.run(main())
    assert taken == list(range(10_000))
    assert ticks == 1, "the loop never ran while the consumer drained the channel"
