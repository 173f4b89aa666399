"""Serve config files (`serve build` output, KubeRay's `serveConfigV2`), read as Ray 2.60
reads them, and applied to the applications they name.

Every field Ray accepts is accepted. Those that act in one process act as on Ray: an
application's `deployments:` overrides the options its code gave (num_replicas,
user_config, max_ongoing_requests, …), `args` reach the builder (validated into its
pydantic model when it declares one), `runtime_env.env_vars` are set before the app is
imported. Those that only matter on a cluster (gRPC port, the controller's options,
`target_capacity`, tracing, autoscaling policies) are listed by `no_effect()`, which
`run_config` logs once, by name: nothing is dropped without a word.
"""

from __future__ import annotations

import inspect
import os
import typing
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .config import (
    ConfigError,
    ControllerOptions,
    HTTPOptions,
    Location,
    describe_error,
    gRPCOptions,
    validate_route_prefix,
)
from .deployment import Application, Deployment
from .schema import DeploymentSchema, LoggingConfig, TracingConfig, _check_import_path

__all__ = ["ApplicationConfig", "ServeConfig", "apply_overrides", "builder_args", "load_config"]


class ApplicationConfig(BaseModel):
    """One entry of a config file's `applications` list (Ray's `ServeApplicationSchema`)."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    name: str = "default"
    route_prefix: str | None = "/"
    import_path: str
    args: dict[str, Any] = Field(default_factory=dict)
    runtime_env: dict[str, Any] = Field(default_factory=dict)
    deployments: list[DeploymentSchema] = Field(default_factory=list)
    logging_config: LoggingConfig | None = None
    autoscaling_policy: dict[str, Any] | None = None
    external_scaler_enabled: bool = False

    @field_validator("route_prefix")
    @classmethod
    def _check_prefix(cls, value: str | None) -> str | None:
        return validate_route_prefix(value)

    @field_validator("import_path")
    @classmethod
    def _import_path(cls, value: str) -> str:
        return _check_import_path(value)

    @property
    def env_vars(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in (self.runtime_env.get("env_vars") or {}).items()}


class ServeConfig(BaseModel):
    """A whole config file (Ray's `ServeDeploySchema`), with the reference's `HTTPOptions`."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    proxy_location: Location | None = None
    http_options: HTTPOptions = Field(default_factory=HTTPOptions)
    grpc_options: gRPCOptions | None = None
    controller_options: ControllerOptions | None = None
    logging_config: dict[str, Any] | None = None
    tracing_config: TracingConfig | None = None
    target_capacity: float | None = Field(default=None, ge=0, le=100)
    applications: list[ApplicationConfig] = Field(default_factory=list)

    @field_validator("applications")
    @classmethod
    def _unique(cls, apps: list[ApplicationConfig]) -> list[ApplicationConfig]:
        names = [a.name for a in apps]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"application names must be unique; repeated: {dupes}")
        prefixes = [a.route_prefix for a in apps if a.route_prefix is not None]
        dupes = sorted({p for p in prefixes if prefixes.count(p) > 1})
        if dupes:
            raise ValueError(f"route prefixes must be unique; repeated: {dupes}")
        return apps

    def no_effect(self) -> list[str]:
        """The fields set in the file that change nothing in one process, by name."""
        found = [
            f for f in ("grpc_options", "controller_options", "tracing_config", "target_capacity") if _set(self, f)
        ]
        for app in self.applications:
            found += [
                f"applications[{app.name}].{f}"
                for f in ("autoscaling_policy", "external_scaler_enabled")
                if _set(app, f)
            ]
            extra_env = sorted(set(app.runtime_env) - {"env_vars"})
            found += [f"applications[{app.name}].runtime_env.{key}" for key in extra_env]
        return found


def _set(model: BaseModel, field: str) -> bool:
    return field in model.model_fields_set and getattr(model, field) not in (None, False)


def load_config(source: str | os.PathLike[str] | Mapping[str, Any]) -> ServeConfig:
    """Read and validate a Serve config file (YAML or JSON path) or an equivalent dict."""
    if isinstance(source, Mapping):
        data: Any = dict(source)
        what = "Serve config"
    else:
        import yaml  # only config files need it

        path = Path(source)
        what = f"Serve config file {str(path)!r}"
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as err:
            raise ConfigError(f"Cannot read {what}: {err.strerror}") from None
        except yaml.YAMLError as err:
            raise ConfigError(f"{what} is not valid YAML: {err}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{what} must be a mapping with 'http_options' and 'applications', got {type(data).__name__}")
    try:
        return ServeConfig(**data)
    except ValidationError as err:
        raise ConfigError(describe_error(err, what, ServeConfig)) from None


def builder_args(builder: Any, args: Mapping[str, Any]) -> Any:
    """The `args` a builder gets: as a dict, or validated into the pydantic model its first
    parameter is annotated with (as Ray does; a bad value raises pydantic's error)."""
    try:
        first = next(iter(inspect.signature(builder).parameters.values()))
    except (StopIteration, TypeError, ValueError):
        return dict(args)
    annotation = first.annotation
    if isinstance(annotation, str):
        try:
            annotation = typing.get_type_hints(builder).get(first.name, annotation)
        except Exception:
            return dict(args)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation.model_validate(dict(args))
    return dict(args)


def apply_overrides(app: Application, overrides: list[DeploymentSchema], app_name: str) -> None:
    """Give each deployment of `app`'s graph the options its `deployments:` entry sets, on
    top of those in code (a deployment the graph does not have is an error, as on Ray)."""
    nodes: dict[str, list[Application]] = {}
    for node in app.walk():
        nodes.setdefault(node.deployment.name, []).append(node)
    for override in overrides:
        if override.name not in nodes:
            raise ConfigError(
                f"Got config override for nonexistent deployment '{override.name}' in application "
                f"'{app_name}'; its deployments: {sorted(nodes)}"
            )
        options = override.model_dump(exclude_unset=True, exclude={"name"})
        for node in nodes[override.name]:
            node.deployment = _with_options(node.deployment, options)


def _with_options(dep: Deployment, options: dict[str, Any]) -> Deployment:
    share = options.pop("rolling_update_percentage", None)  # config files may set it, .options() not
    if isinstance(options.get("ray_actor_options"), dict):
        options["ray_actor_options"] = {k: v for k, v in options["ray_actor_options"].items() if v is not None}
    changed = dep.options(**options) if options else dep
    if share is not None:
        changed._options = replace(changed._options, rolling_update_percentage=share)
    return changed
