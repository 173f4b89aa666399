"""Exceptions raised by the reference implementation.

    ServeError
    ├── RequestCancelledError   a DeploymentResponse was cancelled
    ├── DeploymentStartError    a replica constructor (or lifespan startup) raised
    ├── ServeNotRunningError    an API call needs a running instance
    └── AddressUnavailableError the proxy cannot bind its host:port
"""

from __future__ import annotations

__all__ = [
    "ServeError",
    "RequestCancelledError",
    "DeploymentStartError",
    "ServeNotRunningError",
    "AddressUnavailableError",
]


class ServeError(Exception):
    """Base class of every error the reference implementation raises itself."""


class RequestCancelledError(ServeError):
    """The request behind a `DeploymentResponse` was cancelled (Ray's name and message)."""

    def __init__(self, request_id: str) -> None:
        super().__init__(f"Request {request_id} was cancelled.")
        self.request_id = request_id


class DeploymentStartError(ServeError):
    """A deployment's replica could not start; nothing of its app stays deployed."""


class ServeNotRunningError(ServeError):
    """The call needs `serve.start()` or `serve.run()` first."""


class AddressUnavailableError(ServeError):
    """The proxy cannot listen on the configured address (port taken, bad host)."""
