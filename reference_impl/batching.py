"""`@serve.batch`: concurrent calls of one replica gathered into one call with lists.

Each call puts its arguments in the replica's queue for the decorated function and
waits. A batch goes out when it reaches `max_batch_size` (as `batch_size_fn`
measures it) or `batch_wait_timeout_s` after its first call arrived, whichever is
first; at most `max_concurrent_batches` run at once. The function gets one list per
parameter and returns one result per call (an async generator yields one list per
step, and each caller iterates its own items). Ray keeps one queue per process; the
reference runs many replicas in one process, so it keeps one per replica loop.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from .exceptions import RayServeException
from .unavailable import ray_names_getattr

__all__ = ["batch"]


def _check(max_batch_size: Any, batch_wait_timeout_s: Any, max_concurrent_batches: Any, batch_size_fn: Any) -> None:
    """Ray 2.60's checks and messages."""
    if not isinstance(max_batch_size, int) and not (isinstance(max_batch_size, float) and max_batch_size.is_integer()):
        raise TypeError(f"max_batch_size must be integer >= 1, got {max_batch_size}")
    if max_batch_size < 1:
        raise ValueError(f"max_batch_size must be an integer >= 1, got {max_batch_size}")
    if not isinstance(batch_wait_timeout_s, float | int):
        raise TypeError(f"batch_wait_timeout_s must be a float >= 0, got {batch_wait_timeout_s}")
    if batch_wait_timeout_s < 0:
        raise ValueError(f"batch_wait_timeout_s must be a float >= 0, got {batch_wait_timeout_s}")
    if not isinstance(max_concurrent_batches, int) or max_concurrent_batches < 1:
        raise TypeError(f"max_concurrent_batches must be an integer >= 1, got {max_concurrent_batches}")
    if batch_size_fn is not None and not callable(batch_size_fn):
        raise TypeError(f"batch_size_fn must be a callable or None, got {type(batch_size_fn)}")


@dataclass
class _Settings:
    max_batch_size: int
    batch_wait_timeout_s: float
    max_concurrent_batches: int
    batch_size_fn: Callable[[list[Any]], int] | None


@dataclass
class _Call:
    owner: Any
    args: list[Any]
    future: asyncio.Future[Any] | None = None  # a plain call's result
    items: asyncio.Queue[Any] | None = None  # a streamed call's items


_DONE = object()


@dataclass
class _Raised:
    error: BaseException


@dataclass
class _BatchQueue:
    """The waiting calls of one decorated function on one replica loop."""

    func: Callable[..., Any]
    settings: _Settings
    calls: list[_Call] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    running: set[asyncio.Task[Any]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.settings.max_concurrent_batches)
        self._loop_task = asyncio.get_running_loop().create_task(self._form_batches())

    def put(self, call: _Call) -> None:
        self.calls.append(call)
        self.arrived.set()

    def _size(self, calls: list[_Call]) -> int:
        fn = self.settings.batch_size_fn
        return fn([c.args[0] for c in calls]) if fn is not None else len(calls)

    def _take(self) -> list[_Call]:
        self.calls = [c for c in self.calls if not (c.future is not None and c.future.done())]
        taken: list[_Call] = []
        for call in list(self.calls):
            if taken and self._size([*taken, call]) > self.settings.max_batch_size:
                break
            taken.append(call)
        del self.calls[: len(taken)]
        return taken

    async def _form_batches(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self.calls:
                self.arrived.clear()
                await self.arrived.wait()
            deadline = loop.time() + self.settings.batch_wait_timeout_s
            while self._size(self.calls) < self.settings.max_batch_size:
                left = deadline - loop.time()
                if left <= 0:
                    break
                self.arrived.clear()
                try:
                    await asyncio.wait_for(self.arrived.wait(), left)
                except asyncio.TimeoutError:  # TimeoutError itself from Python 3.11 on
                    break
            batch = self._take()
            if not batch:
                continue
            await self._slots.acquire()
            task = loop.create_task(self._run(batch))
            self.running.add(task)
            task.add_done_callback(self.running.discard)

    async def _run(self, batch: list[_Call]) -> None:
        try:
            columns = [list(column) for column in zip(*(c.args for c in batch), strict=True)]
            owner = batch[0].owner
            args = columns if owner is None else [owner, *columns]
            if inspect.isasyncgenfunction(self.func):
                await self._stream(batch, self.func(*args))
            else:
                results = await self.func(*args)
                _check_length(results, len(batch))
                for call, result in zip(batch, results, strict=True):
                    if call.future is not None and not call.future.done():
                        call.future.set_result(result)
        except BaseException as err:  # every caller of the batch gets the error
            for call in batch:
                if call.future is not None and not call.future.done():
                    call.future.set_exception(err)
                elif call.items is not None:
                    call.items.put_nowait(_Raised(err))
            if isinstance(err, asyncio.CancelledError):
                raise
        finally:
            for call in batch:
                if call.items is not None:
                    call.items.put_nowait(_DONE)
            self._slots.release()

    async def _stream(self, batch: list[_Call], steps: Any) -> None:
        async for results in steps:
            _check_length(results, len(batch))
            for call, result in zip(batch, results, strict=True):
                if call.items is not None and result is not StopIteration:
                    call.items.put_nowait(result)


def _check_length(results: Any, expected: int) -> None:
    if len(results) != expected:
        raise RayServeException(
            "Batched function doesn't preserve batch size. "
            f"The input list has length {expected} but the "
            f"returned list has length {len(results)}."
        )


class _Batcher:
    """One decorated function: its signature, its default settings, and its queue on each
    replica loop that calls it (made on the loop's first call, gone with the loop)."""

    def __init__(self, func: Callable[..., Any], defaults: _Settings) -> None:
        self.func = func
        self.signature = inspect.signature(func)
        self.defaults = defaults
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _BatchQueue] = weakref.WeakKeyDictionary()

    def queue(self) -> _BatchQueue:
        loop = asyncio.get_running_loop()
        found = self._queues.get(loop)
        if found is None:
            found = self._queues[loop] = _BatchQueue(self.func, _Settings(**vars(self.defaults)))
        return found

    def enqueue(self, args: tuple[Any, ...], kwargs: dict[str, Any], *, streamed: bool) -> _Call:
        values = list(self.signature.bind(*args, **kwargs).arguments.values())
        owner = _bound_instance(args, self.func)
        call = _Call(owner, values[1:] if owner is not None else values)
        if streamed:
            call.items = asyncio.Queue()
        else:
            call.future = asyncio.get_running_loop().create_future()
        self.queue().put(call)
        return call

    async def result(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        future = self.enqueue(args, kwargs, streamed=False).future
        assert future is not None
        return await future

    async def items(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> AsyncIterator[Any]:
        items = self.enqueue(args, kwargs, streamed=True).items
        assert items is not None
        while (item := await items.get()) is not _DONE:
            if isinstance(item, _Raised):
                raise item.error
            yield item

    def settings(self) -> _Settings:
        """The calling loop's queue's settings; outside a loop, those new queues start with."""
        try:
            return self.queue().settings
        except RuntimeError:  # no running loop
            return self.defaults

    def set_max_batch_size(self, value: int) -> None:
        _check(value, 0, 1, None)
        self.settings().max_batch_size = int(value)

    def set_batch_wait_timeout_s(self, value: float) -> None:
        _check(1, value, 1, None)
        self.settings().batch_wait_timeout_s = value


def batch(
    _func: Callable[..., Any] | None = None,
    /,
    max_batch_size: int = 10,
    batch_wait_timeout_s: float = 0.01,
    max_concurrent_batches: int = 1,
    batch_size_fn: Callable[[list[Any]], int] | None = None,
) -> Any:
    """`@serve.batch` or `@serve.batch(max_batch_size=..., batch_wait_timeout_s=...)` on an
    `async def` function or method taking lists and returning a list of the same length."""
    if _func is not None:
        if not callable(_func):
            raise TypeError("@serve.batch can only be used to decorate functions or methods.")
        if not (inspect.iscoroutinefunction(_func) or inspect.isasyncgenfunction(_func)):
            raise TypeError("Functions decorated with @serve.batch must be 'async def'")
    _check(max_batch_size, batch_wait_timeout_s, max_concurrent_batches, batch_size_fn)
    defaults = _Settings(int(max_batch_size), batch_wait_timeout_s, max_concurrent_batches, batch_size_fn)

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        batcher = _Batcher(func, defaults)
        wrapper: Any
        if inspect.isasyncgenfunction(func):

            @functools.wraps(func)
            async def wrapper(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
                async for item in batcher.items(args, kwargs):  # an async generator function, as `func`
                    yield item

        else:

            @functools.wraps(func)
            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                return await batcher.result(args, kwargs)

        # Ray's names on the decorated function.
        wrapper.set_max_batch_size = batcher.set_max_batch_size
        wrapper.set_batch_wait_timeout_s = batcher.set_batch_wait_timeout_s
        wrapper._get_max_batch_size = lambda: batcher.settings().max_batch_size
        wrapper._get_batch_wait_timeout_s = lambda: batcher.settings().batch_wait_timeout_s
        return cast(Callable[..., Any], wrapper)

    return decorate(_func) if _func is not None else decorate


def _bound_instance(args: tuple[Any, ...], func: Callable[..., Any]) -> Any:
    """`self` when the wrapper was called as a method, else None (Ray's rule)."""
    if not args:
        return None
    method = getattr(args[0], func.__name__, None)
    return args[0] if getattr(method, "__wrapped__", None) is func else None


# Ray's names this module lacks: importing them works, using them says to run on Ray
# (hidden from type checkers, which would otherwise accept any name from this module).
if not TYPE_CHECKING:
    __getattr__ = ray_names_getattr("ray.serve.batching")
