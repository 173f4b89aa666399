"""`python -m bench.hop [--pings N]`: the floor under the reference's design.

The proxy and each replica run their own event loop in their own thread, so every
request crosses from the proxy's loop to the replica's and back. This times exactly
that and nothing else: a coroutine on loop A hands a message to loop B
(`call_soon_threadsafe`), B answers A the same way, A receives it; p50 and p99 of the
round trip over `--pings` pings, with uvloop as the reference runs. Nothing in the
HTTP path can make a request cheaper than one such round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence

from reference_impl.runtime.loops import LoopThread

from .tools import percentile

__all__ = ["main", "round_trips"]


def round_trips(pings: int) -> list[float]:
    """Seconds per round trip between two loop threads, `pings` of them."""
    a, b = LoopThread("hop-a"), LoopThread("hop-b")
    try:

        async def ping() -> list[float]:
            loop = asyncio.get_running_loop()
            times = []
            for _ in range(pings):
                answered = loop.create_future()
                began = time.perf_counter()
                b.loop.call_soon_threadsafe(lambda f=answered: loop.call_soon_threadsafe(f.set_result, None))
                await answered
                times.append(time.perf_counter() - began)
            return times

        return a.run(ping(), timeout=60 + pings * 0.01)
    finally:
        a.stop()
        b.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hop", description=__doc__.splitlines()[0])
    parser.add_argument("--pings", type=int, default=20_000)
    args = parser.parse_args(argv)
    times = [t * 1e6 for t in round_trips(args.pings)[args.pings // 10 :]]  # without the warm-up tenth
    print(
        f"loop thread → loop thread → back, {len(times)} round trips: "
        f"p50 {percentile(times, 50):.1f} µs, p90 {percentile(times, 90):.1f} µs, p99 {percentile(times, 99):.1f} µs"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
