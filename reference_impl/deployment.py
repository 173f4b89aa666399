"""`@serve.deployment`, `Deployment` and `Application` (a bound deployment graph)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, overload

from .autoscaling import AutoscalingConfig, parse_autoscaling_config, replicas_at_start
from .schema import deployment_logging_config
from .unavailable import ray_names_getattr

__all__ = ["Application", "Deployment", "DeploymentOptions", "deployment"]

# Options Ray accepts that have no effect in a single process (they place, route or
# scale replicas across a cluster); checked as Ray checks them, so Ray code runs.
_ACCEPTED_RAY_OPTIONS = frozenset(
    {
        "ray_actor_options",
        "graceful_shutdown_wait_loop_s",
        "logging_config",
        "placement_group_bundles",
        "placement_group_strategy",
        "placement_group_bundle_label_selector",
        "max_replicas_per_node",
        "request_router_config",
        "gang_scheduling_config",
        "max_surge_percent",
        "deployment_actors",
    }
)
# Options in `serve.deployment`'s signature that Ray 2.60 refuses when given.
RAY_REFUSED_OPTIONS = frozenset({"version"})
# What Ray 2.60 lets `ray_actor_options` hold.
_RAY_ACTOR_OPTIONS = frozenset(
    {
        "accelerator_type",
        "fallback_strategy",
        "label_selector",
        "memory",
        "num_cpus",
        "num_gpus",
        "resources",
        "runtime_env",
    }
)


@dataclass(frozen=True)
class DeploymentOptions:
    """What the reference implementation does with a deployment's options."""

    name: str
    num_replicas: int = 1
    max_ongoing_requests: int = 5
    max_queued_requests: int = -1
    user_config: Any = None
    # How long a replica being replaced or deleted may finish its requests (Ray's default).
    graceful_shutdown_timeout_s: float = 20.0
    # How often a class's `check_health` is called, and how long one call may take.
    health_check_period_s: float = 10.0
    health_check_timeout_s: float = 30.0
    # The HTTP status (503 or 429) and Retry-After of a request over max_queued_requests.
    backpressure_config: Any = None
    # Validated as Ray does; here it only sets how many replicas start (`num_replicas`).
    autoscaling_config: AutoscalingConfig | None = None
    # How many times in a row a replica's start may fail before the deploy fails (Ray's
    # default; at most 3 per replica, as Ray counts them).
    max_constructor_retry_count: int = 20
    # The share of replicas a failed rolling update stops before it gives up (Ray's default).
    rolling_update_percentage: float = 0.2
    ignored: dict[str, Any] = field(default_factory=dict)


def _check_options(kwargs: dict[str, Any], in_options: bool = False) -> dict[str, Any]:
    known = {
        "name",
        "max_constructor_retry_count",
        "rolling_update_percentage",
        "num_replicas",
        "max_ongoing_requests",
        "max_queued_requests",
        "user_config",
        "graceful_shutdown_timeout_s",
        "health_check_period_s",
        "health_check_timeout_s",
        "backpressure_config",
        "autoscaling_config",
    }
    for refused in sorted(RAY_REFUSED_OPTIONS & set(kwargs)):
        where = "`Deployment.options()`" if in_options else "`@serve.deployment`"
        raise ValueError(f"`{refused}` in {where} has been removed. Serve manages deployment versions internally.")
    unknown = sorted(set(kwargs) - known - _ACCEPTED_RAY_OPTIONS)
    if unknown:
        raise TypeError(f"Unknown deployment option(s) {unknown}; allowed: {sorted(known | _ACCEPTED_RAY_OPTIONS)}")
    if "logging_config" in kwargs:
        # Ray's check and form: a dict or LoggingConfig, stored as the complete dict.
        kwargs["logging_config"] = deployment_logging_config(kwargs["logging_config"])
    _autoscaling_start(kwargs)
    _check_ray_actor_options(kwargs)
    _check_max_replicas_per_node(kwargs)
    _check_cluster_options(kwargs, in_options)
    if "backpressure_config" in kwargs:
        from .config import parse_backpressure_config

        kwargs["backpressure_config"] = parse_backpressure_config(kwargs["backpressure_config"])
    if "name" in kwargs and (not isinstance(kwargs["name"], str) or not kwargs["name"]):
        raise ValueError(f"Invalid deployment name {kwargs['name']!r}: must be a non-empty string.")
    for key, low in (("num_replicas", 1), ("max_ongoing_requests", 1), ("max_queued_requests", -1)):
        if key in kwargs:
            value = kwargs[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(
                    f"Invalid {key} {value!r}: must be an integer >= {low}."
                    + (" Use -1 for no limit." if key == "max_queued_requests" else "")
                )
            if key == "max_queued_requests" and value == 0:
                raise ValueError("Invalid max_queued_requests 0: must be -1 (no limit) or >= 1.")
    for key, positive in (
        ("graceful_shutdown_timeout_s", False),
        ("health_check_period_s", True),
        ("health_check_timeout_s", True),
    ):
        value = kwargs.get(key)
        if value is None:
            kwargs.pop(key, None)  # None keeps the default, as in Ray
        elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or (positive and value == 0):
            raise ValueError(f"Invalid {key} {value!r}: must be a number {'> 0' if positive else '>= 0'}.")
    return kwargs


def _autoscaling_start(kwargs: dict[str, Any]) -> None:
    """`num_replicas="auto"` and `autoscaling_config` as Ray 2.60 takes them: "auto" means
    Ray's default config (min 1, max 100) updated with the given one; the config is
    validated now. Here the deployment keeps the replicas it starts with."""
    auto = kwargs.get("num_replicas") == "auto"
    if auto:
        del kwargs["num_replicas"]
    given = kwargs.get("autoscaling_config")
    if given is not None and kwargs.get("num_replicas") is not None:
        raise ValueError("Manually setting num_replicas is not allowed when autoscaling_config is provided.")
    if auto:
        merged = AutoscalingConfig.default().model_dump(exclude_unset=True)
        if given is not None:
            merged.update(given if isinstance(given, dict) else given.model_dump(exclude_unset=True))
        given = merged
    if given is None:  # (never with "auto": it merged Ray's default above)
        if "autoscaling_config" in kwargs or "num_replicas" in kwargs:
            kwargs["autoscaling_config"] = None  # a fixed count replaces autoscaling, as in Ray
        return
    config = parse_autoscaling_config(given)
    assert config is not None
    kwargs["autoscaling_config"] = config
    kwargs["num_replicas"] = replicas_at_start(config)


def _check_ray_actor_options(kwargs: dict[str, Any]) -> None:
    """Ray's checks of `ray_actor_options`, with its messages; the values change nothing here."""
    options = kwargs.get("ray_actor_options")
    if options is None:
        return
    if not isinstance(options, dict):
        raise TypeError(f'Got invalid type "{type(options)}" for ray_actor_options. Expected a dictionary.')
    for key in options:
        if key not in _RAY_ACTOR_OPTIONS:
            raise ValueError(
                f"Specifying '{key}' in ray_actor_options is not allowed. Allowed options: {set(_RAY_ACTOR_OPTIONS)}"
            )
    for key in ("num_cpus", "num_gpus", "memory"):
        value = options.get(key)
        if isinstance(value, int | float) and value < 0:
            raise ValueError(f"The quantity of resource {key} cannot be negative")


def _check_max_replicas_per_node(kwargs: dict[str, Any]) -> None:
    value = kwargs.get("max_replicas_per_node")
    if value is None:
        return
    allowed = "Expected None or an integer in the range of [1, 100]."
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"Get invalid type '{type(value)}' for max_replicas_per_node. {allowed}")
    if not 1 <= value <= 100:
        raise ValueError(
            f"Invalid max_replicas_per_node {value}. Valid values are None or an integer in the range of [1, 100]."
        )


def _check_cluster_options(kwargs: dict[str, Any], in_options: bool) -> None:
    """Ray 2.60's checks of the options added for clusters and rollouts, with its limits."""
    if in_options and "rolling_update_percentage" in kwargs:
        raise TypeError("Deployment.options() got an unexpected keyword argument 'rolling_update_percentage'")
    for key, low, high, integer in (
        ("max_constructor_retry_count", 1, None, True),
        ("max_surge_percent", 0, 100, True),
        ("rolling_update_percentage", None, 1, False),
    ):
        if key not in kwargs:
            continue
        value = kwargs[key]
        if isinstance(value, bool) or not isinstance(value, int if integer else int | float):
            raise ValueError(f"Invalid {key} {value!r}: must be {'an integer' if integer else 'a number'}.")
        if (low is not None and value < low) or (high is not None and value > high) or (low is None and value <= 0):
            bounds = f">= {low}" if low is not None else "> 0"
            raise ValueError(f"Invalid {key} {value!r}: must be {bounds}" + (f" and <= {high}." if high else "."))
    if "request_router_config" in kwargs:
        from .config import RequestRouterConfig

        value = kwargs["request_router_config"]
        if not isinstance(value, RequestRouterConfig):
            kwargs["request_router_config"] = RequestRouterConfig(**(value or {}))
    gang = kwargs.get("gang_scheduling_config")
    if gang is not None:
        size = gang.get("gang_size") if isinstance(gang, dict) else getattr(gang, "gang_size", None)
        if not isinstance(size, int) or size < 1:
            raise ValueError("gang_scheduling_config.gang_size: Field required (an integer >= 1)")
        replicas = kwargs.get("num_replicas", 1)
        if isinstance(replicas, int) and replicas % size:
            raise ValueError(f"num_replicas ({replicas}) must be a multiple of gang_size ({size}).")
    if kwargs.get("placement_group_bundle_label_selector") and not kwargs.get("placement_group_bundles"):
        raise ValueError(
            "If `placement_group_bundle_label_selector` is provided, `placement_group_bundles` must also be provided."
        )
    if kwargs.get("deployment_actors"):
        from .unavailable import unavailable

        unavailable("deployment_actors (actors of Ray Core, deployment-scoped)")


def _split(kwargs: dict[str, Any]) -> dict[str, Any]:
    ignored = {k: kwargs.pop(k) for k in list(kwargs) if k in _ACCEPTED_RAY_OPTIONS}
    if ignored:
        kwargs["ignored"] = ignored
    return kwargs


class Deployment:
    """A class or function made servable by `@serve.deployment`; `.bind()` it to deploy."""

    def __init__(self, target: Callable[..., Any], options: DeploymentOptions) -> None:
        self.func_or_class = target
        self._options = options

    @property
    def name(self) -> str:
        return self._options.name

    @property
    def options_(self) -> DeploymentOptions:
        return self._options

    # Ray's read-only view of the options.
    @property
    def version(self) -> None:
        return None  # Serve manages versions itself since Ray 2.x; `version=` is refused

    @property
    def num_replicas(self) -> int:
        """As Ray reports it: 1 for an autoscaling deployment (its config says the rest)."""
        return 1 if self._options.autoscaling_config is not None else self._options.num_replicas

    @property
    def user_config(self) -> Any:
        return self._options.user_config

    @property
    def max_ongoing_requests(self) -> int:
        return self._options.max_ongoing_requests

    @property
    def max_queued_requests(self) -> int:
        return self._options.max_queued_requests

    @property
    def ray_actor_options(self) -> dict[str, Any]:
        """With Ray's default of one CPU filled in."""
        options = dict(self._options.ignored.get("ray_actor_options", {}))
        options.setdefault("num_cpus", 1)
        return options

    @property
    def init_args(self) -> tuple[Any, ...]:
        return ()  # arguments belong to the Application `.bind()` makes

    @property
    def init_kwargs(self) -> dict[str, Any]:
        return {}

    @property
    def logging_config(self) -> dict[str, Any] | None:
        config: dict[str, Any] | None = self._options.ignored.get("logging_config")
        return config

    @property
    def is_function(self) -> bool:
        return not inspect.isclass(self.func_or_class)

    def options(self, **kwargs: Any) -> Deployment:
        """A copy with some options changed (same rules as the decorator)."""
        ignored = dict(self._options.ignored)
        kwargs = _split(_check_options(dict(kwargs), in_options=True))
        ignored.update(kwargs.pop("ignored", {}))
        return Deployment(self.func_or_class, replace(self._options, ignored=ignored, **kwargs))

    def bind(self, *args: Any, **kwargs: Any) -> Application:
        if self.is_function and (args or kwargs):
            raise TypeError(
                f"Function deployment {self.name!r} takes no constructor arguments; call .bind() with none."
            )
        return Application(self, args, kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(
            f"Deployments cannot be constructed directly: use `{self.name}.bind(...)` and pass the result to "
            "`serve.run`."
        )

    def __eq__(self, other: object) -> bool:
        """As Ray compares them: same name and options (the code itself is not compared)."""
        if not isinstance(other, Deployment):
            return NotImplemented
        return self._options == other._options

    __hash__ = None  # type: ignore[assignment]  # equal by value and mutable options, as in Ray

    def __repr__(self) -> str:
        return f"Deployment(name={self.name})"


class Application:
    """A deployment bound to its constructor arguments; arguments may be Applications too."""

    def __init__(self, deployment: Deployment, args: tuple[Any, ...], kwargs: dict[str, Any]):
        self.deployment = deployment
        self.args = args
        self.kwargs = kwargs

    def __repr__(self) -> str:
        return f"Application({self.deployment.name!r})"

    def bound(self) -> list[Application]:
        """The applications bound into this one's arguments, in argument order, also inside
        lists, tuples and dicts (where a deploy resolves them into handles)."""
        found: list[Application] = []
        pending: list[Any] = [*self.args, *self.kwargs.values()]
        while pending:
            value = pending.pop(0)
            if isinstance(value, Application):
                found.append(value)
            elif isinstance(value, list | tuple):
                pending[:0] = value
            elif isinstance(value, dict):
                pending[:0] = value.values()
        return found

    def walk(self) -> list[Application]:
        """Every application of the graph below this one, itself included, each once."""
        seen: dict[int, Application] = {}
        pending = [self]
        while pending:
            node = pending.pop()
            if id(node) not in seen:
                seen[id(node)] = node
                pending.extend(node.bound())
        return list(seen.values())


@overload
def deployment(_target: Callable[..., Any]) -> Deployment: ...
@overload
def deployment(_target: None = None, **options: Any) -> Callable[[Callable[..., Any]], Deployment]: ...


def deployment(_target: Callable[..., Any] | None = None, **options: Any) -> Any:
    """Decorate a class or function as a deployment: `@serve.deployment` or
    `@serve.deployment(name=..., num_replicas=..., max_ongoing_requests=...)`."""
    _check_options(options)

    def wrap(target: Callable[..., Any]) -> Deployment:
        if not callable(target):
            raise TypeError(f"@serve.deployment needs a class or function, got {target!r}")
        kwargs = _split(dict(options))
        kwargs.setdefault("name", target.__name__)
        return Deployment(target, DeploymentOptions(**kwargs))

    return wrap(_target) if _target is not None else wrap


# Ray's names this module lacks: importing them works, using them says to run on Ray
# (hidden from type checkers, which would otherwise accept any name from this module).
if not TYPE_CHECKING:
    __getattr__ = ray_names_getattr("ray.serve.deployment")
