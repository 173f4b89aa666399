"""uvicorn's HTTP/1.1 protocol (httptools) with limits on a request's head.

uvicorn reads a request's head for as long and as far as the client sends it: a 20 MB
header is buffered whole, and a client that stops halfway holds its connection forever.
`head_limited_protocol` returns a protocol class that

- counts the bytes of each request's head (request line and header fields) as they
  arrive and feeds the parser no further than `max_bytes`: past them the client gets
  431 and the connection closes, so no more than `max_bytes` of a head is ever held;
- closes the connection when a head is not complete within `timeout_s`: counted from
  the connection's opening for its first request, from the read that brought a later
  request's first bytes on a keep-alive connection (the idle time before it is
  keep-alive's).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["HeadLimits", "head_limited_protocol"]

_UNREAD = -1  # `_body_left` before the headers were read for it

#: After a 431, how long the rest of the client's head is read and dropped, so that the
#: client, still sending, reads the answer instead of a reset.
DISCARD_S = 2.0


@dataclass(frozen=True)
class HeadLimits:
    max_bytes: int | None
    timeout_s: float | None


def head_limited_protocol(limits: HeadLimits) -> type[asyncio.Protocol]:
    """A protocol class for `uvicorn.Config(http=...)` that enforces `limits`."""

    class Protocol(HeadLimitedProtocol):
        pass

    Protocol.limits = limits
    return Protocol


class HeadLimitedProtocol(HttpToolsProtocol):
    limits = HeadLimits(None, None)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A head is under way from the end of the previous message (or the opening of the
        # connection) to its headers' end; `_head_bytes` counts it.
        self._in_head = True
        self._head_bytes = 0
        self._tail = b""  # the head's last 3 bytes, to find a blank line split across reads
        self._body_left: int | None = None  # the body's bytes still to come, when known
        self._head_open = False  # bytes of a head arrived and its headers did not end yet
        self._head_timer: asyncio.TimerHandle | None = None
        self._discarding = False
        self._refusal: int | None = None  # a 431 waiting for earlier responses to go out

    # -- the connection -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._discarding:
            return
        if self._in_head:
            self._head_open = True  # bytes of a head: its headers end it
        self._feed(data)
        # NOTE: armed here, not when the head begins, so a head that arrives in one read
        # (most do) costs no timer; the bound then counts from the end of its first read.
        if self._head_open and self._head_timer is None and not self.transport.is_closing():
            self._start_head_timer()

    def _feed(self, data: bytes) -> None:
        limit = self.limits.max_bytes
        if limit is None:
            super().data_received(data)
            return
        if (
            self._in_head
            and not self._tail
            and len(data) <= limit - self._head_bytes
            and data.find(b"\r\n\r\n") == len(data) - 4
        ):
            super().data_received(data)  # the common read: one whole head, nothing after it
            return
        # The parser is fed one phase at a time, so every byte of a head is counted: a
        # head up to its blank line (and no further than `limit`), then a body of known
        # length exactly. NOTE: the end of a chunked body is only seen by the parser, so
        # a head that follows one in the same piece (pipelining) is counted from the
        # next piece on; pieces are no longer than `limit`, which bounds what goes
        # uncounted.
        while data:
            if self._in_head:
                room = limit - self._head_bytes
                if room <= 0:
                    self._refuse_head(limit)
                    return
                window = data[:room]
                seen = self._tail + window if self._tail else window
                end = seen.find(b"\r\n\r\n")
                piece = window if end < 0 else window[: end + 4 - len(self._tail)]
                self._head_bytes += len(piece)
                self._tail = (self._tail + piece)[-3:]
                self._head_open = True
            elif self._body_left == _UNREAD:
                self._body_left = _body_length(self.headers)
                continue
            elif self._body_left:
                piece = data[: self._body_left]
                self._body_left -= len(piece)
            else:  # chunked, or a body whose end the parser has yet to see
                piece = data[:limit]
            data = data[len(piece) :]
            super().data_received(piece)
            if data and (self.transport.is_closing() or self.transport.get_protocol() is not self):
                upgraded = self.transport.get_protocol()
                if isinstance(upgraded, asyncio.Protocol) and not self.transport.is_closing():
                    upgraded.data_received(data)  # the rest is the WebSocket protocol's
                return

    # -- parser callbacks ------------------------------------------------------------------

    def on_headers_complete(self) -> None:
        self._head_open = False
        self._in_head = False
        self._tail = b""
        self._body_left = _UNREAD  # read from the headers if a body follows
        self._stop_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True
        self._head_bytes = 0
        self._body_left = None

    # -- the limits -----------------------------------------------------------------------

    def _start_head_timer(self) -> None:
        if self.limits.timeout_s is not None:
            self._head_timer = self.loop.call_later(self.limits.timeout_s, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._answering():
            # The server is still answering an earlier request on this connection and may
            # have paused reading meanwhile: the delay is not the client's.
            self._start_head_timer()
            return
        self.transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._refusal is not None and not self._answering() and not self.transport.is_closing():
            self._send_431(self._refusal)

    def _answering(self) -> bool:
        """Whether a response to an earlier request on this connection is still to go out."""
        return (self.cycle is not None and not self.cycle.response_complete) or bool(self.pipeline)

    def _refuse_head(self, limit: int) -> None:
        """431 and a close, after the responses to earlier (pipelined) requests; the
        client's further bytes are read and dropped meanwhile and for a while after."""
        self.logger.warning("Request head over %d bytes: answered 431.", limit)
        self._stop_head_timer()
        self._discarding = True
        if self._answering():
            self._refusal = limit
        else:
            self._send_431(limit)

    def _send_431(self, limit: int) -> None:
        self._refusal = None
        body = f"Request headers exceed the limit of {limit} bytes.".encode()
        head = [b"HTTP/1.1 431 Request Header Fields Too Large\r\n"]
        head += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
        head += [
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.flow.resume_reading()
        if self.transport.can_write_eof():
            self.transport.write_eof()  # the client sees the end; it closes, and so do we
            self.loop.call_later(DISCARD_S, self.transport.close)
        else:
            self.transport.close()


def _body_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The body's length by the headers (0: none); None when chunked (or unparsable:
    the parser refuses those)."""
    length = 0
    for name, value in headers:
        if name == b"transfer-encoding":
            return None
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return None
    return length
