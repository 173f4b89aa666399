"""CTX — the replica context and `user_config` (clauses CTX-1 … CTX-4).

What a replica knows about itself is read inside the replica (constructor,
`reconfigure`, requests) and sent back as plain data.
"""

import asyncio

import pytest


@pytest.mark.clause("CTX-1")
def test_ctx_1_replica_context_inside_replicas(serve, serve_app) -> None:
    """`serve.get_replica_context()` in `__init__` and in a request: the app's name, the
    deployment's name, a replica tag that differs between the two replicas, the instance
    itself as `servable_object`, `world_size` 2 and ranks {0, 1}. Two calls at once reach
    both replicas (`max_ongoing_requests=1`)."""

    def fields():
        context = serve.get_replica_context()
        return {
            "app_name": context.app_name,
            "deployment": context.deployment,
            "replica_tag": context.replica_tag,
            "rank": context.rank.rank,
            "world_size": context.world_size,
        }

    @serve.deployment(num_replicas=2, max_ongoing_requests=1)
    class Who:
        def __init__(self):
            self.at_init = fields()

        async def __call__(self):
            await asyncio.sleep(0.5)  # hold the slot, so the other call goes elsewhere
            context = serve.get_replica_context()
            return {"init": self.at_init, "now": fields(), "servable": context.servable_object is self}

    app = serve_app(Who.bind(), route_prefix=None, name="ctx1")
    calls = [app.handle.remote(), app.handle.remote()]
    seen = {answer["now"]["replica_tag"]: answer for answer in (c.result() for c in calls)}
    assert len(seen) == 2, f"two concurrent calls did not reach two replicas: {seen}"
    for answer in seen.values():
        assert answer["init"] == answer["now"], answer
        assert answer["servable"] is True, answer
        assert answer["now"]["app_name"] == "ctx1" and answer["now"]["deployment"] == "Who", answer
        assert answer["now"]["world_size"] == 2, answer
    assert sorted(a["now"]["rank"] for a in seen.values()) == [0, 1], seen


@pytest.mark.clause("CTX-1")
def test_ctx_1_no_replica_context_outside_replicas(serve) -> None:
    """Outside a replica, `serve.get_replica_context()` raises Ray's `RayServeException`
    ("may only be called from within a Ray Serve deployment")."""
    with pytest.raises(serve.exceptions.RayServeException, match="may only be called from within"):
        serve.get_replica_context()


@pytest.mark.clause("CTX-2")
def test_ctx_2_user_config_reaches_reconfigure(serve, serve_app) -> None:
    """A deployment with `user_config={"threshold": 3}` has `reconfigure(config)` called with
    that dict before its first request; a `reconfigure(self, config, rank)` also receives
    the replica's rank (a `ReplicaRank` whose `rank` is the replica's)."""

    @serve.deployment(user_config={"threshold": 3})
    class Configured:
        def __init__(self):
            self.config = None

        def reconfigure(self, config):
            self.config = config

        def __call__(self):
            return self.config

    @serve.deployment(user_config={"threshold": 4})
    class RankAware:
        def __init__(self):
            self.got = None

        def reconfigure(self, config, rank):
            self.got = (config, type(rank).__name__, rank.rank)

        def __call__(self):
            return self.got

    plain = serve_app(Configured.bind(), route_prefix=None, name="ctx2a")
    assert plain.handle.remote().result() == {"threshold": 3}
    ranked = serve_app(RankAware.bind(), route_prefix=None, name="ctx2b")
    assert ranked.handle.remote().result() == ({"threshold": 4}, "ReplicaRank", 0)


@pytest.mark.clause("CTX-2")
def test_ctx_2_async_reconfigure_finishes_before_the_first_request(serve, serve_app) -> None:
    """An `async def reconfigure` that awaits before it stores its config has finished when
    the first request arrives: that request sees the config, not the constructor's None."""

    @serve.deployment(user_config={"threshold": 5})
    class SlowToConfigure:
        def __init__(self):
            self.config = None

        async def reconfigure(self, config):
            import asyncio

            await asyncio.sleep(0.5)
            self.config = config

        def __call__(self):
            return self.config

    app = serve_app(SlowToConfigure.bind(), route_prefix=None, name="ctx2c")
    assert app.handle.remote().result(timeout_s=30) == {"threshold": 5}


@pytest.mark.clause("CTX-3")
def test_ctx_3_user_config_without_reconfigure_fails_the_deploy(serve, serve_app) -> None:
    """`user_config` on a class without `reconfigure` fails the deploy (Ray 2.60:
    `RuntimeError: Deploying application ctx3 failed: Failed to update the deployments
    ['NoReconfigure']`, with "missing reconfigure method" in the app's status), and the
    error names the deployment."""

    @serve.deployment(user_config={"x": 1})
    class NoReconfigure:
        def __call__(self):
            return "unreachable"

    with pytest.raises(pytest.fail.Exception) as failure:
        serve_app(NoReconfigure.bind(), route_prefix=None, name="ctx3")
    assert "NoReconfigure" in str(failure.value), failure.value
