"""`from reference_impl import serve`: the Ray Serve API, on the reference implementation.

Under the Ray alias (`reference_impl.ray_alias`), this module is `ray.serve`.
Names Ray has and the reference does not raise an AttributeError that says so.
"""

from __future__ import annotations

import importlib
from typing import Any

from starlette.requests import Request

from . import exceptions
from .api import (
    RunTarget,
    delete,
    get_app_handle,
    get_deployment_handle,
    run,
    run_config,
    run_many,
    shutdown,
    shutdown_async,
    start,
    status,
)
from .batching import batch
from .config import ControllerOptions, HTTPOptions
from .context import get_multiplexed_model_id, get_replica_context
from .deployment import Application, Deployment, deployment
from .exceptions import RequestCancelledError
from .handle import DeploymentHandle, DeploymentResponse, DeploymentResponseGenerator
from .ingress import ingress
from .multiplex import multiplexed
from .ray_names import RAY_NAMES
from .schema import TracingConfig  # Ray exports it at top level too
from .unavailable import ray_names_getattr

__all__ = [
    "Application",
    "ControllerOptions",
    "Deployment",
    "DeploymentHandle",
    "DeploymentResponse",
    "DeploymentResponseGenerator",
    "HTTPOptions",
    "Request",
    "RequestCancelledError",
    "RunTarget",
    "TracingConfig",
    "batch",
    "delete",
    "deployment",
    "exceptions",
    "get_app_handle",
    "get_deployment_handle",
    "get_multiplexed_model_id",
    "get_replica_context",
    "ingress",
    "multiplexed",
    "run",
    "run_config",
    "run_many",
    "shutdown",
    "shutdown_async",
    "start",
    "status",
]

# Submodules apps reach as attributes (`serve.schema.LoggingConfig`), imported on use.
_SUBMODULES = frozenset({"batching", "config", "context", "handle", "metrics", "multiplex", "schema"})
_ray_name = ray_names_getattr("ray.serve")


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__package__}.{name}")
    if name in RAY_NAMES["ray.serve"]:
        return _ray_name(name)  # Ray has it, the reference does not: an error when used
    raise AttributeError(
        f"`serve.{name}` is not implemented by the reference implementation "
        "(pytest-serve's docs/ray-api-coverage.md lists what is); run this code on real "
        "Ray with `--serve-impl=ray`."
    )
