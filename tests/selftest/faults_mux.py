"""Faults that break the MUX clauses (model multiplexing) of the reference implementation."""

from __future__ import annotations

from typing import Any

import pytest
from faulty import fault

from reference_impl import multiplex as multiplexing
from reference_impl import serve
from reference_impl.runtime import proxy


@fault("model-id-header-ignored", "MUX-1")
def _(mp: pytest.MonkeyPatch) -> None:
    """The proxy never reads the `serve_multiplexed_model_id` header."""
    mp.setattr(proxy, "model_id_of", lambda headers: "")


@fault("model-loaded-every-time", "MUX-2")
def _(mp: pytest.MonkeyPatch) -> None:
    """The loader's cache is never consulted: every request loads its model again."""
    original = multiplexing._Multiplexer.get

    async def get(self: Any, model_id: str) -> Any:
        self.models.pop(model_id, None)
        return await original(self, model_id)

    mp.setattr(multiplexing._Multiplexer, "get", get)


@fault("concurrent-first-loads", "MUX-2")
def _(mp: pytest.MonkeyPatch) -> None:
    """A loader runs once per request that finds its model missing, concurrent ones included
    (no lock around the load): sequential requests still share one model."""

    async def get(self: Any, model_id: str) -> Any:
        if model_id not in self.models:
            args = (model_id,) if self._owner is None else (self._owner, model_id)
            model = await self._load(*args)
            return self.models.setdefault(model_id, model)
        return self.models[model_id]

    mp.setattr(multiplexing._Multiplexer, "get", get)


@fault("evicts-most-recent", "MUX-3")
def _(mp: pytest.MonkeyPatch) -> None:
    """When the cache is full, the most recently used model is evicted, not the least."""

    async def evict(self: Any) -> None:
        self.models.popitem(last=True)

    mp.setattr(multiplexing._Multiplexer, "_evict_oldest", evict)


@fault("evicted-model-kept", "MUX-3")
def _(mp: pytest.MonkeyPatch) -> None:
    """Evicted models are kept in a list (e.g. for statistics), so they are never collected."""
    kept: list[Any] = []
    original = multiplexing._Multiplexer._evict_oldest

    async def evict(self: Any) -> None:
        kept.append(next(iter(self.models.values())))
        await original(self)

    mp.setattr(multiplexing._Multiplexer, "_evict_oldest", evict)


@fault("multiplexed-checks-nothing", "MUX-4")
def _(mp: pytest.MonkeyPatch) -> None:
    """`@serve.multiplexed` accepts any loader and any limit."""

    def lenient(func: Any = None, max_num_models_per_replica: Any = 3) -> Any:
        return func if func is not None else (lambda f: f)

    mp.setattr(serve, "multiplexed", lenient)
