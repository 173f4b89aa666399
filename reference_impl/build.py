"""`reference-serve build`: the config file Ray's `serve build` writes for an app.

The same fields in the same order as Ray 2.60's (checked against Ray's own output in the
Ray step of CI): Ray's defaults for the instance, one application per import path
(`app1`, `app2`, …), and per deployment, dependencies first, the options its code sets
(here: those that differ from Ray's defaults; one set explicitly to its default value is
not listed, where Ray lists it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from . import ray_yaml
from .api import import_attr
from .deployment import Application, Deployment, DeploymentOptions

__all__ = ["build_config", "render_yaml"]

RAY_VERSION = "2.60.0"
# The instance settings `serve build` writes, as Ray 2.60 writes them.
_INSTANCE: dict[str, Any] = {
    "proxy_location": "EveryNode",
    "http_options": {"host": "0.0.0.0", "port": 8000},
    "grpc_options": {"port": 9000, "grpc_servicer_functions": [], "enable_reflection": True},
    "logging_config": {
        "encoding": "TEXT",
        "log_level": "INFO",
        "logs_dir": None,
        "enable_access_log": True,
        "additional_log_standard_attrs": [],
    },
}
_DEFAULTS = {f.name: f.default for f in fields(DeploymentOptions) if f.name not in ("name", "ignored")}


def build_config(import_paths: Sequence[str]) -> dict[str, Any]:
    """The config of one application per import path (each an Application, or a builder
    that takes no arguments)."""
    applications = []
    for number, path in enumerate(import_paths, 1):
        target = import_attr(path)
        app = target if isinstance(target, Application) else target({})
        if not isinstance(app, Application):
            raise TypeError(f"{path!r} is not an Application or a builder of one (got {app!r})")
        applications.append(
            {
                "name": f"app{number}",
                "route_prefix": "/" if len(import_paths) == 1 else f"/app{number}",
                "import_path": path,
                "runtime_env": {},
                "deployments": [_deployment(d) for d in _dependencies_first(app)],
            }
        )
    return {**_INSTANCE, "applications": applications}


def _dependencies_first(app: Application) -> list[Deployment]:
    """Each deployment after those bound into it, in argument order (Ray's order)."""
    order: list[Deployment] = []

    def visit(node: Application) -> None:
        for child in node.bound():
            visit(child)
        if all(d.name != node.deployment.name for d in order):
            order.append(node.deployment)

    visit(app)
    return order


def _deployment(dep: Deployment) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": dep.name}
    options = dep.options_
    for name, default in _DEFAULTS.items():
        value = getattr(options, name)
        if value != default:
            entry[name] = value.model_dump() if hasattr(value, "model_dump") else value
    return entry


def render_yaml(config: dict[str, Any]) -> str:
    """The file as Ray writes it: its header line, then each top-level key apart."""
    header = f"# This file was generated using the `serve build` command on Ray v{RAY_VERSION}.\n\n"
    return header + ray_yaml.dump(config)
