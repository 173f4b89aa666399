"""Streaming: per-chunk arrival jitter against the generator's own timing; first byte.

The handler yields `I:T_NS` lines every `interval` s, T being `time.monotonic_ns()`
just before the yield. For chunk i of a stream the delivery delay is
`d_i = arrival_i - T_i`; its jitter is `d_i - min(d)`, i.e. how much later than the
stream's fastest chunk it arrived. Jitter figures pool the chunks of all streams.
First byte: from writing the request to the first body line arriving. One short
stream first warms the route up and is not counted.
"""

from __future__ import annotations

import http.client
import time
from typing import Any

from .plan import Plan
from .systems import Server
from .tools import summary_ms

__all__ = ["measure"]


def _one_stream(host: str, port: int, chunks: int, interval: float) -> tuple[float, list[float], list[float]]:
    """(first byte s, delays s, jitters s) of one stream."""
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        sent = time.monotonic()
        conn.request("GET", f"/stream?n={chunks}&interval={interval}")
        response = conn.getresponse()
        if response.status != 200:
            raise RuntimeError(f"/stream answered {response.status}")
        buffer = b""
        arrivals: list[tuple[int, float, float]] = []
        deadline = sent + chunks * interval + 10
        while time.monotonic() < deadline:
            data = response.read1(65536)
            now = time.monotonic()
            if not data:
                break
            buffer += data
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                index, stamp = line.split(b":")
                arrivals.append((int(index), int(stamp) / 1e9, now))
    finally:
        conn.close()
    if len(arrivals) != chunks:
        raise RuntimeError(f"expected {chunks} chunks, got {len(arrivals)}")
    delays = [arrived - generated for _, generated, arrived in arrivals]
    fastest = min(delays)
    return arrivals[0][2] - sent, delays, [d - fastest for d in delays]


def measure(server: Server, plan: Plan) -> dict[str, Any]:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    first_bytes: list[float] = []
    delays: list[float] = []
    jitters: list[float] = []
    _one_stream(host, int(port), 3, plan.stream_interval_s)  # warm-up: the route's first use
    for _ in range(plan.stream_count):
        first, d, j = _one_stream(host, int(port), plan.stream_chunks, plan.stream_interval_s)
        first_bytes.append(first)
        delays += d
        jitters += j
    return {
        "streams": plan.stream_count,
        "chunks": plan.stream_chunks,
        "interval_ms": plan.stream_interval_s * 1000,
        "first_byte_ms": summary_ms(first_bytes),
        "delay_ms": summary_ms(delays),
        "jitter_ms": summary_ms(jitters),
    }
