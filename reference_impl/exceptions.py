"""Exceptions raised by the reference implementation (`ray.serve.exceptions`).

    RayServeException (alias ServeError)
    ├── BackPressureError       `max_queued_requests` requests wait already
    ├── RequestCancelledError   a DeploymentResponse was cancelled (a ray.exceptions.TaskCancelledError too)
    ├── DeploymentStartError    a replica constructor (or lifespan startup) raised
    ├── DeploymentUnavailableError  the deployment failed to deploy and has no replica
    ├── ServeNotRunningError    an API call needs a running instance
    └── AddressUnavailableError the proxy cannot bind its host:port

The first three carry Ray 2.60's names, arguments and messages, so code that
catches them runs unchanged.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .ray_exceptions import TaskCancelledError
from .unavailable import ray_names_getattr

__all__ = [
    "AddressUnavailableError",
    "BackPressureError",
    "DeploymentStartError",
    "DeploymentUnavailableError",
    "RayServeException",
    "RequestCancelledError",
    "ServeError",
    "ServeNotRunningError",
    "retry_after",
]


class RayServeException(Exception):
    """Base class of every error Serve raises itself (Ray's name)."""


ServeError = RayServeException


class BackPressureError(RayServeException):
    """More than `max_queued_requests` requests would wait; HTTP clients get 503."""

    def __init__(
        self,
        num_queued_requests: int,
        max_queued_requests: int,
        status_code: int = 503,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(num_queued_requests, max_queued_requests, status_code, retry_after_s)
        self.status_code = status_code
        self.retry_after_s = retry_after_s
        self.message = (
            f"Request dropped due to backpressure (num_queued_requests={num_queued_requests}, "
            f"max_queued_requests={max_queued_requests})."
        )

    def __str__(self) -> str:
        return self.message


def retry_after(seconds: float) -> str:
    """A `Retry-After` value as Ray writes it: whole seconds, rounded up, never negative."""
    return str(max(0, math.ceil(seconds)))


class RequestCancelledError(RayServeException, TaskCancelledError):
    """The request behind a `DeploymentResponse` was cancelled (Ray's name and message)."""

    def __init__(self, request_id: str | None = None) -> None:
        Exception.__init__(self, *([request_id] if request_id else []))
        self.request_id = request_id

    def __str__(self) -> str:
        if self.request_id:
            return f"Request {self.request_id} was cancelled."
        return "Request was cancelled."


class DeploymentStartError(RayServeException, RuntimeError):
    """A deploy failed: a replica's constructor, lifespan startup or first health
    check raised three times in a row. The app stays, in status DEPLOY_FAILED.

    A RuntimeError too, as Ray's `serve.run` raises for a failed deploy."""


class DeploymentUnavailableError(RayServeException):
    """The deployment failed to deploy and has no running replica (Ray's name and
    message); HTTP clients get 503."""

    def __init__(self, deployment_id: object) -> None:
        super().__init__(deployment_id)
        self.deployment_id = deployment_id

    @property
    def message(self) -> str:
        return f"{self.deployment_id} is unavailable because it failed to deploy."

    def __str__(self) -> str:
        return self.message


class ServeNotRunningError(RayServeException):
    """The call needs `serve.start()` or `serve.run()` first."""


class AddressUnavailableError(RayServeException):
    """The proxy cannot listen on the configured address (port taken, bad host)."""


# Ray's names this module lacks: importing them works, using them says to run on Ray
# (hidden from type checkers, which would otherwise accept any name from this module).
if not TYPE_CHECKING:
    __getattr__ = ray_names_getattr("ray.serve.exceptions")
