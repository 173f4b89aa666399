"""`@serve.multiplexed`: many models per replica, loaded on demand, evicted LRU.

A request names its model with the `serve_multiplexed_model_id` HTTP header or
`handle.options(multiplexed_model_id=...)`; the handler reads it with
`serve.get_multiplexed_model_id()` and awaits the decorated loader, which loads
each model once per replica and keeps at most `max_num_models_per_replica` of
them. As in Ray 2.60, an evicted model's `__del__` is called eagerly (awaited if
async), and the replica keeps no reference to it, so it can be collected.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .context import current_replica
from .finalizers import finalize
from .unavailable import ray_names_getattr

__all__ = ["MULTIPLEXED_MODEL_ID_HEADER", "model_id_of", "multiplexed"]

MULTIPLEXED_MODEL_ID_HEADER = "serve_multiplexed_model_id"

_ARGS_ERROR = (
    # Ray 2.60's wording, missing space included.
    "Functions decorated with `@serve.multiplexed` must take exactly onethe multiplexed model ID (str), but got {}"
)


def model_id_of(headers: list[tuple[bytes, bytes]]) -> str:
    """The `serve_multiplexed_model_id` header's value; as in Ray, in any case and
    with `-` for `_` (what nginx and API gateways make of it)."""
    for key, value in headers:
        if len(key) == 26 and key.decode("latin-1").lower().replace("-", "_") == MULTIPLEXED_MODEL_ID_HEADER:
            return value.decode("latin-1")
    return ""


class _Multiplexer:
    """One loader's models on one replica, least recently used first."""

    def __init__(self, load: Callable[..., Awaitable[Any]], owner: Any, limit: int) -> None:
        self._load = load
        self._owner = owner  # the deployment instance for a method, None for a function
        self._limit = limit
        self.models: OrderedDict[str, Any] = OrderedDict()
        self._lock = asyncio.Lock()

    async def get(self, model_id: str) -> Any:
        if not isinstance(model_id, str):
            raise TypeError("The model ID must be a string.")
        if not model_id:
            raise ValueError("The model ID cannot be empty.")
        if model_id in self.models:
            self.models.move_to_end(model_id)
            return self.models[model_id]
        async with self._lock:  # one load or unload at a time, as in Ray
            if model_id in self.models:  # loaded by a request that held the lock
                return self.models[model_id]
            if 0 < self._limit <= len(self.models):
                await self._evict_oldest()
            args = (model_id,) if self._owner is None else (self._owner, model_id)
            self.models[model_id] = model = await self._load(*args)
            return model

    async def _evict_oldest(self) -> None:
        _, model = self.models.popitem(last=False)
        await finalize(model, sync_in_executor=True, disarm=False)


def multiplexed(func: Callable[..., Any] | None = None, max_num_models_per_replica: int = 3) -> Any:
    """Decorate an async `load(model_id)` function or method (Ray 2.60's checks)."""
    if func is not None:
        if not callable(func):
            raise TypeError("The `multiplexed` decorator must be used with a function or method.")
        if not inspect.iscoroutinefunction(func):
            raise TypeError("@serve.multiplexed can only be used to decorate async functions or methods.")
        if not 1 <= len(inspect.signature(func).parameters) <= 2:
            raise TypeError(
                "@serve.multiplexed can only be used to decorate functions or methods "
                "with at least one 'model_id: str' argument."
            )
    if not isinstance(max_num_models_per_replica, int):
        raise TypeError("max_num_models_per_replica must be an integer.")
    if max_num_models_per_replica != -1 and max_num_models_per_replica <= 0:
        raise ValueError("max_num_models_per_replica must be positive.")

    def decorate(load: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(load)
        async def get_model(*args: Any) -> Any:
            if not args:
                raise TypeError(_ARGS_ERROR.format("no arguments are provided."))
            owner = _bound_instance(args, load)
            if len(args) != (1 if owner is None else 2):
                raise TypeError(_ARGS_ERROR.format("more than one arguments."))
            replica = current_replica.get()
            if replica is None:
                raise RuntimeError(
                    "`@serve.multiplex` can only be used within a deployment "
                    "(failed to retrieve Serve replica context)."
                )
            mux = replica._multiplexers.get(load)
            if mux is None:
                mux = replica._multiplexers[load] = _Multiplexer(load, owner, max_num_models_per_replica)
            return await mux.get(args[-1])

        get_model.__serve_multiplexed__ = True  # type: ignore[attr-defined]
        return get_model

    return decorate(func) if callable(func) else decorate


def _bound_instance(args: tuple[Any, ...], load: Callable[..., Any]) -> Any:
    """`self` when the wrapper was called as a method of an instance, else None."""
    method = getattr(args[0], load.__name__, None)
    return args[0] if getattr(method, "__wrapped__", None) is load else None


# Ray's names this module lacks: importing them works, using them says to run on Ray
# (hidden from type checkers, which would otherwise accept any name from this module).
if not TYPE_CHECKING:
    __getattr__ = ray_names_getattr("ray.serve.multiplex")
