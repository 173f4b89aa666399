"""`from reference_impl import serve`: the Ray Serve API subset of the HTTP guide."""

from __future__ import annotations

from starlette.requests import Request

from .api import (
    delete,
    get_app_handle,
    get_deployment_handle,
    run,
    run_config,
    shutdown,
    start,
    status,
)
from .config import HTTPOptions
from .deployment import Application, Deployment, deployment
from .exceptions import RequestCancelledError
from .handle import DeploymentHandle, DeploymentResponse
from .ingress import ingress
from . import exceptions

__all__ = [
    "Application",
    "Deployment",
    "DeploymentHandle",
    "DeploymentResponse",
    "HTTPOptions",
    "Request",
    "RequestCancelledError",
    "delete",
    "deployment",
    "exceptions",
    "get_app_handle",
    "get_deployment_handle",
    "ingress",
    "run",
    "run_config",
    "shutdown",
    "start",
    "status",
]
