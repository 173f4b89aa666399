"""Faults that break the CTX clauses (replica context, user_config) of the reference."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from faulty import fault

from reference_impl.runtime import replica


@fault("every-replica-rank-0", "CTX-1")
def _(mp: pytest.MonkeyPatch) -> None:
    """Every replica of a deployment reports rank 0, as if it were alone."""
    original = replica.Replica.__init__

    def init(self: Any, deployment: Any, app_name: str, index: int, *args: Any, **kwargs: Any) -> None:
        original(self, deployment, app_name, index, *args, **kwargs)
        self.context.rank = self.context.rank.model_copy(update={"rank": 0, "local_rank": 0})

    mp.setattr(replica.Replica, "__init__", init)


@fault("rank-not-passed", "CTX-2")
def _(mp: pytest.MonkeyPatch) -> None:
    """`reconfigure(config, rank)` is called with the config only, as if nobody asked for the rank."""
    original = replica._has_parameter
    mp.setattr(replica, "_has_parameter", lambda fn, name: False if name == "rank" else original(fn, name))


@fault("reconfigure-in-background", "CTX-2")
def _(mp: pytest.MonkeyPatch) -> None:
    """`reconfigure` is started, not awaited: the replica takes requests while an async one runs."""
    original = replica.Replica.reconfigure

    async def reconfigure(self: Any, user_config: Any) -> None:
        task = asyncio.get_running_loop().create_task(original(self, user_config))
        _BACKGROUND.add(task)
        task.add_done_callback(_BACKGROUND.discard)

    mp.setattr(replica.Replica, "reconfigure", reconfigure)


_BACKGROUND: set[Any] = set()


@fault("missing-reconfigure-ignored", "CTX-3")
def _(mp: pytest.MonkeyPatch) -> None:
    """A user_config on a class without reconfigure() is silently dropped."""
    original = replica.Replica.reconfigure

    async def reconfigure(self: Any, user_config: Any) -> None:
        if getattr(self.instance, "reconfigure", None) is None:
            return
        await original(self, user_config)

    mp.setattr(replica.Replica, "reconfigure", reconfigure)
