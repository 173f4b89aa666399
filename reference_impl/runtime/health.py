"""Health checks of replicas whose class defines `check_health`, as Ray's controller.

Each replica is checked every `health_check_period_s` × U(0.9, 1.1) (so replicas do
not check in step), each call bounded by `health_check_timeout_s`. After
`UNHEALTHY_THRESHOLD` failures in a row the replica is handed to `on_unhealthy`,
which replaces it. The checks run on a loop of their own, so a slow or blocking
`check_health` delays neither the proxy nor other replicas' checks.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from .loops import LoopThread

if TYPE_CHECKING:
    from .replica import Replica

__all__ = ["UNHEALTHY_THRESHOLD", "HealthMonitor"]

logger = logging.getLogger("reference_impl")

UNHEALTHY_THRESHOLD = 3  # Ray's REPLICA_HEALTH_CHECK_UNHEALTHY_THRESHOLD


class HealthMonitor:
    def __init__(self, on_unhealthy: Callable[[Replica], None]) -> None:
        self._on_unhealthy = on_unhealthy
        self._thread: LoopThread | None = None

    def watch(self, replica: Replica) -> None:
        """Check `replica` until it stops; a replica without `check_health` is skipped."""
        if not replica.has_health_check:
            return
        if self._thread is None:  # started with the first replica that needs it
            self._thread = LoopThread("serve-health")
        self._thread.submit(self._watch(replica))

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.stop()

    async def _watch(self, replica: Replica) -> None:
        options = replica.deployment.options_
        failures = 0
        while True:
            await asyncio.sleep(options.health_check_period_s * random.uniform(0.9, 1.1))
            if replica.stopped:
                return
            try:
                check = asyncio.wrap_future(replica.submit_health_check())
                await asyncio.wait_for(check, options.health_check_timeout_s)
            except Exception as err:
                failures += 1
                logger.warning(
                    "Health check %d of %d for replica %s failed: %r", failures, UNHEALTHY_THRESHOLD, replica.id, err
                )
                if failures >= UNHEALTHY_THRESHOLD:
                    await asyncio.get_running_loop().run_in_executor(None, self._on_unhealthy, replica)
                    return
            else:
                failures = 0
