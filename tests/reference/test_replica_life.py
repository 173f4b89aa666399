"""Shutdown hooks, health checks and failed deploys of the reference's replicas, in
the detail the conformance suite leaves out (LIF-1..3): `serve.shutdown`, the
UNHEALTHY window, a failing initial health check, option checks."""

from __future__ import annotations

import contextlib
import gc
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from reference_impl import serve
from reference_impl.exceptions import DeploymentStartError
from reference_impl.instance import ServeInstance

WAIT_S = 20.0
PERIOD_S = 0.1


def eventually(check: Callable[[], bool], timeout: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return check()


class Log:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, event: str) -> None:
        with self.lock:
            self.events.append(event)


def _hooked(log: Log) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log("startup")
        yield
        log("shutdown")

    api = FastAPI(lifespan=lifespan)

    @serve.deployment
    @serve.ingress(api)
    class Hooked:
        @api.get("/")
        def root(self) -> str:
            return "up"

        async def __del__(self) -> None:
            log("async del")

    return Hooked


def test_shutdown_runs_every_replicas_hooks_once(instance: ServeInstance) -> None:
    """serve.shutdown runs each replica's lifespan shutdown, then its `__del__`; the
    disarmed object is collected without a second `__del__`."""
    log = Log()

    @serve.deployment(num_replicas=2)
    class Plain:
        def __call__(self) -> str:
            return "plain"

        def __del__(self) -> None:
            log("sync del")

    serve.run(_hooked(log).bind(), name="hooked", route_prefix="/hooked")
    serve.run(Plain.bind(), name="plain", route_prefix="/plain")
    serve.shutdown()
    gc.collect()
    assert sorted(log.events) == ["async del", "shutdown", "startup", "sync del", "sync del"]
    assert log.events.index("shutdown") < log.events.index("async del")


def test_unhealthy_window_has_rays_statuses_until_the_successor_runs(instance: ServeInstance) -> None:
    """While the replacement of an unhealthy replica is being constructed, the deployment
    is UNHEALTHY (HEALTH_CHECK_FAILED, Ray's message) and so is its app; requests wait
    for the successor; once it runs, both are healthy again."""
    successor_may_start = threading.Event()
    built: list[int] = []

    @serve.deployment(health_check_period_s=PERIOD_S)
    class Flaky:
        def __init__(self) -> None:
            built.append(1)
            self.n = len(built)
            if self.n > 1:
                successor_may_start.wait(WAIT_S)
            self.checks = 0

        def check_health(self) -> None:
            self.checks += 1
            if self.n == 1 and self.checks > 2:  # healthy at start, then not
                raise RuntimeError("lost the GPU")

        def __call__(self) -> int:
            return self.n

    serve.run(Flaky.bind(), name="flaky", route_prefix="/flaky")
    assert eventually(lambda: len(built) == 2), built
    app = serve.status().applications["flaky"]
    dep = app.deployments["Flaky"]
    assert (app.status, app.message) == ("UNHEALTHY", "The deployments ['Flaky'] are UNHEALTHY.")
    assert (dep.status, dep.status_trigger, dep.replica_states) == ("UNHEALTHY", "HEALTH_CHECK_FAILED", {})
    assert dep.message.startswith("A replica's health check failed.")
    answers: list[httpx.Response] = []
    waiter = threading.Thread(target=lambda: answers.append(httpx.get(f"{instance.url}/flaky", timeout=WAIT_S)))
    waiter.start()
    successor_may_start.set()
    waiter.join(WAIT_S)
    assert [(r.status_code, r.text) for r in answers] == [(200, "2")]
    assert eventually(lambda: serve.status().applications["flaky"].status == "RUNNING")
    dep = serve.status().applications["flaky"].deployments["Flaky"]
    assert (dep.status, dep.status_trigger, dep.replica_states, dep.message) == (
        "HEALTHY",
        "UNSPECIFIED",
        {"RUNNING": 1},
        "",
    )


def test_failing_initial_health_check_fails_the_deploy(instance: ServeInstance) -> None:
    """A replica whose first `check_health` raises never takes a request: three tries,
    then the deploy fails as for a raising constructor."""
    tries: list[int] = []

    @serve.deployment
    class NeverHealthy:
        def __init__(self) -> None:
            tries.append(1)

        async def check_health(self) -> None:
            raise RuntimeError("not ready")

    with pytest.raises(DeploymentStartError, match="NeverHealthy"):
        serve.run(NeverHealthy.bind(), name="never", route_prefix="/never")
    assert len(tries) == 3
    status = serve.status().applications["never"].deployments["NeverHealthy"]
    assert status.status == "DEPLOY_FAILED" and "RuntimeError: not ready" in status.message


def test_health_checks_stop_with_the_replica(instance: ServeInstance) -> None:
    """A deleted deployment's `check_health` is not called any more."""
    checks: list[float] = []

    @serve.deployment(health_check_period_s=PERIOD_S)
    class Checked:
        def check_health(self) -> None:
            checks.append(time.monotonic())

    serve.run(Checked.bind(), name="checked", route_prefix=None)
    assert eventually(lambda: len(checks) >= 3)
    serve.delete("checked")
    count = len(checks)
    time.sleep(5 * PERIOD_S)  # long enough for several periods: no check may come
    assert len(checks) == count


def test_a_failed_downstream_answers_503_through_its_ingress(http: httpx.Client) -> None:
    """A call to a deployment that failed to deploy raises DeploymentUnavailableError in
    the caller; not caught, it reaches the client as Ray's 503."""

    @serve.deployment
    class Down:
        def __init__(self) -> None:
            raise ValueError("no weights")

    @serve.deployment
    class Front:
        def __init__(self, down: Any) -> None:
            self.down = down

        async def __call__(self) -> str:
            return await self.down.remote()

    with pytest.raises(DeploymentStartError):
        serve.run(Front.bind(Down.bind()), name="front", route_prefix="/front")
    response = http.get("/front")
    assert (response.status_code, response.text) == (
        503,
        "Deployment(name='Down', app='front') is unavailable because it failed to deploy.",
    )


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("health_check_period_s", 0, "Invalid health_check_period_s 0: must be a number > 0."),
        ("health_check_timeout_s", -1, "Invalid health_check_timeout_s -1: must be a number > 0."),
        ("graceful_shutdown_timeout_s", "5", "Invalid graceful_shutdown_timeout_s '5': must be a number >= 0."),
    ],
)
def test_lifecycle_options_are_checked(option: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        serve.deployment(**{option: value})(type("D", (), {"__call__": lambda self: None}))
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"status_code": 500}, "status_code: Input should be 503 or 429"),
        ({"retry_after_s": -1}, "retry_after_s: Input should be greater than or equal to 0"),
        ({"retry_after": 5}, "retry_after: unknown field (value 5); allowed fields: retry_after_s, status_code"),
        ("429", "backpressure_config must be a dict or BackpressureConfig, got str"),
    ],
)
def test_backpressure_config_is_checked(config: Any, message: str) -> None:
    """Bad `backpressure_config` values are refused when the deployment is declared,
    naming the field (Ray refuses the same ones)."""
    with pytest.raises(ValueError, match=re.escape(message)):
        serve.deployment(backpressure_config=config)(type("D", (), {"__call__": lambda self: None}))


def test_backpressure_config_class_is_rays_name() -> None:
    from ray.serve.config import BackpressureConfig  # the alias of the reference's config

    deployment = serve.deployment(backpressure_config=BackpressureConfig(status_code=429, retry_after_s=1))(
        type("D", (), {"__call__": lambda self: None})
    )
    assert deployment.options_.backpressure_config == BackpressureConfig(status_code=429, retry_after_s=1)
