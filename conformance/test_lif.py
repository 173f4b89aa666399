"""LIF: a replica's life: failed deploys, shutdown hooks, health checks (beyond the guide).

Replicas record what happens to them in `serve_probe` (on Ray they are other
processes): constructions, lifespan events, `__del__` calls and health checks.
"""

from __future__ import annotations

import itertools
import statistics
import time
from typing import Any

import pytest

from pytest_serve import http_client

REPLY_TIMEOUT_S = 30.0
# Ray tries a failing replica three times before the deploy fails; a health-checked
# replica is replaced after three failed checks in a row.
ATTEMPTS = 3
HOOK_TIMEOUT_S = 30.0  # serve.delete waits for the shutdown; the hooks are recorded by then
HEALTH_PERIOD_S = 1.0
REPLACE_TIMEOUT_S = 60.0


def _name(status: Any) -> str:
    """A status enum's name: Ray's print as `DeploymentStatus.HEALTHY`."""
    return str(status).rpartition(".")[2]


def _failed_deploy(serve: Any, app: Any, name: str) -> str:
    """Deploy `app`, which must fail; the error's text (one line on Ray 2.60: the cause is
    in `serve.status()`, not in the error)."""
    with pytest.raises(RuntimeError) as raised:
        serve.run(app, name=name, route_prefix=f"/{name}")
    return str(raised.value)


def _assert_deploy_failed(serve: Any, instance: Any, name: str, deployment: str) -> Any:
    status = serve.status().applications[name]
    assert (_name(status.status), status.message) == (
        "DEPLOY_FAILED",
        f"Failed to update the deployments ['{deployment}'].",
    )
    dep = status.deployments[deployment]
    assert (_name(dep.status), _name(dep.status_trigger)) == (
        "DEPLOY_FAILED",
        "REPLICA_STARTUP_FAILED",
    )
    assert dep.message.startswith(f"The deployment failed to start {ATTEMPTS} times in a row."), dep.message
    with http_client(timeout=REPLY_TIMEOUT_S) as client:
        response = client.get(f"{instance.base_url}/{name}")
    assert (response.status_code, instance.in_test_names(response.text)) == (
        503,
        f"Deployment(name='{deployment}', app='{name}') is unavailable because it failed to deploy.",
    )
    assert response.headers.get("x-request-id"), dict(response.headers)
    return dep


@pytest.mark.clause("LIF-1")
def test_lif_1_raising_constructor_fails_the_deploy(serve, serve_instance, serve_probe):
    """The constructor is tried three times; `serve.run` raises RuntimeError naming the
    app and the deployment; the app stays, DEPLOY_FAILED with Ray's messages (the
    constructor's error among them), and its route answers 503."""

    @serve.deployment
    class Unbuildable:
        def __init__(self, probe: Any) -> None:
            probe.record("constructed")
            raise ValueError("lif1: no weights file")

        def __call__(self) -> str:
            return "never"

    try:
        first = _failed_deploy(serve, Unbuildable.bind(serve_probe), "lif1")
        assert first == "Deploying application lif1 failed: Failed to update the deployments ['Unbuildable'].", first
        assert len(serve_probe.events("constructed")) == ATTEMPTS, serve_probe.events("constructed")
        dep = _assert_deploy_failed(serve, serve_instance, "lif1", "Unbuildable")
        assert "ValueError: lif1: no weights file" in dep.message, dep.message
        assert "RUNNING" not in dep.replica_states, dep.replica_states
    finally:
        serve.delete("lif1")


@pytest.mark.clause("LIF-1")
def test_lif_1_failing_lifespan_startup_fails_the_deploy(serve, serve_instance):
    """The same for a FastAPI ingress whose lifespan startup raises."""
    from contextlib import asynccontextmanager

    from fastapi import FastAPI

    @asynccontextmanager
    async def lifespan(app: Any) -> Any:
        raise RuntimeError("lif1: model store unreachable")
        yield

    api = FastAPI(lifespan=lifespan)

    @serve.deployment
    @serve.ingress(api)
    class NoStore:
        @api.get("/")
        def root(self) -> str:
            return "never"

    try:
        first = _failed_deploy(serve, NoStore.bind(), "lif1b")
        assert first == "Deploying application lif1b failed: Failed to update the deployments ['NoStore'].", first
        _assert_deploy_failed(serve, serve_instance, "lif1b", "NoStore")
    finally:
        serve.delete("lif1b")


def _hooked_apps(serve: Any, probe: Any) -> tuple[Any, Any]:
    """An ingress with a lifespan and an async `__del__`, and a plain deployment with a
    sync one; the `__del__`s record the tag they were bound with."""
    import asyncio
    from contextlib import asynccontextmanager

    from fastapi import FastAPI

    @asynccontextmanager
    async def lifespan(app: Any) -> Any:
        probe.record("lifespan startup")
        yield
        probe.record("lifespan shutdown")

    api = FastAPI(lifespan=lifespan)

    @serve.deployment
    @serve.ingress(api)
    class Hooked:
        def __init__(self, tag: str, probe: Any) -> None:
            self.tag, self.probe = tag, probe

        @api.get("/")
        def root(self) -> str:
            return self.tag

        async def __del__(self) -> None:
            self.probe.record("async del started", tag=self.tag)
            await asyncio.sleep(0.2)
            self.probe.record("async del finished", tag=self.tag)

    @serve.deployment
    class Plain:
        def __init__(self, tag: str, probe: Any) -> None:
            self.tag, self.probe = tag, probe

        def __call__(self) -> str:
            return self.tag

        def __del__(self) -> None:
            self.probe.record("sync del", tag=self.tag)

    return Hooked, Plain


def _assert_hooks_ran_once_in_order(probe: Any, tag: str) -> None:
    """One lifespan shutdown (only one replica stopped), then `tag`'s async `__del__`
    from start to end; `tag`'s sync `__del__` once."""
    probe.wait_for("async del finished", tag=tag, timeout=HOOK_TIMEOUT_S)
    probe.wait_for("sync del", tag=tag, timeout=HOOK_TIMEOUT_S)
    shutdown = probe.events("lifespan shutdown")
    started = probe.events("async del started", tag=tag)
    finished = probe.events("async del finished", tag=tag)
    assert (len(shutdown), len(started), len(finished), len(probe.events("sync del", tag=tag))) == (1, 1, 1, 1), (
        probe.events()
    )
    assert shutdown[0].t <= started[0].t < finished[0].t, probe.events()


@pytest.mark.clause("LIF-2")
def test_lif_2_delete_runs_lifespan_shutdown_then_del(serve, serve_app, serve_probe):
    """`serve.delete` runs the ingress's lifespan shutdown, then its async `__del__`
    (awaited to its end), and a plain deployment's sync `__del__`, each once."""
    Hooked, Plain = _hooked_apps(serve, serve_probe)
    ingress = serve_app(Hooked.bind("deleted", serve_probe), route_prefix="/lif2", name="lif2")
    plain = serve_app(Plain.bind("deleted", serve_probe), route_prefix="/lif2p", name="lif2p")
    assert ingress.http.get("/lif2/").json() == "deleted"
    assert plain.http.get("/lif2p").text == "deleted"
    serve_probe.wait_for("lifespan startup", timeout=1)
    assert not serve_probe.events("lifespan shutdown") and not serve_probe.events("sync del")
    serve.delete("lif2")
    serve.delete("lif2p")
    _assert_hooks_ran_once_in_order(serve_probe, "deleted")


@pytest.mark.clause("LIF-2")
def test_lif_2_redeploy_runs_the_old_replicas_hooks(serve, serve_app, serve_instance, serve_probe):
    """Deploying a new version runs the old replicas' hooks the same way; the new
    version serves and its hooks have not run."""
    Hooked, Plain = _hooked_apps(serve, serve_probe)
    ingress = serve_app(Hooked.bind("v1", serve_probe), route_prefix="/lif2r", name="lif2r")
    plain = serve_app(Plain.bind("v1", serve_probe), route_prefix="/lif2rp", name="lif2rp")
    serve_instance.deploy(Hooked.bind("v2", serve_probe), name="lif2r", route_prefix="/lif2r")
    serve_instance.deploy(Plain.bind("v2", serve_probe), name="lif2rp", route_prefix="/lif2rp")
    _assert_hooks_ran_once_in_order(serve_probe, "v1")
    assert ingress.http.get("/lif2r/").json() == "v2"
    assert plain.http.get("/lif2rp").text == "v2"
    for hook in ("async del started", "sync del"):
        assert not serve_probe.events(hook, tag="v2"), serve_probe.events()


def _health_checked(serve: Any, probe: Any) -> Any:
    @serve.deployment(health_check_period_s=HEALTH_PERIOD_S, health_check_timeout_s=10)
    class Checked:
        """Unhealthy once the probe holds an "unhealthy" event with its ID (the probe, not a
        file: a replica on another node of a cluster sees it too)."""

        def __init__(self) -> None:
            import uuid

            self.id = uuid.uuid4().hex
            probe.record("constructed", replica=self.id)

        def check_health(self) -> None:
            probe.record("checked", replica=self.id)
            if probe.events("unhealthy", replica=self.id):
                probe.record("check failed", replica=self.id)
                raise RuntimeError(f"replica {self.id} lost its model")

        def __call__(self) -> str:
            return self.id

        def __del__(self) -> None:
            probe.record("del", replica=self.id)

    return Checked.bind()


@pytest.mark.clause("LIF-3")
def test_lif_3_check_health_runs_at_start_and_then_every_period(serve, serve_app, serve_probe, serve_observe):
    """`check_health` runs once before the replica takes requests, then about every
    `health_check_period_s` (Ray adds up to ±10 % of jitter)."""
    before = serve_probe.now()
    app = serve_app(_health_checked(serve, serve_probe), route_prefix="/lif3a")
    ready = serve_probe.now()
    replica = app.http.get("/lif3a").text
    checks = serve_probe.events("checked", replica=replica)
    assert checks and before < checks[0].t < ready, (before, checks, ready)
    serve_probe.wait_for("checked", replica=replica, count=5, timeout=10 * HEALTH_PERIOD_S + 10)
    times = [e.t for e in serve_probe.events("checked", replica=replica)]
    # The periodic checks: from the second interval on (Ray checks once more right after
    # the replica starts).
    median = statistics.median(b - a for a, b in itertools.pairwise(times[1:]))
    serve_observe.record("health-check interval (median)", round(median, 3), "s", expected=f"{HEALTH_PERIOD_S} s")
    assert 0.8 * HEALTH_PERIOD_S <= median <= 2.0 * HEALTH_PERIOD_S, times


@pytest.mark.clause("LIF-3")
def test_lif_3_three_failed_checks_replace_the_replica(serve, serve_app, serve_probe, serve_observe):
    """After three failed checks in a row the replica is stopped (its `__del__` runs,
    it is not checked again) and a new one is constructed in its place, which then
    answers; the deployment is HEALTHY again with one running replica."""
    app = serve_app(_health_checked(serve, serve_probe), route_prefix="/lif3b", name="lif3b")
    sick = app.http.get("/lif3b").text
    marked = serve_probe.now()
    serve_probe.record("unhealthy", replica=sick)
    stopped = serve_probe.wait_for("del", replica=sick, timeout=REPLACE_TIMEOUT_S)
    serve_observe.record("unhealthy replica stopped after", round(stopped.t - marked, 2), "s")
    failed = serve_probe.events("check failed", replica=sick)
    assert len(failed) == ATTEMPTS, failed
    deadline = time.monotonic() + REPLACE_TIMEOUT_S
    answer = sick
    while answer == sick and time.monotonic() < deadline:
        answer = app.http.get("/lif3b", timeout=REPLY_TIMEOUT_S).text
        time.sleep(0.1)
    assert answer != sick, "the unhealthy replica is still answering"
    assert [e.data["replica"] for e in serve_probe.events("constructed")][-1] == answer
    deadline = time.monotonic() + REPLACE_TIMEOUT_S
    while time.monotonic() < deadline:
        dep = serve.status().applications["lif3b"].deployments["Checked"]
        if (_name(dep.status), dep.replica_states) == ("HEALTHY", {"RUNNING": 1}):
            break
        time.sleep(0.1)
    assert (_name(dep.status), dep.replica_states) == ("HEALTHY", {"RUNNING": 1}), dep
