"""Streaming handle calls: a replica's generator, item by item, to the caller.

The replica side (`stream_items`) drains the method's generator into a `Channel`
and always ends with `END`, also when the call fails or is cancelled; the caller
side is `handle.DeploymentResponseGenerator`, which reads the channel and, at
`END`, raises what the call raised.
"""

from __future__ import annotations

import inspect
from typing import Any, Final

from ..serialization import copy_value
from .channel import Channel

__all__ = ["END", "stream_items"]


class _End:
    def __repr__(self) -> str:
        return "END"


END: Final = _End()


async def stream_items(result: Any, channel: Channel[Any], method_name: str) -> None:
    """Put a copy of every item `result` (a sync or async generator) yields, then `END`."""
    try:
        if inspect.isasyncgen(result):
            try:
                async for item in result:
                    channel.put(copy_value(item))
            finally:
                await result.aclose()
        elif inspect.isgenerator(result):
            try:
                for item in result:
                    channel.put(copy_value(item))
            finally:
                result.close()
        else:
            if inspect.isawaitable(result):
                await result  # as in Ray, the method runs; its value is refused
            raise TypeError(
                f"Called method '{method_name}' with `handle.options(stream=True)` but it did not return a generator."
            )
    finally:
        channel.put(END)
