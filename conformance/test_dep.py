"""DEP: deployment options as Ray checks and reports them (DEP-1, DEP-2).

Apps read their deployments' options back (`dep.num_replicas` in a test, a dashboard of
their own) and rely on a bad option failing where it is written, not at deploy time on
a cluster. The messages are Ray 2.60's.
"""

from __future__ import annotations

from typing import Any

import pytest


def _hello() -> str:
    return "hello"


def _declare(serve: Any, **options: Any) -> Any:
    return serve.deployment(**options)(_hello)


@pytest.mark.clause("DEP-1")
def test_dep_1_options_read_back_as_declared(serve: Any) -> None:
    """A plain deployment reads back Ray's defaults (5 ongoing, -1 queued, one CPU);
    declared and `.options()`-changed values read back as given, the rest unchanged;
    autoscaling ones report one replica. Equality and printing are Ray's."""
    plain = _declare(serve)
    assert (plain.name, plain.func_or_class) == ("_hello", _hello)
    assert (plain.num_replicas, plain.max_ongoing_requests, plain.max_queued_requests) == (1, 5, -1)
    assert (plain.user_config, plain.ray_actor_options) == (None, {"num_cpus": 1})

    tuned = _declare(serve, num_replicas=3, max_ongoing_requests=7, user_config={"a": 1})
    assert (tuned.num_replicas, tuned.max_ongoing_requests, tuned.user_config) == (3, 7, {"a": 1})
    changed = tuned.options(name="dep1_other", max_queued_requests=9, ray_actor_options={"num_gpus": 1})
    assert (changed.name, changed.num_replicas, changed.max_queued_requests) == ("dep1_other", 3, 9)
    assert changed.ray_actor_options == {"num_gpus": 1, "num_cpus": 1}
    assert (tuned.name, tuned.max_queued_requests) == ("_hello", -1), ".options() changed the original"

    scaled = _declare(serve, autoscaling_config={"min_replicas": 2, "max_replicas": 4})
    assert scaled.num_replicas == 1
    assert _declare(serve, num_replicas="auto").num_replicas == 1

    assert plain == plain.options(), "a copy with nothing changed differs"
    assert plain != plain.options(num_replicas=2)
    assert repr(plain) == str(plain) == "Deployment(name=_hello)"


REFUSED_AUTOSCALING = {
    "max below min": (
        {"min_replicas": 3, "max_replicas": 2},
        "max_replicas (2) must be greater than or equal to min_replicas (3)!",
    ),
    "initial below min": (
        {"min_replicas": 2, "max_replicas": 4, "initial_replicas": 1},
        "min_replicas (2) must be less than or equal to initial_replicas (1)!",
    ),
    "initial above max": (
        {"max_replicas": 2, "initial_replicas": 3},
        "max_replicas (2) must be greater than or equal to initial_replicas (3)!",
    ),
    "negative min": ({"min_replicas": -1}, "autoscaling_config.min_replicas"),
    "unknown aggregation": ({"aggregation_function": "median"}, "'median' is not a valid AggregationFunction"),
}


@pytest.mark.clause("DEP-2")
@pytest.mark.parametrize("case", sorted(REFUSED_AUTOSCALING))
def test_dep_2_autoscaling_config_checked_when_declared(serve: Any, case: str) -> None:
    """The same config refused, with Ray's pydantic error naming `autoscaling_config`, by
    the decorator and by `.options()`, as a dict and (where the model can hold it) as an
    `AutoscalingConfig`, which itself refuses it with the same message."""
    config, message = REFUSED_AUTOSCALING[case]
    declarations = {
        "decorator": lambda: _declare(serve, autoscaling_config=config),
        ".options()": lambda: _declare(serve).options(autoscaling_config=config),
    }
    for where, declare in declarations.items():
        with pytest.raises(ValueError) as raised:
            declare()
        text = str(raised.value)
        assert "1 validation error for DeploymentConfig" in text and "autoscaling_config" in text, f"{where}: {text}"
        assert message in text, f"{where}: {text}"
    with pytest.raises(ValueError, match="validation error for AutoscalingConfig") as raised:
        serve.config.AutoscalingConfig(**config)
    assert message.removeprefix("autoscaling_config.") in str(raised.value)


@pytest.mark.clause("DEP-2")
def test_dep_2_options_ray_removed_or_does_not_know_are_refused(serve: Any) -> None:
    """`version` is refused in the decorator and in `.options()` with Ray's words; so are an
    unknown `ray_actor_options` key and a `ray_actor_options` that is not a dict."""
    with pytest.raises(ValueError, match=r"^`version` in `@serve.deployment` has been removed"):
        _declare(serve, version="1")
    with pytest.raises(ValueError, match=r"^`version` in `Deployment.options\(\)` has been removed"):
        _declare(serve).options(version="1")
    with pytest.raises(ValueError, match=r"^Specifying 'cpus' in ray_actor_options is not allowed\."):
        _declare(serve, ray_actor_options={"cpus": 1})
    with pytest.raises(TypeError, match=r"for ray_actor_options\. Expected a dictionary\."):
        _declare(serve, ray_actor_options="num_cpus=1")


@pytest.mark.clause("DEP-2")
def test_dep_2_valid_autoscaling_deploys_and_serves(serve: Any, serve_app: Any) -> None:
    """An `AutoscalingConfig` object and `num_replicas="auto"` deploy; each app answers."""
    config = serve.config.AutoscalingConfig(min_replicas=1, max_replicas=2, upscale_delay_s=60)
    assert (config.min_replicas, config.max_replicas, config.initial_replicas) == (1, 2, None)
    assert config.aggregation_function == serve.config.AggregationFunction.MEAN == "mean"
    scaled = _declare(serve, autoscaling_config=config).options(name="dep2_scaled")
    auto = _declare(serve, num_replicas="auto").options(name="dep2_auto")
    first = serve_app(scaled.bind(), route_prefix="/dep2-scaled", name="dep2-scaled")
    second = serve_app(auto.bind(), route_prefix="/dep2-auto", name="dep2-auto")
    assert first.http.get("/dep2-scaled").text == "hello"
    assert second.http.get("/dep2-auto").text == "hello"
