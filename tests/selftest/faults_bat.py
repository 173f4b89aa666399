"""Faults that break the BAT clauses (`@serve.batch`) of the reference implementation."""

from __future__ import annotations

from typing import Any

import pytest
from faulty import fault

from reference_impl import batching, serve


@fault("batches-of-one", "BAT-1")
def _(mp: pytest.MonkeyPatch) -> None:
    """Every call runs alone: the batcher never gathers concurrent calls."""
    mp.setattr(batching._BatchQueue, "_take", lambda self: [self.calls.pop(0)] if self.calls else [])


@fault("batch-waits-forever", "BAT-2")
def _(mp: pytest.MonkeyPatch) -> None:
    """A partial batch waits a long time for more calls (the timeout is read as minutes)."""
    original = batching._BatchQueue.__post_init__

    def post_init(self: Any) -> None:
        self.settings.batch_wait_timeout_s *= 60
        original(self)

    mp.setattr(batching._BatchQueue, "__post_init__", post_init)


@fault("batch-length-unchecked", "BAT-3")
def _(mp: pytest.MonkeyPatch) -> None:
    """A result list of the wrong length is not refused: callers past its end hang or get nothing."""
    mp.setattr(batching, "_check_length", lambda results, expected: None)


@fault("batch-stream-first-step-only", "BAT-4")
def _(mp: pytest.MonkeyPatch) -> None:
    """A batched generator delivers only its first step to the callers."""

    async def stream(self: Any, batch: list[Any], steps: Any) -> None:
        async for results in steps:
            for call, result in zip(batch, results, strict=True):
                call.items.put_nowait(result)
            break

    mp.setattr(batching._BatchQueue, "_stream", stream)


@fault("batch-setters-ignored", "BAT-5")
def _(mp: pytest.MonkeyPatch) -> None:
    """`set_max_batch_size` changes a copy, not the live batcher."""
    original = batching.batch

    def batch(*args: Any, **kwargs: Any) -> Any:
        decorated = original(*args, **kwargs)

        def wrap(func: Any) -> Any:
            wrapper = decorated(func) if not callable(args[0] if args else None) else decorated
            wrapper.set_max_batch_size = lambda value: None
            return wrapper

        return wrap(args[0]) if args and callable(args[0]) else wrap

    mp.setattr(serve, "batch", batch)


@fault("batch-checks-nothing", "BAT-6")
def _(mp: pytest.MonkeyPatch) -> None:
    """`@serve.batch` accepts any function and any settings."""
    mp.setattr(serve, "batch", lambda func=None, **kwargs: func if func is not None else (lambda f: f))
