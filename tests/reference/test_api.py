"""api.py / deployment.py: serve.run, delete, shutdown, status, handles by name, options."""

from __future__ import annotations

import logging
import threading
from typing import Any

import httpx
import pytest

from reference_impl import api, serve
from reference_impl.api import running_instance
from reference_impl.autoscaling import AutoscalingConfig
from reference_impl.exceptions import DeploymentStartError, DeploymentUnavailableError, ServeError
from reference_impl.instance import ServeInstance

RESULT_TIMEOUT_S = 5.0


@serve.deployment
class Value:
    def __init__(self, value: Any, constructed: threading.Event | None = None) -> None:
        if constructed is not None:
            constructed.set()
        self.value = value

    def __call__(self) -> Any:
        return self.value


@serve.deployment
class Failing:
    attempts = 0

    def __init__(self, down: Any = None) -> None:
        type(self).attempts += 1
        raise ValueError("constructor boom")


def _replica_threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("serve-replica"))


# -- serve.run ---------------------------------------------------------------------------


def test_run_rejects_an_unbound_deployment(instance: ServeInstance) -> None:
    """serve.run(Deployment) raises TypeError telling to call .bind()."""
    with pytest.raises(TypeError, match=r"call `Value\.bind\(\)` and pass that"):
        serve.run(Value)  # type: ignore[arg-type]


@pytest.mark.parametrize("prefix", ["noslash", "/trailing/", "", "/{x}"])
def test_bad_route_prefix_raises_before_deploying(http: httpx.Client, prefix: str) -> None:
    """An invalid route_prefix raises ValueError before any constructor runs."""
    constructed = threading.Event()
    with pytest.raises(ValueError, match=r"^Invalid route_prefix"):
        serve.run(Value.bind(1, constructed), name="bad", route_prefix=prefix)
    assert not constructed.is_set()
    assert serve.status().applications == {}
    # Nothing was deployed: the proxy still has no route table (Ray: 503 until the first deploy).
    assert http.get("/-/routes").status_code == 503


def test_bad_route_prefix_raises_before_starting_serve() -> None:
    """With nothing running, an invalid route_prefix raises and starts no instance."""
    with pytest.raises(ValueError, match="must start with a forward slash"):
        serve.run(Value.bind(1), name="bad", route_prefix="noslash")
    assert running_instance() is None


@pytest.mark.parametrize("how", ["argument", "env-var", "run_many"])
def test_local_testing_mode_runs_as_usual_and_says_so(
    http: httpx.Client, how: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Ray's `_local_testing_mode=True` (or $RAY_SERVE_FORCE_LOCAL_TESTING_MODE=1) is
    accepted: the app is served over HTTP as any other, and one warning says what the
    mode would take away on Ray."""
    monkeypatch.setattr(api, "_local_testing_noted", False)
    app = Value.bind("local")
    with caplog.at_level(logging.WARNING, logger="reference_impl"):
        if how == "argument":
            serve.run(app, name="ltm", route_prefix="/ltm", _local_testing_mode=True)
        elif how == "env-var":
            monkeypatch.setenv(api.LOCAL_TESTING_ENV_VAR, "1")
            serve.run(app, name="ltm", route_prefix="/ltm")
        else:
            serve.run_many([serve.RunTarget(app, name="ltm", route_prefix="/ltm")], _local_testing_mode=True)
        serve.run(Value.bind("again"), name="ltm2", route_prefix="/ltm2", _local_testing_mode=True)
    assert http.get("/ltm").text == "local"
    notes = [r.getMessage() for r in caplog.records if "local testing mode" in r.getMessage()]
    assert len(notes) == 1, notes
    assert "changes nothing on the reference" in notes[0] and "--serve-impl=ray-local" in notes[0]


@pytest.mark.parametrize("value", ["0", "true", ""])
def test_local_testing_env_var_other_than_1_is_off(
    instance: ServeInstance, value: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """As in Ray, only "1" turns the switch on: nothing is said for other values."""
    monkeypatch.setattr(api, "_local_testing_noted", False)
    monkeypatch.setenv(api.LOCAL_TESTING_ENV_VAR, value)
    with caplog.at_level(logging.WARNING, logger="reference_impl"):
        serve.run(Value.bind(1), name="off", route_prefix="/off")
    assert not [r for r in caplog.records if "local testing mode" in r.getMessage()]


def test_redeploy_same_name_replaces_the_app(http: httpx.Client) -> None:
    """serve.run with an existing name serves the new version; the old replicas stop."""
    serve.run(Value.bind("v1"), name="v", route_prefix="/v")
    assert http.get("/v").text == "v1"
    serve.run(Value.bind("v2"), name="v", route_prefix="/v")
    assert http.get("/v").text == "v2"
    assert _replica_threads() == ["serve-replica:v#Value#0"]


def test_redeploy_to_another_prefix_moves_the_route(http: httpx.Client) -> None:
    """Redeploying an app under a new prefix drops the old route."""
    serve.run(Value.bind("v1"), name="v", route_prefix="/old")
    serve.run(Value.bind("v2"), name="v", route_prefix="/new")
    assert http.get("/-/routes").json() == {"/new": "v"}
    assert http.get("/old").status_code == 404
    assert http.get("/new").text == "v2"


def test_two_apps_on_one_prefix_is_an_error(http: httpx.Client) -> None:
    """A second app on a taken prefix raises Ray's message; it is never constructed."""
    serve.run(Value.bind("a"), name="a", route_prefix="/x")
    constructed = threading.Event()
    with pytest.raises(ServeError) as info:
        serve.run(Value.bind("b", constructed), name="b", route_prefix="/x")
    assert str(info.value) == ('Prefix /x is being used by application "a". Failed to deploy application "b".')
    assert not constructed.is_set()
    assert sorted(serve.status().applications) == ["a"]
    assert http.get("/x").text == "a"


def test_failing_constructor_raises_deployment_start_error(http: httpx.Client) -> None:
    """As Ray: a constructor that raises is tried three times, then serve.run raises
    Ray's RuntimeError naming the app and the deployment, in one line (the cause is in the
    deployment's status); the app stays DEPLOY_FAILED and its route answers 503."""
    Failing.func_or_class.attempts = 0  # type: ignore[attr-defined]
    with pytest.raises(DeploymentStartError) as info:
        serve.run(Failing.bind(), name="f", route_prefix="/f")
    assert isinstance(info.value, RuntimeError)
    assert str(info.value) == "Deploying application f failed: Failed to update the deployments ['Failing']."
    assert Failing.func_or_class.attempts == 3  # type: ignore[attr-defined]
    response = http.get("/f")
    assert (response.status_code, response.text) == (
        503,
        "Deployment(name='Failing', app='f') is unavailable because it failed to deploy.",
    )
    app = serve.status().applications["f"]
    assert (app.status, app.message) == ("DEPLOY_FAILED", "Failed to update the deployments ['Failing'].")
    failing = app.deployments["Failing"]
    assert (failing.status, failing.status_trigger, failing.replica_states) == (
        "DEPLOY_FAILED",
        "REPLICA_STARTUP_FAILED",
        {},
    )
    assert failing.message.startswith("The deployment failed to start 3 times in a row.")
    assert "ValueError: constructor boom" in failing.message


def test_failing_ingress_keeps_what_started_until_deleted(http: httpx.Client) -> None:
    """When the ingress fails after its dependency started, the dependency stays up
    (HEALTHY, as Ray deploys both) in the DEPLOY_FAILED app; handle calls to the
    failed ingress raise DeploymentUnavailableError; serve.delete stops everything."""
    with pytest.raises(DeploymentStartError, match="'Failing'"):
        serve.run(Failing.options(num_replicas=2).bind(Value.bind("down")), name="f", route_prefix="/f")
    assert http.get("/f").status_code == 503
    deployments = serve.status().applications["f"].deployments
    assert {name: d.status for name, d in deployments.items()} == {"Value": "HEALTHY", "Failing": "DEPLOY_FAILED"}
    assert serve.get_deployment_handle("Value", "f").remote().result(timeout_s=10) == "down"
    with pytest.raises(DeploymentUnavailableError):
        serve.get_app_handle("f").remote().result(timeout_s=10)
    assert _replica_threads() == ["serve-replica:f#Value#0"]
    serve.delete("f")
    assert _replica_threads() == []
    with pytest.raises(ServeError, match="does not exist"):
        serve.get_app_handle("f")


# -- delete / shutdown / status / handles by name --------------------------------------------


def test_delete_removes_route_and_replicas(http: httpx.Client) -> None:
    """serve.delete drops the app's route and stops its replicas; unknown names are no-ops."""
    serve.run(Value.bind(1), name="v", route_prefix="/v")
    serve.delete("v")
    serve.delete("v")
    serve.delete("never-deployed")
    assert http.get("/v").status_code == 404
    assert _replica_threads() == []


def test_shutdown_is_idempotent() -> None:
    """serve.shutdown() twice, or with nothing running, is fine; status is then empty."""
    serve.shutdown()
    serve.start(http_options={"port": 0})
    serve.shutdown()
    serve.shutdown()
    assert running_instance() is None
    assert serve.status().applications == {}


def test_status_describes_running_apps(instance: ServeInstance) -> None:
    """serve.status() lists each app (routed or not), its deployments and replica counts,
    shaped as Ray 2.60's `ServeStatus`."""
    serve.run(Value.options(num_replicas=2).bind(1), name="v", route_prefix="/v")
    serve.run(Value.bind(2), name="hidden", route_prefix=None)
    status = serve.status()
    assert sorted(status.applications) == ["hidden", "v"]
    assert status.applications["v"].status == "RUNNING"
    deployment = status.applications["v"].deployments["Value"]
    assert deployment.status == "HEALTHY" and deployment.replica_states == {"RUNNING": 2}


def test_get_app_handle_reaches_an_unrouted_app(instance: ServeInstance) -> None:
    """serve.get_app_handle(name) calls an app deployed with route_prefix=None."""
    serve.run(Value.bind("hidden"), name="hidden", route_prefix=None)
    assert serve.get_app_handle("hidden").remote().result(timeout_s=RESULT_TIMEOUT_S) == "hidden"
    with pytest.raises(ServeError, match=r"^Application 'nope' does not exist\.$"):
        serve.get_app_handle("nope")


def test_get_deployment_handle_by_name(instance: ServeInstance) -> None:
    """serve.get_deployment_handle reaches a non-ingress deployment of an app."""
    serve.run(Value.options(name="Outer").bind(Value.bind("inner")), name="g", route_prefix=None)
    handle = serve.get_deployment_handle("Value", app_name="g")
    assert handle.remote().result(timeout_s=RESULT_TIMEOUT_S) == "inner"


def test_api_needs_a_running_instance() -> None:
    """Handle look-ups without an instance raise ServeNotRunningError."""
    with pytest.raises(serve.exceptions.ServeNotRunningError):
        serve.get_app_handle("x")


# -- deployment options ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"num_replicas": 0}, ValueError, "Invalid num_replicas 0: must be an integer >= 1."),
        ({"num_replicas": True}, ValueError, "Invalid num_replicas True: must be an integer >= 1."),
        (
            {"max_ongoing_requests": "x"},
            ValueError,
            "Invalid max_ongoing_requests 'x': must be an integer >= 1.",
        ),
        (
            {"max_queued_requests": 0},
            ValueError,
            "Invalid max_queued_requests 0: must be -1 (no limit) or >= 1.",
        ),
        ({"name": ""}, ValueError, "Invalid deployment name '': must be a non-empty string."),
        ({"bogus": 1}, TypeError, "Unknown deployment option(s) ['bogus']; allowed: ["),
    ],
)
@pytest.mark.parametrize("via", ["decorator", "options"])
def test_deployment_options_are_validated(
    via: str, options: dict[str, Any], error: type[Exception], message: str
) -> None:
    """Bad options fail at the decorator or .options() call, saying what is allowed."""
    with pytest.raises(error) as info:
        if via == "decorator":
            serve.deployment(**options)
        else:
            Value.options(**options)
    assert str(info.value).startswith(message)


def test_ray_only_options_are_accepted() -> None:
    """Options with no single-process meaning (ray_actor_options, ...) are accepted and
    kept apart; the health-check options are real ones."""
    deployment = Value.options(ray_actor_options={"num_cpus": 0}, health_check_period_s=1)
    assert deployment.options_.ignored == {"ray_actor_options": {"num_cpus": 0}}
    assert deployment.options_.health_check_period_s == 1


@pytest.mark.parametrize(
    ("options", "replicas"),
    [
        ({"num_replicas": "auto"}, 1),
        ({"autoscaling_config": {"min_replicas": 2, "max_replicas": 4}}, 2),
        ({"autoscaling_config": {"min_replicas": 0, "initial_replicas": 3, "max_replicas": 4}}, 3),
        ({"autoscaling_config": {"min_replicas": 0}}, 1),
        ({"autoscaling_config": AutoscalingConfig(min_replicas=2, max_replicas=3)}, 2),
        ({"num_replicas": "auto", "autoscaling_config": {"min_replicas": 3}}, 3),
    ],
)
def test_autoscaling_options_start_fixed_replicas(options: dict[str, object], replicas: int) -> None:
    """As Ray 2.60 accepts them; the reference starts `initial_replicas`, else
    `min_replicas`, at least one, and keeps that number. Ray reports `num_replicas` 1."""
    deployment = Value.options(**options)
    assert deployment.options_.num_replicas == replicas
    assert deployment.num_replicas == 1
    assert isinstance(deployment.options_.autoscaling_config, AutoscalingConfig)


def test_num_replicas_auto_is_rays_default_config_updated() -> None:
    """`"auto"` starts from Ray's `AutoscalingConfig.default()` (max 100), the given keys on top."""
    config = Value.options(num_replicas="auto", autoscaling_config={"min_replicas": 2}).options_.autoscaling_config
    assert config is not None
    assert (config.min_replicas, config.max_replicas, config.target_ongoing_requests) == (2, 100, 2)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"min_replicas": 3, "max_replicas": 2}, "max_replicas (2) must be greater than or equal to min_replicas (3)!"),
        ({"initial_replicas": 1, "min_replicas": 2, "max_replicas": 3}, "min_replicas (2) must be less than or"),
        ({"min_replicas": -1}, "autoscaling_config.min_replicas"),
        ({"aggregation_function": "median"}, "'median' is not a valid AggregationFunction"),
        ("x", "Input should be a valid dictionary or instance of AutoscalingConfig"),
    ],
)
def test_autoscaling_config_is_validated_when_declared(config: object, message: str) -> None:
    """Ray's pydantic error, titled as Ray's ("for DeploymentConfig"), from the decorator and from `.options`."""
    for declare in (
        lambda: serve.deployment(autoscaling_config=config)(Value.func_or_class),
        lambda: Value.options(autoscaling_config=config),
    ):
        with pytest.raises(ValueError, match="1 validation error for DeploymentConfig") as raised:
            declare()
        assert message in str(raised.value)


def test_a_fixed_count_replaces_autoscaling() -> None:
    scaled = Value.options(autoscaling_config={"min_replicas": 2, "max_replicas": 3})
    fixed = scaled.options(num_replicas=4)
    assert (fixed.num_replicas, fixed.options_.num_replicas, fixed.options_.autoscaling_config) == (4, 4, None)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"version": "1"}, ValueError, "`version` in `Deployment.options()` has been removed."),
        ({"ray_actor_options": "x"}, TypeError, "Got invalid type \"<class 'str'>\" for ray_actor_options."),
        ({"ray_actor_options": {"cpus": 1}}, ValueError, "Specifying 'cpus' in ray_actor_options is not allowed."),
        ({"ray_actor_options": {"num_cpus": -1}}, ValueError, "The quantity of resource num_cpus cannot be negative"),
        ({"max_replicas_per_node": 0}, ValueError, "Invalid max_replicas_per_node 0."),
        ({"max_replicas_per_node": "2"}, TypeError, "for max_replicas_per_node. Expected None or an integer"),
    ],
)
def test_options_ray_refuses_are_refused(options: dict[str, object], error: type[Exception], message: str) -> None:
    with pytest.raises(error) as raised:
        Value.options(**options)
    assert message in str(raised.value)


def test_version_in_the_decorator_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^`version` in `@serve.deployment` has been removed"):
        serve.deployment(version="1")


def test_deployment_reads_back_its_options_as_ray() -> None:
    """Ray's properties, with its defaults (one CPU in `ray_actor_options`)."""
    plain = serve.deployment(Value.func_or_class)
    assert (plain.num_replicas, plain.max_ongoing_requests, plain.max_queued_requests) == (1, 5, -1)
    assert (plain.user_config, plain.version, plain.logging_config) == (None, None, None)
    assert (plain.ray_actor_options, plain.init_args, plain.init_kwargs) == ({"num_cpus": 1}, (), {})
    tuned = plain.options(
        num_replicas=3, user_config={"a": 1}, ray_actor_options={"num_gpus": 1}, max_queued_requests=9
    )
    assert (tuned.num_replicas, tuned.user_config, tuned.max_queued_requests) == (3, {"a": 1}, 9)
    assert tuned.ray_actor_options == {"num_gpus": 1, "num_cpus": 1}
    assert tuned.func_or_class is plain.func_or_class


def test_deployments_compare_by_options_and_print_as_ray() -> None:
    plain = serve.deployment(Value.func_or_class)
    assert plain == plain.options() and plain != plain.options(num_replicas=2)
    assert repr(plain) == str(plain) == f"Deployment(name={plain.name})"
    with pytest.raises(RuntimeError, match=r"^Deployments cannot be constructed directly"):
        plain()


def test_num_replicas_with_autoscaling_config_is_refused() -> None:
    """Ray 2.60's error for both at once."""
    with pytest.raises(ValueError, match=r"^Manually setting num_replicas is not allowed when autoscaling_config"):
        Value.options(num_replicas=2, autoscaling_config={"min_replicas": 1})


def test_same_deployment_bound_twice_is_renamed(instance: ServeInstance) -> None:
    """As Ray 2.60: the second use of a deployment name in one app becomes `Name_1`."""

    @serve.deployment
    class Adder:
        def __init__(self, increment: int) -> None:
            self.increment = increment

        def __call__(self, x: int) -> int:
            return x + self.increment

    @serve.deployment
    class Both:
        def __init__(self, one: Any, two: Any) -> None:
            self.one, self.two = one, two

        async def __call__(self, x: int) -> int:
            return await self.two.remote(await self.one.remote(x))

    handle = serve.run(Both.bind(Adder.bind(1), Adder.bind(10)), name="twice", route_prefix=None)
    assert handle.remote(0).result(timeout_s=10) == 11
    assert sorted(serve.status().applications["twice"].deployments) == ["Adder", "Adder_1", "Both"]
