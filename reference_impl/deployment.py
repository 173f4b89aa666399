"""`@serve.deployment`, `Deployment` and `Application` (a bound deployment graph)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, overload

from .schema import deployment_logging_config

__all__ = ["Application", "Deployment", "DeploymentOptions", "deployment"]

# Options Ray accepts that have no effect in a single process; accepted so Ray code runs.
_ACCEPTED_RAY_OPTIONS = frozenset(
    {
        "ray_actor_options",
        "autoscaling_config",
        "graceful_shutdown_wait_loop_s",
        "logging_config",
        "placement_group_bundles",
        "placement_group_strategy",
        "max_replicas_per_node",
        "version",
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
    ignored: dict[str, Any] = field(default_factory=dict)


def _check_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    known = {
        "name",
        "num_replicas",
        "max_ongoing_requests",
        "max_queued_requests",
        "user_config",
        "graceful_shutdown_timeout_s",
        "health_check_period_s",
        "health_check_timeout_s",
        "backpressure_config",
    }
    unknown = sorted(set(kwargs) - known - _ACCEPTED_RAY_OPTIONS)
    if unknown:
        raise TypeError(f"Unknown deployment option(s) {unknown}; allowed: {sorted(known | _ACCEPTED_RAY_OPTIONS)}")
    if "logging_config" in kwargs:
        # Ray's check and form: a dict or LoggingConfig, stored as the complete dict.
        kwargs["logging_config"] = deployment_logging_config(kwargs["logging_config"])
    _autoscaling_start(kwargs)
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
    """`num_replicas="auto"` and `autoscaling_config` as Ray 2.60 accepts them; here the
    deployment keeps the replicas it starts with (`initial_replicas`, else `min_replicas`,
    at least one): one process does not scale."""
    if kwargs.get("num_replicas") == "auto":
        del kwargs["num_replicas"]
        kwargs["autoscaling_config"] = kwargs.get("autoscaling_config") or {}
    config = kwargs.get("autoscaling_config")
    if config is None:
        return
    if kwargs.get("num_replicas") is not None:
        raise ValueError("Manually setting num_replicas is not allowed when autoscaling_config is provided.")

    def read(key: str) -> Any:
        return config.get(key) if isinstance(config, dict) else getattr(config, key, None)

    start = read("initial_replicas")
    if start is None:
        start = read("min_replicas")
    kwargs["num_replicas"] = max(1, int(start or 1))


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

    @property
    def is_function(self) -> bool:
        return not inspect.isclass(self.func_or_class)

    def options(self, **kwargs: Any) -> Deployment:
        """A copy with some options changed (same rules as the decorator)."""
        ignored = dict(self._options.ignored)
        kwargs = _split(_check_options(dict(kwargs)))
        ignored.update(kwargs.pop("ignored", {}))
        return Deployment(self.func_or_class, replace(self._options, ignored=ignored, **kwargs))

    def bind(self, *args: Any, **kwargs: Any) -> Application:
        if self.is_function and (args or kwargs):
            raise TypeError(
                f"Function deployment {self.name!r} takes no constructor arguments; call .bind() with none."
            )
        return Application(self, args, kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            f"Deployment {self.name!r} cannot be called directly. Use `.bind(...)` and pass the result to `serve.run`."
        )

    def __repr__(self) -> str:
        return f"Deployment(name={self.name!r})"


class Application:
    """A deployment bound to its constructor arguments; arguments may be Applications too."""

    def __init__(self, deployment: Deployment, args: tuple[Any, ...], kwargs: dict[str, Any]):
        self.deployment = deployment
        self.args = args
        self.kwargs = kwargs

    def __repr__(self) -> str:
        return f"Application({self.deployment.name!r})"


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
