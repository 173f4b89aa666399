"""Calling a user object's `__del__` eagerly, as Ray does when a replica shuts down
and when a multiplexed model is evicted.

Ray runs `__del__` itself (awaiting it when it is a coroutine function). A stopped
replica's process then exits, so its object's `__del__` runs once; here the object
lives on in the same process until it is collected, so it is disarmed: the collector
must not call `__del__` a second time (or leave an async one's coroutine un-awaited).
An evicted model stays in Ray's replica process, and Python calls its `__del__`
again when it is collected: that is left as it is.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

__all__ = ["finalize"]


async def finalize(obj: Any, *, sync_in_executor: bool = False, disarm: bool = True) -> None:
    """Call `obj.__del__` if its class has one; then disarm it, or (`disarm=False`)
    only shadow it on the instance, as Ray does."""
    if getattr(type(obj), "__del__", None) is None:
        return
    finalizer = obj.__del__
    try:
        if inspect.iscoroutinefunction(finalizer):
            await finalizer()
        elif sync_in_executor:
            await asyncio.get_running_loop().run_in_executor(None, finalizer)
        else:
            finalizer()
    finally:
        if disarm:
            _disarm(obj)
        else:
            try:
                obj.__del__ = _no_finalizer
            except (AttributeError, TypeError):
                pass


def _disarm(obj: Any) -> None:
    try:
        obj.__class__ = _without_finalizer(type(obj))
    except Exception:  # a class whose instances cannot change class: leave it
        pass


_DISARMED: dict[type, type] = {}


def _without_finalizer(cls: type) -> type:
    """A subclass of `cls` whose `__del__` does nothing (made once per class)."""
    disarmed = _DISARMED.get(cls)
    if disarmed is None:
        namespace = {"__del__": _no_finalizer, "__module__": cls.__module__, "__qualname__": cls.__qualname__}
        disarmed = _DISARMED[cls] = type(cls.__name__, (cls,), namespace)
    return disarmed


def _no_finalizer(self: Any) -> None:
    pass
