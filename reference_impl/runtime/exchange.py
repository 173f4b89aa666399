"""The state one HTTP or WebSocket request shares between the proxy and a replica."""

from __future__ import annotations

from ..types import Message
from .channel import Channel

__all__ = ["ClientDisconnected", "Exchange", "Finished"]


class ClientDisconnected(OSError):
    """Raised by a replica's `send` once nothing reaches the client any more, as a
    socket write fails: the client left (or the request was cancelled)."""


class Finished:
    """Last item of an outbox: the replica is done with the request."""

    __slots__ = ("failed",)

    def __init__(self, failed: bool) -> None:
        self.failed = failed  # True: the app raised after the response had started


class Exchange:
    """`inbox` carries client messages to the replica, `outbox` the app's replies back.

    `client_gone` is set by the proxy when the client disconnected before the
    response was complete; replicas read it to fail WebSocket sends.
    """

    __slots__ = ("client_gone", "inbox", "outbox", "request_id")

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.inbox: Channel[Message] = Channel()
        self.outbox: Channel[Message | Finished] = Channel()
        self.client_gone = False
