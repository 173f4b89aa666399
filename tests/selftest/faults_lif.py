"""Faults that break the LIF clauses (a replica's life) of the reference implementation."""

from __future__ import annotations

from faulty import fault


@fault("lif-failed-app-dropped", "LIF-1")
def _(mp):
    """A failed deploy leaves no app behind (its route answers 404), as before Ray's model."""
    from reference_impl import instance

    original = instance.ServeInstance._failed_deploy

    def drop(self, new, old):
        error = original(self, new, old)
        kept = self.apps.pop(new.name)
        if kept.route_prefix is not None:
            self._routes.remove(kept.route_prefix)
        kept.stop(drain=False)
        return error

    mp.setattr(instance.ServeInstance, "_failed_deploy", drop)


@fault("lif-no-retries", "LIF-1")
def _(mp):
    """A failing replica is tried once, not three times."""
    from reference_impl import instance

    mp.setattr(instance, "START_ATTEMPTS", 1)


@fault("lif-del-not-called", "LIF-2")
def _(mp):
    """Replicas stop without calling `__del__`."""
    from reference_impl.runtime import replica

    async def nothing(obj, **kwargs):
        return None

    mp.setattr(replica, "finalize", nothing)


@fault("lif-async-del-not-awaited", "LIF-2")
def _(mp):
    """An async `__del__` is called but its coroutine is dropped, not awaited."""
    import inspect

    from reference_impl import finalizers

    original = finalizers.finalize

    async def fire_and_forget(obj, **kwargs):
        finalizer = getattr(type(obj), "__del__", None)
        if finalizer is not None and inspect.iscoroutinefunction(finalizer):
            obj.__del__().close()
            return
        await original(obj, **kwargs)

    from reference_impl.runtime import replica

    mp.setattr(replica, "finalize", fire_and_forget)


@fault("lif-health-never-checked", "LIF-3")
def _(mp):
    """`check_health` is never called."""
    from reference_impl.runtime import health

    mp.setattr(health.HealthMonitor, "watch", lambda self, replica: None)


@fault("lif-unhealthy-kept", "LIF-3")
def _(mp):
    """Failing health checks are logged, the replica is kept."""
    from reference_impl import instance

    mp.setattr(instance.ServeInstance, "_replace_unhealthy", lambda self, replica: None)
