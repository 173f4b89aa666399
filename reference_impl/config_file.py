"""Serve config files (`serve build` output, KubeRay's `serveConfigV2`), read as Ray 2.60
reads them, and applied to the applications they name.

Every field Ray accepts is accepted. Those that act in one process act as on Ray: an
application's `deployments:` overrides the options its code gave (num_replicas,
user_config, max_ongoing_requests, …), `args` reach the builder (validated into its
pydantic model when it declares one), `runtime_env.env_vars` are set before the app is
imported. Those that only matter on a cluster (gRPC port, the controller's options,
`target_capacity`, tracing, autoscaling policies) are listed by `no_effect()`, which
`run_config` logs once, by name. Fields Ray's schema does not have, which Ray ignores,
are ignored too and named in the log by `load_config`: nothing is dropped without a word.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import typing
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ValidationError

from .config import ConfigError, HTTPOptions, ProxyLocation, describe_error, validate_route_prefix
from .deployment import Application, Deployment
from .schema import DeploymentSchema, HTTPOptionsSchema, ServeApplicationSchema, ServeDeploySchema

__all__ = [
    "ServeConfig",
    "apply_overrides",
    "builder_args",
    "code_version",
    "env_vars",
    "load_config",
    "no_effect",
    "overridden_deployments",
    "start_options",
    "unknown_fields",
]

logger = logging.getLogger("reference_impl")


ServeConfig = ServeDeploySchema  # the one config model, Ray's


def no_effect(config: ServeDeploySchema) -> list[str]:
    """The fields set in the config that change nothing in one process, by name."""
    found = [f for f in ("grpc_options", "controller_options", "tracing_config", "target_capacity") if _set(config, f)]
    if config.proxy_location == ProxyLocation.Disabled:
        found.append("proxy_location: Disabled (the reference always serves HTTP)")
    for app in config.applications:
        found += [
            f"applications[{app.name}].{f}" for f in ("autoscaling_policy", "external_scaler_enabled") if _set(app, f)
        ]
        extra_env = sorted(set(app.runtime_env) - {"env_vars"})
        found += [f"applications[{app.name}].runtime_env.{key}" for key in extra_env]
    return found


def env_vars(app: ServeApplicationSchema) -> dict[str, str]:
    """An application's `runtime_env.env_vars`, which one process can set (before import)."""
    return {str(k): str(v) for k, v in (app.runtime_env.get("env_vars") or {}).items()}


def _set(model: BaseModel, field: str) -> bool:
    return field in model.model_fields_set and getattr(model, field) not in (None, False)


def unknown_fields(data: Any, model: type[BaseModel] = ServeDeploySchema, where: str = "") -> list[str]:
    """The keys of `data` that `model` (and the models nested in it) has no field for: Ray's
    config models ignore them, so they are named rather than lost without a word."""
    if not isinstance(data, Mapping):
        return []
    found: list[str] = []
    fields = dict(model.model_fields)
    if model is HTTPOptionsSchema:  # the reference's own HTTP options act here
        fields |= HTTPOptions.model_fields
    aliases = {f.alias: name for name, f in fields.items() if f.alias}
    for key, value in data.items():
        name = aliases.get(key, key)
        label = f"{where}.{key}" if where else str(key)
        if name not in fields:
            found.append(label)
            continue
        nested = _model_of(fields[name].annotation)
        if nested is None:
            continue
        if isinstance(value, list):
            for i, item in enumerate(value):
                found += unknown_fields(item, nested, _item_label(label, item, i))
        else:
            found += unknown_fields(value, nested, label)
    return found


def _item_label(label: str, item: Any, index: int) -> str:
    name = item.get("name") if isinstance(item, Mapping) else None
    return f"{label}[{name if name is not None else index}]"


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model a field holds (directly, optionally or as a list of them)."""
    candidates = [annotation, *typing.get_args(annotation)]
    for candidate in candidates:
        for inner in [candidate, *typing.get_args(candidate)]:
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                return inner
    return None


def load_config(source: str | os.PathLike[str] | Mapping[str, Any]) -> ServeDeploySchema:
    """Read and validate a Serve config file (YAML or JSON path) or an equivalent dict, as
    Ray's `ServeDeploySchema`; the fields Ray ignores are logged, by name."""
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
        config = ServeDeploySchema.model_validate(data)
    except ValidationError as err:
        raise ConfigError(describe_error(err, what, ServeDeploySchema)) from None
    _check_as_deploy_does(config, what)
    unknown = unknown_fields(data)
    if unknown:
        logger.warning(
            "%s: fields Ray's config schema does not have, ignored as Ray ignores them: %s", what, ", ".join(unknown)
        )
    return config


class _Served(BaseModel):
    route_prefix: Annotated[str | None, AfterValidator(validate_route_prefix)]


class _Deploy(BaseModel):
    """What Ray checks when it deploys a config, not when it parses one: HTTP options the
    proxy can start with, route prefixes it can serve. Checked here up front, so a bad file
    fails before anything starts, naming the field."""

    http_options: HTTPOptions
    applications: list[_Served]


def _check_as_deploy_does(config: ServeDeploySchema, what: str) -> None:
    try:
        _Deploy(
            http_options=_http_fields(config),
            applications=[{"route_prefix": app.route_prefix} for app in config.applications],
        )
    except ValidationError as err:
        raise ConfigError(describe_error(err, what, _Deploy)) from None


def _http_fields(config: ServeDeploySchema) -> dict[str, Any]:
    given = config.http_options.model_dump(exclude_unset=True)
    return {k: v for k, v in given.items() if k in HTTPOptions.model_fields}


def start_options(config: ServeDeploySchema) -> HTTPOptions:
    """The reference's `HTTPOptions` from the file's `http_options`: the fields it sets
    (the reference binds loopback unless told otherwise); keys Ray ignores are left out."""
    return HTTPOptions(**_http_fields(config))


def code_version(app: ServeApplicationSchema) -> str:
    """What Ray hashes as an application's code version: a redeploy that keeps it updates
    the running replicas in place instead of rebuilding the app."""
    deployments = app.deployments
    encoded = json.dumps(
        {
            "import_path": app.import_path,
            "runtime_env": app.runtime_env,
            "args": app.args,
            "autoscaling_policy": app.autoscaling_policy,
            "deployment_autoscaling_policies": [
                d.autoscaling_config.get("policy") for d in deployments if isinstance(d.autoscaling_config, dict)
            ],
            "request_router_configs": [
                d.request_router_config for d in deployments if isinstance(d.request_router_config, dict)
            ],
            "deployment_actors": [d.deployment_actors for d in deployments if isinstance(d.deployment_actors, list)],
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


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


def apply_overrides(app: Application, overrides: list[DeploymentSchema], app_name: str) -> dict[str, Deployment]:
    """Give each deployment of `app`'s graph the options its `deployments:` entry sets, on
    top of those in code (a deployment the graph does not have is an error, as on Ray).
    Returns the deployments as the code defines them, by name."""
    nodes: dict[str, list[Application]] = {}
    for node in app.walk():
        nodes.setdefault(node.deployment.name, []).append(node)
    code = {name: found[0].deployment for name, found in nodes.items()}
    overridden = overridden_deployments(code, overrides, app_name)
    for name, found in nodes.items():
        for node in found:
            node.deployment = overridden[name]
    return code


def overridden_deployments(
    code: Mapping[str, Deployment], overrides: list[DeploymentSchema], app_name: str
) -> dict[str, Deployment]:
    """Each deployment with the options of its `deployments:` entry on top of the code's."""
    found = dict(code)
    for override in overrides:
        if override.name not in code:
            raise ConfigError(
                f"Got config override for nonexistent deployment '{override.name}' in application "
                f"'{app_name}'; its deployments: {sorted(code)}"
            )
        options = override.model_dump(exclude_unset=True, exclude={"name"})
        found[override.name] = _with_options(code[override.name], options)
    return found


def _with_options(dep: Deployment, options: dict[str, Any]) -> Deployment:
    share = options.pop("rolling_update_percentage", None)  # config files may set it, .options() not
    if isinstance(options.get("ray_actor_options"), dict):
        options["ray_actor_options"] = {k: v for k, v in options["ray_actor_options"].items() if v is not None}
    changed = dep.options(**options) if options else dep
    if share is not None:
        changed._options = replace(changed._options, rolling_update_percentage=share)
    return changed
