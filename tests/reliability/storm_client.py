"""The client side of the disconnect storm, run in its own process.

    python storm_client.py --url http://127.0.0.1:PORT --requests 1500 --seed 7 --out plan.jsonl

Sends `--requests` requests over the storm's handlers (see test_disconnect_storm.py),
`--concurrency` at a time, each on a fresh connection. About `--leave` of the clients are
meant to leave early, at a moment drawn at random: while still sending the request,
after a delay, or after some chunks or WebSocket messages; half of them close with a FIN,
half with a RST. A client that was meant to leave but got its whole response first
counts as not having left. One JSON line per request goes to `--out`:
`{"tag", "kind", "left", "moment", "left_at", "outcome", "long"}`; `outcome` is "ok",
"left", or what went wrong. `left_at` is `time.monotonic()`, the clock of the server's probe.

A separate process, so that the server's RSS, threads and sockets are measured without
the client's. No pytest import here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import struct
import sys
import time
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

import h11
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

#: Weights of the handler kinds in the mix.
KINDS = {"async": 3, "sync": 2, "stream_sync": 2, "stream_async": 2, "compose": 2, "ws": 2}
REQUEST_TIMEOUT_S = 30.0
CHUNK_MS = {"stream_sync": 10, "stream_async": 20}
#: Sleep of the long handlers, whose clients always leave within 0.4 s.
LONG_MS = 3000


@dataclass
class Plan:
    """One request: what to ask for and when to leave (`leave_ms` None: stay)."""

    tag: str
    kind: str
    ms: int = 0  # handler sleep (async, sync, compose)
    n: int = 0  # chunks (streams) or messages (ws)
    leave: str = ""  # "", "sending", "delay", "chunks"
    leave_ms: float = 0.0
    leave_after: int = 0  # chunks or echoes received before leaving
    rst: bool = False


@dataclass
class Outcome:
    tag: str
    kind: str
    left: bool
    moment: str
    left_at: float | None
    outcome: str
    long: bool = False  # a LONG_MS handler


def make_plan(i: int, rng: random.Random, leave_share: float) -> Plan:
    kind = rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
    plan = Plan(tag=f"r{i}", kind=kind)
    if kind in ("async", "compose"):
        plan.ms = rng.randint(0, 300)
    elif kind == "sync":
        plan.ms = rng.randint(0, 8)
    elif kind in CHUNK_MS:
        plan.n = rng.randint(2, 6)
    else:
        plan.n = rng.randint(1, 5)
    if rng.random() >= leave_share:
        return plan
    plan.rst = rng.random() < 0.5
    if kind in ("async", "compose") and rng.random() < 0.3:
        # A long handler its client leaves early: only a cancellation ends it in time.
        plan.ms, plan.leave, plan.leave_ms = LONG_MS, "delay", rng.uniform(20, 400)
        return plan
    roll = rng.random()
    if roll < 0.1:
        plan.leave = "sending"
    elif kind in ("ws", *CHUNK_MS) and roll < 0.55:
        plan.leave = "chunks"
        plan.leave_after = rng.randint(0, plan.n - 1)
    else:
        plan.leave = "delay"
        expected = plan.ms + plan.n * CHUNK_MS.get(kind, 5) + 20
        plan.leave_ms = rng.uniform(0, 1.2 * expected)
    return plan


def _target(plan: Plan) -> str:
    paths = {
        "async": "/async",
        "sync": "/sync",
        "stream_sync": "/stream",
        "stream_async": "/stream",
        "compose": "/compose",
    }
    mode = "&mode=sync" if plan.kind == "stream_sync" else "&mode=async" if plan.kind == "stream_async" else ""
    return f"{paths[plan.kind]}?tag={plan.tag}&ms={plan.ms}&n={plan.n}{mode}"


def expected_body(plan: Plan) -> bytes:
    if plan.kind in CHUNK_MS:
        return "".join(f"{plan.tag}:{i}\n" for i in range(plan.n)).encode()
    prefix = {"async": "async", "sync": "sync", "compose": "composed"}[plan.kind]
    return f"{prefix} {plan.tag}".encode()


def _abandon(writer: asyncio.StreamWriter, rst: bool) -> float:
    """Leave now: RST (linger 0) or FIN; return the moment."""
    sock = writer.get_extra_info("socket")
    if rst and sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
    else:
        writer.close()
    return time.monotonic()


class _Left(Exception):
    """The client left as planned."""


async def http_request(host: str, port: int, plan: Plan) -> Outcome:
    reader, writer = await asyncio.open_connection(host, port)
    conn = h11.Connection(h11.CLIENT)
    data = conn.send(
        h11.Request(method="GET", target=_target(plan), headers=[("Host", host), ("Connection", "close")])
    ) + conn.send(h11.EndOfMessage())
    try:
        if plan.leave == "sending":
            writer.write(data[: random.randint(1, len(data) - 4)])
            await writer.drain()
            return Outcome(plan.tag, plan.kind, True, plan.leave, _abandon(writer, plan.rst), "left")
        writer.write(data)
        status, body, chunks = 0, bytearray(), 0
        deadline = time.monotonic() + (plan.leave_ms / 1000 if plan.leave == "delay" else REQUEST_TIMEOUT_S)
        while True:
            if plan.leave == "chunks" and chunks >= plan.leave_after:
                raise _Left
            event = conn.next_event()
            if event is h11.NEED_DATA:
                remaining = deadline - time.monotonic()
                try:
                    if remaining <= 0:
                        raise TimeoutError
                    received = await asyncio.wait_for(reader.read(65536), remaining)
                except TimeoutError:
                    if plan.leave == "delay":
                        raise _Left from None
                    return Outcome(plan.tag, plan.kind, False, "", None, f"timeout after {status} {bytes(body)!r}")
                conn.receive_data(received)
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                body += event.data
                chunks += 1 if event.chunk_end else 0
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                return Outcome(plan.tag, plan.kind, False, "", None, f"closed early: {status} {bytes(body)!r}")
        writer.close()
        ok = status == 200 and bytes(body) == expected_body(plan)
        return Outcome(plan.tag, plan.kind, False, "", None, "ok" if ok else f"wrong: {status} {bytes(body)!r}")
    except _Left:
        return Outcome(plan.tag, plan.kind, True, plan.leave, _abandon(writer, plan.rst), "left")
    except (h11.RemoteProtocolError, ConnectionError) as err:
        writer.close()
        return Outcome(plan.tag, plan.kind, False, "", None, f"error: {type(err).__name__}: {err}")


async def ws_request(host: str, port: int, plan: Plan) -> Outcome:
    if plan.leave == "sending":
        _reader, writer = await asyncio.open_connection(host, port)
        handshake = (
            f"GET /ws/echo?tag={plan.tag} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        writer.write(handshake[: random.randint(1, len(handshake) - 4)])
        await writer.drain()
        return Outcome(plan.tag, plan.kind, True, plan.leave, _abandon(writer, plan.rst), "left")
    url = f"ws://{host}:{port}/ws/echo?tag={plan.tag}&n={plan.n}"
    ws = await ws_connect(url, open_timeout=REQUEST_TIMEOUT_S, close_timeout=2, ping_interval=None)
    leave_at = time.monotonic() + plan.leave_ms / 1000 if plan.leave == "delay" else None

    def leave() -> Outcome:
        sock = ws.transport.get_extra_info("socket")
        if plan.rst and sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        ws.transport.abort()
        return Outcome(plan.tag, plan.kind, True, plan.leave, time.monotonic(), "left")

    try:
        for j in range(plan.n):
            if plan.leave == "chunks" and j >= plan.leave_after:
                return leave()
            await ws.send(f"m{j}")
            timeout = REQUEST_TIMEOUT_S if leave_at is None else leave_at - time.monotonic()
            try:
                if timeout <= 0:
                    raise TimeoutError
                echo = await asyncio.wait_for(ws.recv(), timeout)
            except TimeoutError:
                if leave_at is not None:
                    return leave()
                raise
            if echo != f"{plan.tag}:m{j}":
                ws.transport.abort()
                return Outcome(plan.tag, plan.kind, False, "", None, f"wrong echo {echo!r}")
        try:
            extra = await asyncio.wait_for(ws.recv(), REQUEST_TIMEOUT_S)
            ws.transport.abort()
            return Outcome(plan.tag, plan.kind, False, "", None, f"unexpected message {extra!r}")
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd is not None else None
            outcome = "ok" if code == 1000 else f"closed with {code}"
            return Outcome(plan.tag, plan.kind, False, "", None, outcome)
    except TimeoutError:
        ws.transport.abort()
        return Outcome(plan.tag, plan.kind, False, "", None, "timeout")
    except ConnectionClosed as closed:
        return Outcome(plan.tag, plan.kind, False, "", None, f"closed early: {closed}")


async def one(host: str, port: int, plan: Plan, slots: asyncio.Semaphore) -> Outcome:
    async with slots:
        call = ws_request if plan.kind == "ws" else http_request
        try:
            outcome = await asyncio.wait_for(call(host, port, plan), REQUEST_TIMEOUT_S + 5)
        except Exception as err:  # reported per request, never silently dropped
            outcome = Outcome(plan.tag, plan.kind, False, "", None, f"client error: {type(err).__name__}: {err}")
        outcome.long = plan.ms == LONG_MS
        return outcome


async def storm(url: str, requests: int, concurrency: int, seed: int, leave: float, first: int) -> list[Outcome]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    rng = random.Random(seed)
    random.seed(seed + 1)  # cut points of half-sent requests
    plans = [make_plan(first + i, rng, leave) for i in range(requests)]
    slots = asyncio.Semaphore(concurrency)
    return list(await asyncio.gather(*(one(host, port, plan, slots) for plan in plans)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--leave", type=float, default=0.3)
    parser.add_argument("--first", type=int, default=0, help="number of the first request's tag")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    outcomes = asyncio.run(storm(args.url, args.requests, args.concurrency, args.seed, args.leave, args.first))
    with open(args.out, "w", encoding="utf-8") as out:
        for outcome in outcomes:
            out.write(json.dumps(asdict(outcome)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
