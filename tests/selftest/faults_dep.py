"""Faults that break the DEP clauses (deployment options) of the reference implementation."""

from __future__ import annotations

from faulty import fault


@fault("dep-num-replicas-is-start-count", "DEP-1")
def _(mp):
    """`num_replicas` reports the replicas started, also for an autoscaling deployment."""
    from reference_impl import deployment

    mp.setattr(deployment.Deployment, "num_replicas", property(lambda self: self.options_.num_replicas))


@fault("dep-no-default-cpu", "DEP-1")
def _(mp):
    """`ray_actor_options` reads back only what was given, without Ray's one CPU."""
    from reference_impl import deployment

    mp.setattr(
        deployment.Deployment,
        "ray_actor_options",
        property(lambda self: dict(self.options_.ignored.get("ray_actor_options", {}))),
    )


@fault("dep-autoscaling-unchecked", "DEP-2")
def _(mp):
    """`autoscaling_config` is taken as given, without Ray's checks."""
    from reference_impl import deployment
    from reference_impl.autoscaling import AutoscalingConfig

    def unchecked(value):
        return value if isinstance(value, AutoscalingConfig) else AutoscalingConfig.model_construct(**value)

    mp.setattr(deployment, "parse_autoscaling_config", unchecked)


@fault("dep-version-unknown", "DEP-2")
def _(mp):
    """`version` is refused as an unknown option (TypeError), not with Ray's ValueError."""
    from reference_impl import deployment

    mp.setattr(deployment, "RAY_REFUSED_OPTIONS", frozenset())
