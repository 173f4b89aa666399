"""Judging whether a body was streamed: arrival times against the generator's pace.

Shared by the STR clauses (HTTP guide) and HDL-2 (a stream over a handle).
"""

from __future__ import annotations

import itertools
import statistics
from typing import Any

from pytest_serve import ProbeEvent, StreamResult

__all__ = ["ITEMS", "MAX_LAG_S", "MIN_SPREAD", "assert_incremental"]

# The guide's example: `yield str(i); time.sleep(0.1)` with max=10, so item i is the
# single byte str(i) and the body is b"0123456789".
ITEMS = 10
# The first and last item must arrive at least this share of the generator's own
# first-to-last time apart (a server that buffers the body delivers them together).
MIN_SPREAD = 0.6
# No item may arrive later than this behind the generator's pace (relative to item 0).
MAX_LAG_S = 0.4


def _arrivals(result: StreamResult) -> list[float]:
    """Arrival time of each body byte (seconds since the request was sent)."""
    return [t for t, chunk in result.chunks for _ in range(len(chunk))]


def assert_incremental(result: StreamResult, yields: list[ProbeEvent], observe: Any) -> None:
    """Item i reached the client about when the generator yielded it, not at the end.
    Records the two timelines, the largest lag and the jitter of the arrivals in `observe`."""
    assert result.status_code == 200, result.body
    assert result.complete, "the stream ended without its terminating chunk"
    assert result.body == "".join(str(i) for i in range(ITEMS)).encode(), result.body
    assert [e.data["i"] for e in yields] == list(range(ITEMS)), yields
    arrived = _arrivals(result)
    produced = [e.t - yields[0].t for e in yields]
    generator_span = produced[-1]
    spread = arrived[-1] - arrived[0]
    timeline = ", ".join(
        f"{i}: yielded +{p:.2f} s, arrived +{a - arrived[0]:.2f} s"
        for i, (p, a) in enumerate(zip(produced, arrived, strict=True))
    )
    lags = [(a - arrived[0]) - p for p, a in zip(produced, arrived, strict=True)]
    gaps = [b - a for a, b in itertools.pairwise(arrived)]
    observe.record("largest lag behind the generator", max(lags), "s", expected=f"≤ {MAX_LAG_S} s", key=True)
    observe.record("yielded at", produced, "s", expected=f"items 0..{ITEMS - 1}, from the first")
    observe.record("arrived at", [a - arrived[0] for a in arrived], "s", expected="about when yielded")
    observe.record(
        "first to last arrival",
        spread,
        "s",
        expected=f"≥ {MIN_SPREAD:.0%} of the generator's {generator_span:.2f} s",
    )
    observe.record("arrival jitter (st. dev. of gaps)", statistics.pstdev(gaps), "s")
    assert spread >= MIN_SPREAD * generator_span, (
        f"items 0..{ITEMS - 1} arrived within {spread:.2f} s of each other, but the generator "
        f"took {generator_span:.2f} s to yield them: the body was not streamed ({timeline})"
    )
    assert max(lags) <= MAX_LAG_S, f"an item arrived {max(lags):.2f} s behind the generator ({timeline})"
    reads = len({t for t, _ in result.chunks})
    assert reads >= ITEMS // 2, f"only {reads} separate arrivals for {ITEMS} items ({timeline})"
