"""Faults that break the HDL clauses (deployment handles) of the reference implementation."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from faulty import fault

from reference_impl import handle, serialization
from reference_impl.runtime import replica, streaming


@fault("stream-option-ignored", "HDL-1")
def _(mp: pytest.MonkeyPatch) -> None:
    """`options(stream=True)` is accepted but calls return a plain DeploymentResponse."""

    def remote(self: Any, *args: Any, **kwargs: Any) -> Any:
        return handle.DeploymentResponse(self._router, self._options, args, kwargs, self._driver_loop)

    mp.setattr(handle.DeploymentHandle, "remote", remote)


@fault("stream-collected-first", "HDL-2")
def _(mp: pytest.MonkeyPatch) -> None:
    """The replica runs the generator to its end before sending any item."""

    async def stream_items(result: Any, channel: Any, method_name: str) -> None:
        items = [item async for item in result] if inspect.isasyncgen(result) else list(result)
        for item in items:
            channel.put(item)
        channel.put(streaming.END)

    mp.setattr(replica, "stream_items", stream_items)


@fault("stream-cancel-ignored", "HDL-3")
def _(mp: pytest.MonkeyPatch) -> None:
    """`DeploymentResponseGenerator.cancel()` does nothing."""
    mp.setattr(handle.DeploymentResponseGenerator, "cancel", lambda self: None)


@fault("responses-passed-unresolved", "HDL-4")
def _(mp: pytest.MonkeyPatch) -> None:
    """DeploymentResponse arguments reach the downstream method as they are, not as values."""

    async def resolve(value: Any) -> Any:
        return value

    mp.setattr(handle, "_resolve", resolve)


@fault("nested-responses-accepted", "HDL-4")
def _(mp: pytest.MonkeyPatch) -> None:
    """A DeploymentResponse nested in a list argument is passed along instead of refused."""
    mp.setattr(handle.DeploymentResponse, "__reduce__", lambda self: serialization.by_reference(self))


class _NoGenerators:
    """`inspect` for a replica that cannot tell generators from values."""

    isgenerator = staticmethod(lambda obj: False)
    isasyncgen = staticmethod(lambda obj: False)

    def __getattr__(self, name: str) -> Any:
        return getattr(inspect, name)


@fault("generator-returned-without-stream", "HDL-5")
def _(mp: pytest.MonkeyPatch) -> None:
    """A generator method called without `stream=True` returns the generator object itself."""
    mp.setattr(replica, "inspect", _NoGenerators())


@fault("handles-born-initialized", "HDL-6")
def _(mp: pytest.MonkeyPatch) -> None:
    """`is_initialized` is True for a handle nobody used yet."""
    mp.setattr(handle.DeploymentHandle, "is_initialized", property(lambda self: True))


@fault("timeouts-plain", "HDL-7")
def _(mp: pytest.MonkeyPatch) -> None:
    """`result(timeout_s=...)` raises a plain TimeoutError, not Ray's GetTimeoutError."""
    mp.setattr(handle, "GetTimeoutError", TimeoutError)
