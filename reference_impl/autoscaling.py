"""`AutoscalingConfig` and its parts, validated as Ray 2.60 validates them.

One process does not scale: a deployment keeps the replicas it starts with
(`initial_replicas`, else `min_replicas`, at least one). The models exist so that apps
that build them (`from ray.serve.config import AutoscalingConfig`) run unchanged and a
setting Ray refuses is refused here too, with Ray's message.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from enum import Enum
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    field_validator,
    model_validator,
)

__all__ = [
    "AggregationFunction",
    "AutoscalingConfig",
    "AutoscalingPolicy",
    "parse_autoscaling_config",
    "replicas_at_start",
]

DEFAULT_POLICY = "ray.serve.autoscaling_policy:default_autoscaling_policy"


class AggregationFunction(str, Enum):
    """How metrics over the look-back window are combined."""

    MEAN = "mean"
    MAX = "max"
    MIN = "min"


class AutoscalingPolicy(BaseModel):
    """A custom policy: a callable or an import path `module:attribute` (imported when
    given, as Ray does, so a wrong path fails at the deployment that names it)."""

    model_config = ConfigDict(defer_build=True, arbitrary_types_allowed=True)

    policy_function: str | Callable[..., Any] = DEFAULT_POLICY
    policy_kwargs: dict[str, Any] = Field(default_factory=dict)

    @field_validator("policy_function")
    @classmethod
    def _importable(cls, value: str | Callable[..., Any]) -> str | Callable[..., Any]:
        if isinstance(value, str) and value != DEFAULT_POLICY:
            module_name, _, attribute = value.partition(":")
            module = importlib.import_module(module_name)
            if attribute:
                getattr(module, attribute)
        return value


class AutoscalingConfig(BaseModel):
    """Ray's fields and defaults; the replica bounds are checked against each other."""

    model_config = ConfigDict(defer_build=True)

    min_replicas: NonNegativeInt = 1
    initial_replicas: NonNegativeInt | None = None
    max_replicas: PositiveInt = 1
    target_ongoing_requests: PositiveFloat | None = 2
    metrics_interval_s: PositiveFloat = 10.0
    look_back_period_s: PositiveFloat = 30.0
    smoothing_factor: PositiveFloat = 1.0
    upscale_smoothing_factor: PositiveFloat | None = None
    downscale_smoothing_factor: PositiveFloat | None = None
    upscaling_factor: PositiveFloat | None = None
    downscaling_factor: PositiveFloat | None = None
    downscale_delay_s: NonNegativeFloat = 600.0
    downscale_to_zero_delay_s: NonNegativeFloat | None = None
    upscale_delay_s: NonNegativeFloat = 30.0
    aggregation_function: AggregationFunction = AggregationFunction.MEAN
    policy: AutoscalingPolicy = Field(default_factory=AutoscalingPolicy)

    @field_validator("aggregation_function", mode="before")
    @classmethod
    def _lower_case(cls, value: Any) -> AggregationFunction:
        if isinstance(value, AggregationFunction):
            return value
        try:
            return AggregationFunction(str(value).lower())
        except ValueError:
            raise ValueError(f"{value!r} is not a valid AggregationFunction") from None

    @model_validator(mode="after")
    def _replica_bounds(self) -> AutoscalingConfig:
        low, high, start = self.min_replicas, self.max_replicas, self.initial_replicas
        if high < low:
            raise ValueError(f"max_replicas ({high}) must be greater than or equal to min_replicas ({low})!")
        if start is not None and start < low:
            raise ValueError(f"min_replicas ({low}) must be less than or equal to initial_replicas ({start})!")
        if start is not None and start > high:
            raise ValueError(f"max_replicas ({high}) must be greater than or equal to initial_replicas ({start})!")
        return self

    @classmethod
    def default(cls) -> AutoscalingConfig:
        """What `num_replicas="auto"` starts from in Ray."""
        return cls(target_ongoing_requests=2, min_replicas=1, max_replicas=100)


class DeploymentConfig(BaseModel):
    """Only for its name and field: a bad `autoscaling_config` fails with the title and
    location Ray's error has ("1 validation error for DeploymentConfig / autoscaling_config")."""

    model_config = ConfigDict(defer_build=True)

    autoscaling_config: AutoscalingConfig | None = None


def parse_autoscaling_config(value: AutoscalingConfig | dict[str, Any] | None) -> AutoscalingConfig | None:
    """A dict or an `AutoscalingConfig`, validated; raises pydantic's `ValidationError`
    (a `ValueError`) naming the field, as Ray does when the deployment is declared."""
    return DeploymentConfig(autoscaling_config=value).autoscaling_config


def replicas_at_start(config: AutoscalingConfig) -> int:
    """The replicas a deployment keeps here: `initial_replicas`, else `min_replicas`, at least one."""
    start = config.initial_replicas if config.initial_replicas is not None else config.min_replicas
    return max(1, start)
